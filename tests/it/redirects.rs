//! Old WordPress addresses answer a 301 to their new home (issue 14):
//! `content/redirects.toml` entries, suffixes on them, the built-in rules,
//! and the addresses that must stay 404.
use std::path::Path;

use crate::helpers::*;

const REDIRECTS: &str = r#"# Old addresses and their new home on this site (301). Edit freely.
[redirects]
"/2024/05/14/first-month-after-a-breakup/" = "/articles/first-month-after-a-breakup"
"/2024/05/03/no-contact-isnt-a-punishment/" = "/articles/no-contact-is-not-a-punishment"
"/?p=101" = "/articles/first-month-after-a-breakup"
"/?page_id=2" = "/about"
"/about/" = "/about"
"/category/healing/" = "/tags/healing"
"/?cat=4" = "/tags/healing"
"/tag/%e5%bf%83%e3%81%ae%e5%82%b7/" = "/tags/心の傷"
"/tag/naive-hope/" = "/tags/naïve-hope"
"/author/maya/" = "/about"
"/?author=1" = "/about"
"/?attachment_id=100" = "/media/2024/05/first-month-chart.png"
"/my-old-name" = "/articles/no-contact-is-not-a-punishment"
"#;

fn site(dir: &Path) {
    write_article(
        dir,
        "first-month-after-a-breakup.md",
        "title = \"The first month\"\ndate = 2024-05-14\ntags = [\"Healing\", \"naïve hope\", \"心の傷\"]",
        "What the first month feels like.",
    );
    write_article(
        dir,
        "no-contact-is-not-a-punishment.md",
        "title = \"No contact\"\ndate = 2024-05-03\ntags = [\"Healing\"]",
        "Silence helps.",
    );
    write_page(dir, "about.md", "About", "Maya.");
    let media = dir.join("media/2024/05");
    std::fs::create_dir_all(&media).unwrap();
    // Real pictures: the media library checks files by their content.
    let uploads = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/wordpress/uploads/2024/05");
    for name in ["evening-walk.jpg", "first-month-chart.png"] {
        std::fs::copy(uploads.join(name), media.join(name)).unwrap();
    }
    std::fs::write(dir.join("redirects.toml"), REDIRECTS).unwrap();
}

async fn location(app: &TestApp, path: &str) -> (u16, Option<String>) {
    let res = app.get(path).await;
    let status = res.status().as_u16();
    let location = res
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_string());
    (status, location)
}

#[actix_web::test]
async fn old_addresses_answer_301_to_their_new_home() {
    let app = spawn_with_content(site).await;
    let first = "/articles/first-month-after-a-breakup";
    let cases = [
        ("/2024/05/14/first-month-after-a-breakup/", first),
        ("/2024/05/14/first-month-after-a-breakup", first),
        ("/2024/05/14/First-Month-After-A-Breakup/", first),
        (
            "/2024/05/03/no-contact-isnt-a-punishment/",
            "/articles/no-contact-is-not-a-punishment",
        ),
        ("/?p=101", first),
        ("/?p=101&replytocom=31", &format!("{first}#comment-31")),
        ("/index.php?p=101", first),
        ("/?page_id=2", "/about"),
        ("/about/", "/about"),
        ("/category/healing/", "/tags/healing"),
        ("/category/healing/page/2/", "/tags/healing"),
        ("/?cat=4", "/tags/healing"),
        (
            "/tag/%E5%BF%83%E3%81%AE%E5%82%B7/",
            "/tags/%E5%BF%83%E3%81%AE%E5%82%B7",
        ),
        (
            "/tag/%e5%bf%83%e3%81%ae%e5%82%b7/",
            "/tags/%E5%BF%83%E3%81%AE%E5%82%B7",
        ),
        ("/tag/naive-hope/", "/tags/na%C3%AFve-hope"),
        ("/author/maya/", "/about"),
        ("/?author=1", "/about"),
        (
            "/?attachment_id=100",
            "/media/2024/05/first-month-chart.png",
        ),
        ("/my-old-name/", "/articles/no-contact-is-not-a-punishment"),
        (
            "/2024/05/14/first-month-after-a-breakup/feed/",
            "/articles/first-month-after-a-breakup/comments.xml",
        ),
        (
            "/2024/05/14/first-month-after-a-breakup/comment-page-2/",
            first,
        ),
        ("/2024/05/14/first-month-after-a-breakup/2/", first),
        ("/2024/05/14/first-month-after-a-breakup/amp/", first),
        ("/category/healing/feed/", "/feed.xml"),
        ("/tag/grief/feed/", "/feed.xml"),
        ("/feed/", "/feed.xml"),
        ("/feed/rss2/", "/feed.xml"),
        ("/feed/atom/", "/feed.xml"),
        ("/rss/", "/feed.xml"),
        ("/?feed=rss2", "/feed.xml"),
        ("/comments/feed/", "/comments.xml"),
        ("/?feed=comments-rss2", "/comments.xml"),
        ("/?s=grief", "/search?q=grief"),
        ("/?s=no+contact%20%26+more", "/search?q=no+contact+%26+more"),
        ("/wp-sitemap.xml", "/sitemap.xml"),
        ("/sitemap_index.xml", "/sitemap.xml"),
        (
            "/wp-content/uploads/2024/05/first-month-chart.png",
            "/media/2024/05/first-month-chart.png",
        ),
        (
            "/wp-content/uploads/2024/05/evening-walk-300x200.jpg",
            "/media/2024/05/evening-walk.jpg",
        ),
    ];
    for (old, new) in cases {
        let res = app.get(old).await;
        assert_eq!(res.status(), 301, "{old}");
        assert_eq!(res.headers()["location"], new, "{old}");
        assert_eq!(
            res.headers()["cache-control"],
            "public, max-age=86400",
            "{old}"
        );
        // The security headers every answer carries.
        assert_eq!(res.headers()["x-content-type-options"], "nosniff", "{old}");
    }
    // The new homes are really there.
    for new in [first, "/about", "/tags/healing", "/tags/na%C3%AFve-hope"] {
        assert_eq!(app.get(new).await.status(), 200, "{new}");
    }
}

