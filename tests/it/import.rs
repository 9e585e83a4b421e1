//! `kintsugi import wordpress`: the fixture export (made the way WordPress
//! 6.8 writes it, see tests/fixtures/wordpress/README.md) imported into a
//! site with the sample content, then read back through the real server.
use std::path::{Path, PathBuf};

use crate::helpers::*;

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/wordpress")
        .join(rel)
}

fn run_import(app: &TestApp, extra: &[&str]) -> (bool, String, String) {
    let export = fixture("export.xml");
    let media = fixture("uploads");
    let mut args = vec![
        "import",
        "wordpress",
        export.to_str().unwrap(),
        "--media",
        media.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = cli(app, &args, "", &[]);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn read(app: &TestApp, rel: &str) -> String {
    std::fs::read_to_string(app.content_dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

async fn comment_total(app: &TestApp) -> i64 {
    kintsugi::db::run(&app.pool, kintsugi::db::comments::count_all)
        .await
        .unwrap()
}

#[actix_web::test]
async fn a_wordpress_blog_moves_in_with_its_articles_pictures_and_threads() {
    let app = spawn_app().await;
    let about_before = read(&app, "pages/about.md");

    // A dry run says everything and writes nothing.
    let (ok, out, err) = run_import(&app, &["--dry-run"]);
    assert!(ok, "{out}\n{err}");
    assert!(
        out.contains("Would import 10 articles (4 drafts, 1 scheduled)"),
        "{out}"
    );
    assert!(
        out.contains("would write content/articles/first-month-after-a-breakup.md"),
        "{out}"
    );
    assert!(out.contains("Dry run: nothing was written."), "{out}");
    assert!(!app
        .content_dir
        .join("articles/first-month-after-a-breakup.md")
        .exists());
    assert!(!app.content_dir.join("media/2024").exists());
    assert!(!app.content_dir.join("redirects.toml").exists());
    assert_eq!(comment_total(&app).await, 0);

    let (ok, out, err) = run_import(&app, &[]);
    assert!(ok, "the import and the check after it pass:\n{out}\n{err}");
    // 21 comments in the file: 2 pings skipped, 1 of a trashed post
    // skipped, 18 stored (1 pending, 1 spam, 2 trash, 5 by the coach).
    assert!(
        out.contains("Imported 10 articles (4 drafts, 1 scheduled), 1 page, 18 comments (1 pending, 1 spam, 2 trash, 5 by the coach; 2 pingbacks skipped), 3 images"),
        "{out}"
    );
    assert!(
        out.contains("kintsugi: content in") && out.contains("is valid"),
        "{out}"
    );
    // Everything left out is listed as file:line.
    let no_contact = "content/articles/no-contact-is-not-a-punishment.md";
    for what in [
        "the shortcode [contact-form-7",
        "a script dropped",
        "evil.jpg is not a JPEG, PNG, WebP or GIF picture",
        "YouTube embed kept as a link",
    ] {
        assert!(
            out.lines()
                .any(|l| l.starts_with(&format!("{no_contact}:")) && l.contains(what)),
            "`{what}` reported with its line:\n{out}"
        );
    }
    assert!(
        out.contains("content/pages/about.md: already exists, not overwritten"),
        "{out}"
    );
    assert!(
        out.contains("comment 38 answers comment 29, which is not in the export"),
        "{out}"
    );
    assert!(out.contains("old-sunrise-1024x683.jpg is not in"), "{out}");
    let cli_check = cli(&app, &["check"], "", &[]);
    assert!(
        cli_check.status.success(),
        "{}",
        String::from_utf8_lossy(&cli_check.stderr)
    );

    // The files: front matter from the GMT dates with the site's offset,
    // tags from categories and tags, the featured image, and clean Markdown.
    let first = read(&app, "articles/first-month-after-a-breakup.md");
    for expected in [
        "date = 2024-05-14T09:30:00+02:00",
        "updated = 2024-05-21T08:44:02+02:00",
        "slug = \"first-month-after-a-breakup\"",
        "summary = \"Week by week",
        "tags = [\"grief\", \"Healing\", \"naïve hope\", \"self-care\", \"Self-Worth\", \"Trennungsschmerz\", \"心の傷\"]",
        "\n<!-- more -->\n",
        "## Week one: the fog",
        "- Move your body for ten minutes:\n  1. a walk around the block counts,",
        "> — A client, five weeks in",
        "| Week | What it often feels like | What tends to help |\n| --- | --- | --- |",
        "![A hand-drawn line that dips, wobbles and then slowly climbs](@/media/2024/05/first-month-chart.png \"Healing is not a straight line.",
        "Days of no contact: [[ 12 ]]> keep counting, gently\n<3 to myself",
        "[No Contact Is Not a Punishment](@/articles/no-contact-is-not-a-punishment.md)",
        "(@/articles/starting-over.md)",
        "(@/articles/five-small-comforts.md)",
        "(https://www.youtube.com/watch?v=",
        "💔",
    ] {
        assert!(first.contains(expected), "missing {expected:?} in:\n{first}");
    }
    for never in ["<iframe", "<script", "wp:", "<!-- wp", "oldblog.example"] {
        assert!(!first.contains(never), "{never:?} left in:\n{first}");
    }
    let no_contact_md = read(&app, "articles/no-contact-is-not-a-punishment.md");
    assert!(
        no_contact_md.contains("date = 2024-05-03T00:45:00+02:00"),
        "{no_contact_md}"
    );
    assert!(no_contact_md.contains("![A quiet path at dusk, lined with bare trees](@/media/2024/05/evening-walk.jpg \"The evening walk"), "{no_contact_md}");
    assert!(
        no_contact_md.contains("When the urge comes late at night,\\\nput the phone"),
        "{no_contact_md}"
    );
    assert!(
        !no_contact_md.contains("alert") && !no_contact_md.contains("evil.jpg"),
        "{no_contact_md}"
    );
    let comforts = read(&app, "articles/five-small-comforts.md");
    assert!(comforts.contains("image = \"@/media/2024/05/golden-seams-bowl.jpg\"\nimage_alt = \"A cream bowl mended with a thin line of gold\""), "{comforts}");
    let later = read(&app, "articles/starting-over-2025.md");
    assert!(later.contains("\"Love & Loss\""), "{later}");
    assert!(read(&app, "articles/letters-you-write-and-never-send.md").contains("draft = true"));
    assert!(read(&app, "articles/group-coaching-resources.md").contains("draft = true"));
    let sam = read(&app, "articles/when-your-friends-pick-sides.md");
    assert!(
        sam.contains("draft = true") && sam.contains("author = \"Sam Okafor\""),
        "{sam}"
    );
    let spring = read(&app, "articles/gentle-30-day-spring-reset.md");
    assert!(
        spring.contains("date = 2027-03-01T08:00:00+01:00") && !spring.contains("draft"),
        "{spring}"
    );
    assert!(!app
        .content_dir
        .join("articles/spring-workshop-dates.md")
        .exists());
    assert_eq!(
        read(&app, "pages/about.md"),
        about_before,
        "never overwritten silently"
    );
    assert!(read(&app, "pages/privacy-policy.md").contains("title = \"Privacy Policy\""));
    // Pictures: checked by content, the photo's location taken out.
    let bowl = std::fs::read(app.content_dir.join("media/2024/05/golden-seams-bowl.jpg")).unwrap();
    assert!(bowl.starts_with(&[0xFF, 0xD8]));
    assert!(!bowl.windows(4).any(|w| w == b"Exif"), "EXIF (GPS) removed");
    assert!(!app.content_dir.join("media/2024/05/evil.jpg").exists());

    // Read back through the site.
    app.state
        .content
        .reload()
        .expect("the imported content loads");
    let (status, page) = app.page("/articles/first-month-after-a-breakup").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("id=\"comment-31\""),
        "WordPress ids kept as anchors"
    );
    assert!(page.contains("Soup. From a can."), "{page}");
    assert!(
        page.contains("comment--coach"),
        "the coach's replies carry the badge"
    );
    assert!(
        !page.contains("Weeks two and three</strong> were exactly me"),
        "pending stays hidden"
    );
    assert!(!page.contains("cheap watches"), "spam stays hidden");
    assert!(
        page.contains("Replying to a comment that has since been deleted"),
        "the orphan is shown at the top level"
    );
    let (status, page) = app.page("/articles/starting-over-2025").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("Welcome back. The second time you know the way."),
        "{page}"
    );

    // Every old address answers 301 to its new home; old admin and
    // archive addresses stay 404; never-public posts lead nowhere.
    for (old, new) in [
        (
            "/2024/05/14/first-month-after-a-breakup/",
            "/articles/first-month-after-a-breakup",
        ),
        (
            "/2024/05/14/first-month-after-a-breakup",
            "/articles/first-month-after-a-breakup",
        ),
        ("/2022/01/16/starting-over/", "/articles/starting-over"),
        ("/starting-over/", "/articles/starting-over"),
        (
            "/first-month-after-a-breakup",
            "/articles/first-month-after-a-breakup",
        ),
        ("/2025/11/09/starting-over/", "/articles/starting-over-2025"),
        (
            "/2024/05/03/no-contact-isnt-a-punishment/",
            "/articles/no-contact-is-not-a-punishment",
        ),
        (
            "/2024/05/14/first-month-after-a-breakup/comment-page-2/",
            "/articles/first-month-after-a-breakup",
        ),
        (
            "/2024/05/14/first-month-after-a-breakup/feed/",
            "/articles/first-month-after-a-breakup/comments.xml",
        ),
        ("/?p=101", "/articles/first-month-after-a-breakup"),
        (
            "/?p=101&replytocom=31",
            "/articles/first-month-after-a-breakup#comment-31",
        ),
        ("/?page_id=2", "/about"),
        ("/about/", "/about"),
        ("/?page_id=3", "/privacy-policy"),
        ("/privacy-policy/", "/privacy-policy"),
        ("/category/healing/", "/tags/healing"),
        ("/category/healing/self-worth/", "/tags/self-worth"),
        ("/category/love-loss/", "/tags/love-loss"),
        ("/?cat=4", "/tags/healing"),
        ("/tag/grief/", "/tags/grief"),
        ("/tag/naive-hope/", "/tags/na%C3%AFve-hope"),
        (
            "/tag/%E5%BF%83%E3%81%AE%E5%82%B7/",
            "/tags/%E5%BF%83%E3%81%AE%E5%82%B7",
        ),
        (
            "/tag/%e5%bf%83%e3%81%ae%e5%82%b7/",
            "/tags/%E5%BF%83%E3%81%AE%E5%82%B7",
        ),
        ("/?tag=grief", "/tags/grief"),
        ("/author/maya/", "/about"),
        ("/?author=1", "/about"),
        ("/feed/", "/feed.xml"),
        ("/comments/feed/", "/comments.xml"),
        ("/?s=grief", "/search?q=grief"),
        ("/wp-sitemap.xml", "/sitemap.xml"),
        (
            "/?attachment_id=100",
            "/media/2024/05/first-month-chart.png",
        ),
        (
            "/2024/05/14/first-month-after-a-breakup/first-month-chart/",
            "/media/2024/05/first-month-chart.png",
        ),
        (
            "/wp-content/uploads/2024/05/evening-walk-300x200.jpg",
            "/media/2024/05/evening-walk.jpg",
        ),
    ] {
        let res = app.get(old).await;
        assert_eq!(res.status(), 301, "{old}");
        let location = res.headers()["location"].to_str().unwrap().to_string();
        assert_eq!(location, new, "{old}");
        // The new home answers (a picture through its hashed address).
        let landed = app.get(new.split('#').next().unwrap()).await;
        assert!(
            [200, 302].contains(&landed.status().as_u16()),
            "{old} -> {new}: {}",
            landed.status()
        );
    }
    for gone in [
        "/author/sam/",
        "/wp-login.php",
        "/wp-admin/",
        "/2024/05/",
        "/2024/05/10/spring-workshop-dates/",
    ] {
        assert_eq!(app.get(gone).await.status(), 404, "{gone}");
    }
    let (status, home) = app.page("/?p=120").await;
    assert_eq!(
        status, 200,
        "a draft's old ?p= address is the home page, not the draft"
    );
    assert!(!home.contains("Letters You Write and Never Send"));
    let picture = app.get("/media/2024/05/evening-walk.jpg").await;
    assert_eq!(picture.status(), 302);
    let hashed = picture.headers()["location"].to_str().unwrap().to_string();
    let res = app.get(&hashed).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/jpeg");
    let (_, comforts_page) = app.page("/articles/five-small-comforts").await;
    assert!(
        comforts_page.contains("A cream bowl mended with a thin line of gold"),
        "featured image with its alt"
    );
    assert!(
        comforts_page.contains("width=\""),
        "pictures carry their size"
    );

    // The counts the triggers keep equal a recount.
    let total = comment_total(&app).await;
    assert_eq!(total, 18);
    for slug in [
        "first-month-after-a-breakup",
        "no-contact-is-not-a-punishment",
        "five-small-comforts",
        "starting-over",
        "starting-over-2025",
    ] {
        let s = slug.to_string();
        let (kept, counted) = kintsugi::db::run(&app.pool, move |conn| {
            Ok((
                kintsugi::db::comments::counts(conn, &s)?,
                kintsugi::db::comments::recount(conn, &s)?,
            ))
        })
        .await
        .unwrap();
        assert_eq!(kept, counted, "{slug}");
    }

    // A second run adds nothing and says so.
    let redirects_before = read(&app, "redirects.toml");
    let first_before = read(&app, "articles/first-month-after-a-breakup.md");
    let (ok, out, err) = run_import(&app, &[]);
    assert!(ok, "{out}\n{err}");
    assert!(
        out.contains("Imported 0 articles, 0 pages, 0 comments"),
        "{out}"
    );
    assert!(
        out.contains("already imported before: 11 files, 18 comments"),
        "{out}"
    );
    assert_eq!(comment_total(&app).await, 18);
    assert_eq!(read(&app, "redirects.toml"), redirects_before);
    assert_eq!(
        read(&app, "articles/first-month-after-a-breakup.md"),
        first_before
    );

    // A newer export of the same site: only its new comment comes in,
    // under the comment it answers.
    let newer = std::fs::read_to_string(fixture("export.xml"))
        .unwrap()
        .replacen(
            "<wp:comment_parent>41</wp:comment_parent>\n\t\t\t<wp:comment_user_id>1</wp:comment_user_id>\n\t\t\t\t\t\t\t</wp:comment>",
            "<wp:comment_parent>41</wp:comment_parent>\n\t\t\t<wp:comment_user_id>1</wp:comment_user_id>\n\t\t\t\t\t\t\t</wp:comment>\n\t\t\t\t\t<wp:comment>\n\t\t\t<wp:comment_id>60</wp:comment_id>\n\t\t\t<wp:comment_author><![CDATA[Jonas Weber]]></wp:comment_author>\n\t\t\t<wp:comment_author_email><![CDATA[jonas.w@example.org]]></wp:comment_author_email>\n\t\t\t<wp:comment_date><![CDATA[2024-05-22 09:00:00]]></wp:comment_date>\n\t\t\t<wp:comment_date_gmt><![CDATA[2024-05-22 07:00:00]]></wp:comment_date_gmt>\n\t\t\t<wp:comment_content><![CDATA[Anything by a band you never saw live together.]]></wp:comment_content>\n\t\t\t<wp:comment_approved><![CDATA[1]]></wp:comment_approved>\n\t\t\t<wp:comment_type><![CDATA[comment]]></wp:comment_type>\n\t\t\t<wp:comment_parent>42</wp:comment_parent>\n\t\t\t<wp:comment_user_id>0</wp:comment_user_id>\n\t\t\t\t\t\t\t</wp:comment>",
            1,
        );
    assert!(
        newer.contains("<wp:comment_id>60</wp:comment_id>"),
        "the fixture changed shape"
    );
    let dir = tempfile::tempdir().unwrap();
    let newer_file = dir.path().join("export-later.xml");
    std::fs::write(&newer_file, newer).unwrap();
    let media = fixture("uploads");
    let out = cli(
        &app,
        &[
            "import",
            "wordpress",
            newer_file.to_str().unwrap(),
            "--media",
            media.to_str().unwrap(),
            "--dry-run",
        ],
        "",
        &[],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Would import 0 articles, 0 pages, 1 comment ("),
        "{text}"
    );
    let out = cli(
        &app,
        &[
            "import",
            "wordpress",
            newer_file.to_str().unwrap(),
            "--media",
            media.to_str().unwrap(),
        ],
        "",
        &[],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("Imported 0 articles, 0 pages, 1 comment ("),
        "{text}"
    );
    assert_eq!(comment_total(&app).await, 19);
    let (row, _) = kintsugi::db::run(&app.pool, |conn| kintsugi::db::comments::find(conn, 60))
        .await
        .unwrap()
        .expect("comment 60 kept its number");
    assert_eq!(row.article_slug, "five-small-comforts");
    assert!(row.parent_id.is_some(), "threaded under the coach's reply");

    // A reader WordPress had approved is known here: published at once.
    let client = client();
    let token = comment_form_token(&app, &client, "five-small-comforts").await;
    let res = client
        .post(format!(
            "{}/articles/five-small-comforts/comments",
            app.address
        ))
        .header("X-Forwarded-For", "203.0.113.9")
        .form(&[
            ("name", "Priya Nair"),
            ("email", "priya.nair@example.com"),
            ("body", "Back again: the plant is still alive."),
            ("token", token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let id = posted_id(&res);
    let status: String = kintsugi::db::run(&app.pool, move |conn| {
        Ok(kintsugi::db::comments::find(conn, id)?
            .map(|(c, _)| c.status)
            .unwrap_or_default())
    })
    .await
    .unwrap();
    assert_eq!(status, "approved");
}

#[actix_web::test]
async fn a_database_failure_part_way_leaves_no_half_thread_and_a_rerun_finishes() {
    let app = spawn_app().await;
    {
        let _lock = WriteLock::hold(&app.database_url);
        let (ok, out, err) = run_import(&app, &[]);
        assert!(!ok, "the import stops:\n{out}\n{err}");
        assert!(
            err.contains("nothing was imported") || err.contains("cannot"),
            "{err}"
        );
    }
    assert_eq!(
        comment_total(&app).await,
        0,
        "no comment of a failed thread is kept"
    );
    let (ok, out, err) = run_import(&app, &[]);
    assert!(ok, "{out}\n{err}");
    assert_eq!(comment_total(&app).await, 18);
    for file in [
        "articles/starting-over.md",
        "articles/first-month-after-a-breakup.md",
        "articles/starting-over-2025.md",
        "pages/privacy-policy.md",
    ] {
        assert!(
            app.content_dir.join(file).is_file(),
            "{file} written by the second run"
        );
    }
    let (ok, out, _) = run_import(&app, &[]);
    assert!(ok && out.contains("0 comments"), "{out}");
    assert_eq!(comment_total(&app).await, 18);
}

#[actix_web::test]
async fn a_file_that_is_not_a_good_export_writes_nothing() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let whole = std::fs::read_to_string(fixture("export.xml")).unwrap();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "truncated.xml",
            whole[..whole.len() / 2].to_string(),
            "ownload",
        ),
        (
            "feed.xml",
            "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>x</title></channel></rss>"
                .into(),
            "not a WordPress export",
        ),
        (
            "page.html",
            "<!DOCTYPE html><html><body>hi</body></html>".into(),
            "DOCTYPE",
        ),
        ("notes.txt", "just some text".into(), "not an XML file"),
        (
            "bad-date.xml",
            whole.replacen(
                "<wp:post_date><![CDATA[2024-05-14 09:30:00]]>",
                "<wp:post_date><![CDATA[14.05.2024 09:30]]>",
                1,
            ),
            "is not a date like 2024-05-14 09:30:00",
        ),
    ];
    for (name, text, expected) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let out = cli(
            &app,
            &["import", "wordpress", path.to_str().unwrap()],
            "",
            &[],
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name}");
        assert!(err.contains(expected), "{name}: {err}");
        assert!(err.contains("nothing was imported"), "{name}: {err}");
        assert!(!app.content_dir.join("redirects.toml").exists(), "{name}");
        assert!(
            !app.content_dir.join("articles/starting-over.md").exists(),
            "{name}"
        );
        assert_eq!(comment_total(&app).await, 0, "{name}");
    }
    // An unknown WXR version: a warning, then the import goes on.
    let future = dir.path().join("future.xml");
    std::fs::write(
        &future,
        whole.replacen(
            "<wp:wxr_version>1.2</wp:wxr_version>",
            "<wp:wxr_version>1.9</wp:wxr_version>",
            1,
        ),
    )
    .unwrap();
    let out = cli(
        &app,
        &["import", "wordpress", future.to_str().unwrap(), "--dry-run"],
        "",
        &[],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("warning: this export says WXR version 1.9"),
        "{err}"
    );
    // The wrong date names its line.
    let bad = dir.path().join("bad-date.xml");
    let out = cli(
        &app,
        &["import", "wordpress", bad.to_str().unwrap()],
        "",
        &[],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.lines().any(|l| l
            .split_once("bad-date.xml:")
            .and_then(|(_, rest)| rest.split(':').next())
            .is_some_and(|n| n.parse::<usize>().is_ok())),
        "{err}"
    );
}