#[actix_web::test]
async fn head_is_redirected_too_and_other_methods_are_not() {
    let app = spawn_with_content(site).await;
    let url = format!("{}/2024/05/14/first-month-after-a-breakup/", app.address);
    let res = app.client.head(&url).send().await.unwrap();
    assert_eq!(res.status(), 301);
    assert_eq!(
        res.headers()["location"],
        "/articles/first-month-after-a-breakup"
    );
    let res = app
        .client
        .head(format!("{}/?p=101", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 301);
    let res = app.client.post(&url).send().await.unwrap();
    assert_eq!(res.status(), 404);
}

#[actix_web::test]
async fn some_addresses_stay_not_found() {
    let app = spawn_with_content(site).await;
    for path in [
        "/wp-login.php",
        "/wp-admin/",
        "/xmlrpc.php",
        "/wp-json/wp/v2/users",
        "/2024/",
        "/2024/05/",
        "/2024/05/14/",
        "/page/2/",
        "/author/sam/",
        "/2024/05/10/spring-workshop-dates/",
        "/wp-content/uploads/2024/05/missing.jpg",
        "/wp-content/uploads/2024/05/missing-300x200.jpg",
        "/wp-content/uploads/2024%2F..%2F..%2Fredirects.toml",
        "/articles/no-such-article",
        "/no/such/thing",
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 404, "{path}");
        assert!(res.headers().get("location").is_none(), "{path}");
        let body = res.text().await.unwrap();
        assert!(body.contains("We could not find that page"), "{path}");
    }
    // A query the map does not know leaves the home page as it is.
    assert_eq!(location(&app, "/?p=120").await, (200, None));
    assert_eq!(location(&app, "/?utm_source=x").await, (200, None));
}

#[actix_web::test]
async fn a_changed_map_applies_after_a_reload() {
    let app = spawn_with_content(site).await;
    assert_eq!(location(&app, "/old-name/").await.0, 404);
    std::fs::write(
        app.content_dir.join("redirects.toml"),
        "[redirects]\n\"/old-name\" = \"/about\"\n",
    )
    .unwrap();
    app.state.content.reload().unwrap();
    assert_eq!(
        location(&app, "/old-name/").await,
        (301, Some("/about".into()))
    );
    // The entries of before are gone; the built-in rules stay.
    assert_eq!(location(&app, "/?p=101").await.0, 200);
    assert_eq!(
        location(&app, "/feed/").await,
        (301, Some("/feed.xml".into()))
    );
}

#[test]
fn check_reports_redirect_problems_with_file_and_line() {
    let content = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    site(content.path());
    std::fs::write(
        content.path().join("redirects.toml"),
        "[redirects]\n\
         \"/2024/05/14/first-month-after-a-breakup/\" = \"/articles/first-month-after-a-breakup\"\n\
         \"/2022/01/16/starting-over/\" = \"/articles/starting-over\"\n\
         \"/evil/\" = \"//evil.example\"\n\
         \"/articles/first-month-after-a-breakup\" = \"/about\"\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kintsugi"))
        .arg("check")
        .env("KINTSUGI_CONTENT_DIR", content.path())
        .env("KINTSUGI_DATA_DIR", data.path())
        .env_remove("KINTSUGI_DATABASE_URL")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let file = content.path().join("redirects.toml").display().to_string();
    for expected in [
        format!("{file}:3: `/articles/starting-over` is not on this site: there is no article with the slug `starting-over`"),
        format!("{file}:4: `/evil/`: the new address `//evil.example` would leave this site"),
        format!("{file}:5: `/articles/first-month-after-a-breakup` is an address this site serves itself"),
    ] {
        assert!(
            stderr.lines().any(|l| l.starts_with(&expected)),
            "expected a line starting {expected:?} in:\n{stderr}"
        );
    }
    // The sample site's map is valid.
    site(content.path());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kintsugi"))
        .arg("check")
        .env("KINTSUGI_CONTENT_DIR", content.path())
        .env("KINTSUGI_DATA_DIR", data.path())
        .env_remove("KINTSUGI_DATABASE_URL")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
