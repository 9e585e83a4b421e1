//! The page cache: bytes in every encoding, conditional requests, and
//! every change visible on the very next request.
use std::io::Read;

use crate::helpers::*;

const SLUG: &str = "going-no-contact";

async fn anonymous(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut req = client().get(format!("{}{path}", app.address));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

/// Posts the comment form from `reader`'s browser with `fields` (the form
/// token is added), from address `ip`.
async fn post_from(
    app: &TestApp,
    reader: &reqwest::Client,
    ip: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let token = comment_form_token(app, reader, SLUG).await;
    let mut form: Vec<(&str, &str)> = fields.to_vec();
    form.push(("token", &token));
    reader
        .post(format!("{}/articles/{SLUG}/comments", app.address))
        .header("X-Forwarded-For", ip)
        .form(&form)
        .send()
        .await
        .unwrap()
}

/// The comment form's token in a page.
fn token_in(html: &str) -> String {
    html.split(r#"name="token" value=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_string()
}

async fn post_comment(app: &TestApp, email: &str, body: &str, ip: &str) -> i64 {
    let res = post_from(
        app,
        &client(),
        ip,
        &[("name", "Sam"), ("email", email), ("body", body)],
    )
    .await;
    posted_id(&res)
}

#[actix_web::test]
async fn pages_come_plain_gzip_or_brotli_with_their_own_etags_and_304s() {
    let app = spawn_app().await;
    for path in ["/", &format!("/articles/{SLUG}"), "/tags/healing"] {
        let plain = anonymous(&app, path, &[]).await;
        assert_eq!(plain.status(), 200, "{path}");
        assert!(plain.headers().get("content-encoding").is_none());
        let last_modified = plain.headers()["last-modified"]
            .to_str()
            .unwrap()
            .to_string();
        let plain_etag = plain.headers()["etag"].to_str().unwrap().to_string();
        assert_eq!(
            plain.headers()["cache-control"],
            "public, max-age=0, must-revalidate"
        );
        let plain_body = plain.text().await.unwrap();
        let strip_token = |s: &str| -> String {
            match s.split_once("name=\"token\" value=\"") {
                Some((a, b)) => format!("{a}{}", &b[b.find('"').unwrap()..]),
                None => s.to_string(),
            }
        };

        let br = anonymous(&app, path, &[("Accept-Encoding", "gzip, deflate, br")]).await;
        assert_eq!(br.headers()["content-encoding"], "br", "{path}");
        assert_eq!(br.headers()["vary"], "Accept-Encoding");
        let br_etag = br.headers()["etag"].to_str().unwrap().to_string();
        let compressed = br.bytes().await.unwrap();
        let mut unbr = Vec::new();
        brotli::BrotliDecompress(&mut &compressed[..], &mut unbr).unwrap();
        assert_eq!(
            strip_token(&String::from_utf8(unbr).unwrap()),
            strip_token(&plain_body)
        );

        let gz = anonymous(&app, path, &[("Accept-Encoding", "gzip")]).await;
        assert_eq!(gz.headers()["content-encoding"], "gzip");
        let gz_etag = gz.headers()["etag"].to_str().unwrap().to_string();
        let mut ungz = String::new();
        flate2::read::GzDecoder::new(&gz.bytes().await.unwrap()[..])
            .read_to_string(&mut ungz)
            .unwrap();
        assert_eq!(strip_token(&ungz), strip_token(&plain_body));
        assert!(plain_etag != br_etag && br_etag != gz_etag && plain_etag != gz_etag);

        // Conditional requests: 304, no body, for each encoding's tag.
        for (etag, encoding) in [
            (&plain_etag, "identity"),
            (&br_etag, "br"),
            (&gz_etag, "gzip"),
        ] {
            let res = anonymous(
                &app,
                path,
                &[("If-None-Match", etag), ("Accept-Encoding", encoding)],
            )
            .await;
            assert_eq!(res.status(), 304, "{path} {encoding}");
            assert!(res.bytes().await.unwrap().is_empty());
        }
        let res = anonymous(&app, path, &[("If-Modified-Since", &last_modified)]).await;
        assert_eq!(res.status(), 304, "{path}");
    }
}

#[actix_web::test]
async fn the_etag_survives_the_form_tokens_second_by_second_renewal() {
    let app = spawn_app().await;
    let path = format!("/articles/{SLUG}");
    let first = anonymous(&app, &path, &[]).await;
    let etag = first.headers()["etag"].to_str().unwrap().to_string();
    let body = first.text().await.unwrap();
    actix_web::rt::time::sleep(std::time::Duration::from_millis(2100)).await;
    let again = anonymous(&app, &path, &[]).await;
    let body_again = again.text().await.unwrap();
    assert_ne!(body, body_again, "a fresh form token");
    let res = anonymous(&app, &path, &[("If-None-Match", &etag)]).await;
    assert_eq!(res.status(), 304);
}

#[actix_web::test]
async fn every_change_is_visible_on_the_very_next_request() {
    let app = spawn_app().await;
    let article = format!("/articles/{SLUG}");
    let page = |path: String| {
        let app = &app;
        async move { anonymous(app, &path, &[]).await.text().await.unwrap() }
    };
    // Warm the cache.
    assert!(page(article.clone())
        .await
        .contains("Questions and comments"));
    assert!(!page("/".into()).await.contains("1 comment"));

    // A held comment changes nothing public; approving it shows it at once,
    // on the article and in the counts.
    let id = post_comment(&app, "sam@example.com", "First words.", "203.0.113.1").await;
    assert!(!page(article.clone()).await.contains("First words."));
    kintsugi::web::admin::moderation::approve_comment(&app.state, id, None)
        .await
        .unwrap();
    assert!(page(article.clone()).await.contains("First words."));
    assert!(page("/".into()).await.contains("1 comment"));
    assert!(page("/tags/no-contact".into()).await.contains("1 comment"));

    // A known writer is published at once: visible on the next request.
    post_comment(&app, "sam@example.com", "Second words.", "203.0.113.2").await;
    assert!(page(article.clone()).await.contains("Second words."));
    assert!(page("/".into()).await.contains("2 comments"));

    // Content changes (a reload) show at once too.
    app.write_article(
        "fresh.md",
        "title = \"A fresh article\"\ndate = 2026-01-01",
        "New words.",
    );
    app.state.content.reload().unwrap();
    assert!(page("/".into()).await.contains("A fresh article"));
}

#[actix_web::test]
async fn readers_get_their_own_part_without_defeating_the_cache() {
    let app = spawn_app().await;
    let article = format!("/articles/{SLUG}");
    let other = "/articles/living-with-your-ex";
    let _ = anonymous(&app, &article, &[]).await;
    // The writer asks to be remembered; their first comment is held.
    let reader = client();
    let res = post_from(
        &app,
        &reader,
        "203.0.113.5",
        &[
            ("name", "Kim"),
            ("email", "kim@example.com"),
            ("body", "Mine, pending."),
            ("remember", "1"),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    // On that article the page is theirs: their pending comment, rendered
    // for them and kept by their browser only.
    let own = reader
        .get(format!("{}{article}", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(own.headers()["cache-control"], "private, no-cache");
    let own = own.text().await.unwrap();
    assert!(own.contains("Mine, pending."));
    assert!(own.contains(r#"value="Kim""#));
    let stranger = anonymous(&app, &article, &[]).await;
    assert_eq!(
        stranger.headers()["cache-control"],
        "public, max-age=0, must-revalidate"
    );
    let stranger = stranger.text().await.unwrap();
    assert!(!stranger.contains("Mine, pending."));
    assert!(!stranger.contains("kim@example.com"));

    // On another article, their only personal part is their remembered
    // name and email: the shared cached page, with those in the form (the
    // same bytes: the same form token, whose nonce is new on every render).
    // A second boundary between the two requests would renew the entry, so
    // the check gets a few tries.
    let mut served_from_cache = false;
    for _ in 0..5 {
        let shared = anonymous(&app, other, &[]).await.text().await.unwrap();
        let before = app.state.page_cache.stats();
        let theirs = reader
            .get(format!("{}{other}", app.address))
            .header("Accept-Encoding", "gzip")
            .send()
            .await
            .unwrap();
        let after = app.state.page_cache.stats();
        assert_eq!(theirs.status(), 200);
        assert_eq!(theirs.headers()["cache-control"], "private, no-cache");
        assert_eq!(theirs.headers()["content-encoding"], "gzip");
        let bytes = theirs.bytes().await.unwrap();
        let mut html = String::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_string(&mut html)
            .unwrap();
        assert!(html.contains(r#"name="name" type="text" value="Kim""#));
        assert!(html.contains(r#"name="email" type="email" value="kim@example.com""#));
        assert!(html.contains(r#"name="remember" type="checkbox" value="1" checked"#));
        assert!(!html.contains("Mine, pending."));
        if after.misses == before.misses
            && after.hits == before.hits + 1
            && token_in(&html) == token_in(&shared)
        {
            served_from_cache = true;
            break;
        }
    }
    assert!(
        served_from_cache,
        "the remembered reader's page must come from the cache"
    );
    // The shared bytes never took their details.
    let shared = anonymous(&app, other, &[]).await.text().await.unwrap();
    assert!(!shared.contains("kim@example.com"));
    assert!(shared.contains(r#"name="name" type="text" value="""#));
}

/// A writer's own comments on an article are put into the cached page: a
/// held reply in its place under its parent, their published comment with
/// its links. Everything else is the shared page, byte for byte.
#[actix_web::test]
async fn a_writers_own_comments_are_put_into_the_cached_page() {
    let app = spawn_app().await;
    let article = format!("/articles/{SLUG}");
    let first = post_comment(&app, "pat@example.com", "A public question.", "203.0.113.7").await;
    kintsugi::web::admin::moderation::approve_comment(&app.state, first, None)
        .await
        .unwrap();
    let second = post_comment(&app, "lee@example.com", "Another one.", "203.0.113.8").await;
    kintsugi::web::admin::moderation::approve_comment(&app.state, second, None)
        .await
        .unwrap();
    // The writer: a held reply to the first comment (their first comment
    // waits for the coach), from their own browser.
    let writer = client();
    let parent = first.to_string();
    let res = post_from(
        &app,
        &writer,
        "203.0.113.9",
        &[
            ("name", "Robin"),
            ("email", "robin@example.com"),
            ("body", "My held reply."),
            ("parent", &parent),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    let reply_id = posted_id(&res);
    // Outside the comment list, the two pages are the same bytes.
    let outside = |html: &str| {
        let start = html.find(r#"<ol class="comment-list">"#).unwrap();
        let end = start + html[start..].find("</ol>").unwrap();
        format!("{}{}", &html[..start], &html[end..])
    };
    let mut checked = false;
    for _ in 0..5 {
        let shared = anonymous(&app, &article, &[]).await.text().await.unwrap();
        let before = app.state.page_cache.stats();
        let res = writer
            .get(format!("{}{article}", app.address))
            .send()
            .await
            .unwrap();
        let after = app.state.page_cache.stats();
        assert_eq!(res.headers()["cache-control"], "private, no-cache");
        let theirs = res.text().await.unwrap();
        // Their held reply, right after its parent, marked as waiting.
        let parent_at = theirs.find(&format!(r#"id="comment-{first}""#)).unwrap();
        let reply_at = theirs.find("My held reply.").unwrap();
        let second_at = theirs.find(&format!(r#"id="comment-{second}""#)).unwrap();
        assert!(parent_at < reply_at && reply_at < second_at);
        let reply_item = &theirs[theirs[..reply_at].rfind("<li ").unwrap()..second_at];
        assert!(reply_item.contains("comment--depth-1 comment--pending"));
        assert!(reply_item.contains("Waiting for the coach to read it"));
        assert!(reply_item.contains("Change or delete"));
        assert!(!shared.contains("My held reply."));
        if after.misses == before.misses && token_in(&theirs) == token_in(&shared) {
            assert_eq!(outside(&theirs), outside(&shared));
            checked = true;
            break;
        }
    }
    assert!(checked, "the writer's page must come from the cache");
    // The entry remembers the writer's part; the coach publishing their
    // reply drops it with the entry, so the very next page shows it
    // published, not waiting.
    kintsugi::web::admin::moderation::approve_comment(&app.state, reply_id, None)
        .await
        .unwrap();
    let theirs = writer
        .get(format!("{}{article}", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let reply_at = theirs.find("My held reply.").unwrap();
    let reply_item = &theirs[theirs[..reply_at].rfind("<li ").unwrap()..reply_at];
    assert!(!reply_item.contains("comment--pending"), "{reply_item}");
}

#[actix_web::test]
async fn static_files_come_precompressed_with_last_modified_and_304s() {
    let app = spawn_app().await;
    let css = app.state.assets.url("css/site.css").to_string();
    let br = anonymous(&app, &css, &[("Accept-Encoding", "br, gzip")]).await;
    assert_eq!(br.status(), 200);
    assert_eq!(br.headers()["content-encoding"], "br");
    assert_eq!(
        br.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert!(br.headers().contains_key("last-modified"));
    let etag = br.headers()["etag"].to_str().unwrap().to_string();
    let bytes = br.bytes().await.unwrap();
    let mut css_text = Vec::new();
    brotli::BrotliDecompress(&mut &bytes[..], &mut css_text).unwrap();
    // The stylesheet, minified once at start.
    let source = include_str!("../../static/css/site.css");
    assert_eq!(
        String::from_utf8(css_text).unwrap(),
        kintsugi::assets::minify_css(source)
    );
    let again = anonymous(
        &app,
        &css,
        &[("Accept-Encoding", "br"), ("If-None-Match", &etag)],
    )
    .await;
    assert_eq!(again.status(), 304);
    let gz = anonymous(&app, &css, &[("Accept-Encoding", "gzip")]).await;
    assert_eq!(gz.headers()["content-encoding"], "gzip");
    // The admin area's stylesheet only on its pages.
    let (_, article) = app.page("/articles/going-no-contact").await;
    assert!(!article.contains("/static/css/admin."));
    let (_, sign_in) = app.page("/admin/login").await;
    assert!(sign_in.contains(app.state.assets.url("css/admin.css")));
    // The icons browsers look for at fixed addresses, and the manifest.
    for (path, kind) in [
        ("/favicon.ico", "image/x-icon"),
        ("/apple-touch-icon.png", "image/png"),
        ("/manifest.webmanifest", "application/manifest+json"),
    ] {
        let res = anonymous(&app, path, &[]).await;
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(res.headers()["content-type"], kind, "{path}");
        assert_eq!(res.headers()["cache-control"], "public, max-age=86400");
    }
    let manifest = anonymous(&app, "/manifest.webmanifest", &[])
        .await
        .text()
        .await
        .unwrap();
    let manifest: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    let icon = manifest["icons"][0]["src"].as_str().unwrap().to_string();
    assert_eq!(anonymous(&app, &icon, &[]).await.status(), 200);
    // The coach's pictures from content/images/, and nothing else.
    let picture = anonymous(&app, "/images/mended-bowl.svg", &[]).await;
    assert_eq!(picture.status(), 200);
    assert_eq!(picture.headers()["content-type"], "image/svg+xml");
    let since = picture.headers()["last-modified"]
        .to_str()
        .unwrap()
        .to_string();
    let again = anonymous(
        &app,
        "/images/mended-bowl.svg",
        &[("If-Modified-Since", &since)],
    )
    .await;
    assert_eq!(again.status(), 304);
    for path in [
        "/images/nope.png",
        "/images/..%2Fpages%2Fabout.md",
        "/images/.hidden.png",
        "/images/about.md",
    ] {
        assert_eq!(anonymous(&app, path, &[]).await.status(), 404, "{path}");
    }
}

/// Public pages may be kept by browsers and CDNs and revalidated with a
/// cheap 304; admin, coaching and request-status pages, and anything
/// answering a form, are never stored anywhere.
#[actix_web::test]
async fn cache_control_lets_public_pages_revalidate_and_keeps_the_rest_out_of_caches() {
    let app = spawn_app().await;
    let public = "public, max-age=0, must-revalidate";
    for path in [
        "/",
        "/articles/going-no-contact",
        "/tags",
        "/feed.xml",
        "/comments.xml",
        "/sitemap.xml",
        "/robots.txt",
        "/about",
    ] {
        let res = anonymous(&app, path, &[]).await;
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(res.headers()["cache-control"], public, "{path}");
        assert!(res.headers().contains_key("etag"), "{path}");
        // Conditional requests answer 304 with no body.
        let etag = res.headers()["etag"].to_str().unwrap().to_string();
        let again = anonymous(&app, path, &[("If-None-Match", &etag)]).await;
        assert_eq!(again.status(), 304, "{path}");
        assert!(again.bytes().await.unwrap().is_empty(), "{path}");
    }
    for path in [
        "/search?q=contact",
        "/coaching",
        "/coaching/thanks",
        "/admin/login",
        "/admin",
        "/admin/comments",
        "/requests/0000000000000000000000000000000000000000000000000000000000000000",
    ] {
        let res = anonymous(&app, path, &[]).await;
        assert_eq!(res.headers()["cache-control"], "no-store", "{path}");
    }
}

/// The comment list a page shows, from `<ol class="comment-list">` to its
/// end, without a reply form placed in it (`?replyto=`).
fn comment_list(html: &str) -> String {
    let start = html.find(r#"<ol class="comment-list">"#).unwrap();
    let end = start + html[start..].find("\n  </ol>").unwrap();
    let list = &html[start..end];
    match list.find("\n    <li class=\"comment-reply-slot") {
        Some(slot) => {
            let close = slot + list[slot..].find("\n    </li>").unwrap() + "\n    </li>".len();
            format!("{}{}", &list[..slot], &list[close..])
        }
        None => list.to_string(),
    }
}

/// Whatever a reader's own comments do to the threads (a held reply, a
/// held question starting a thread, a published comment of theirs, a
/// public reply to a hidden one of theirs, threads spread over pages), the page made for them from the shared page lists
/// exactly what a page rendered for them lists; while their comments only
/// add to the threads, it comes from the cache.
#[actix_web::test]
async fn a_readers_own_comments_in_the_cached_page_are_what_a_render_shows() {
    use diesel::prelude::*;
    let app = spawn_app().await;
    let public = post_comment(&app, "pat@example.com", "A public question.", "203.0.113.7").await;
    kintsugi::web::admin::moderation::approve_comment(&app.state, public, None)
        .await
        .unwrap();
    let writer = client();
    let mut ip = 20;
    let mut post = |body: &'static str, parent: Option<i64>| {
        ip += 1;
        let (app, writer) = (&app, &writer);
        let from = format!("203.0.113.{ip}");
        let email = format!("writer{ip}@example.com");
        async move {
            let parent = parent.map(|p| p.to_string()).unwrap_or_default();
            let mut fields = vec![("name", "Robin"), ("email", email.as_str()), ("body", body)];
            if !parent.is_empty() {
                fields.push(("parent", parent.as_str()));
            }
            let res = post_from(app, writer, &from, &fields).await;
            posted_id(&res)
        }
    };
    // (what changed, whether the cached page can still be used, comment page)
    let compare = |what: &'static str, cached: bool, cpage: usize| {
        let (app, writer) = (&app, &writer);
        async move {
            let mut from_cache = false;
            for _ in 0..5 {
                let before = app.state.page_cache.stats();
                let theirs = writer
                    .get(format!("{}/articles/{SLUG}?cpage={cpage}", app.address))
                    .send()
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap();
                let after = app.state.page_cache.stats();
                let rendered = writer
                    .get(format!(
                        "{}/articles/{SLUG}?cpage={cpage}&replyto=0",
                        app.address
                    ))
                    .send()
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap();
                assert_eq!(comment_list(&theirs), comment_list(&rendered), "{what}");
                // A hit, and the shared page's form token: not rendered.
                let shared = anonymous(app, &format!("/articles/{SLUG}?cpage={cpage}"), &[])
                    .await
                    .text()
                    .await
                    .unwrap();
                if after.misses == before.misses && token_in(&theirs) == token_in(&shared) {
                    from_cache = true;
                    break;
                }
            }
            assert_eq!(from_cache, cached, "{what}: from the cache");
        }
    };
    let reply = post("My held reply.", Some(public)).await;
    compare("a held reply", true, 1).await;
    let question = post("My held question.", None).await;
    compare("a held question, one page of threads", true, 1).await;
    kintsugi::web::admin::moderation::approve_comment(&app.state, reply, None)
        .await
        .unwrap();
    compare("a published comment of theirs", true, 1).await;
    let mut conn = app.pool.get().unwrap();
    let insert = |conn: &mut kintsugi::db::Db, parent: Option<i64>, n: usize| {
        let parent = parent.map_or("NULL".to_string(), |p| p.to_string());
        diesel::sql_query(format!(
            "INSERT INTO comments (article_slug, parent_id, root_id, depth, author_name, \
             author_email, body_markdown, body_html, status, created_at) VALUES \
             ('{SLUG}', {parent}, {parent}, 1, 'Other {n}', 'o{n}@example.com', 'b', \
             '<p>Other {n}</p>', 'approved', CURRENT_TIMESTAMP)"
        ))
        .execute(conn)
        .unwrap();
    };
    let delete = |conn: &mut kintsugi::db::Db, sql: String| {
        diesel::sql_query(format!("DELETE FROM comments WHERE {sql}"))
            .execute(conn)
            .unwrap();
    };
    insert(&mut conn, Some(question), 0);
    app.state.page_cache.all_comments_changed();
    compare("a public reply to their held question", false, 1).await;
    delete(&mut conn, format!("parent_id = {question}"));
    for n in 1..=60 {
        insert(&mut conn, None, n);
    }
    app.state.page_cache.all_comments_changed();
    compare("their held question, threads over two pages", false, 1).await;
    compare("their held question, the second page", false, 2).await;
    delete(&mut conn, format!("id = {question}"));
    app.state.page_cache.all_comments_changed();
    compare("their published reply, threads over two pages", true, 1).await;
    compare("their published reply, the second page", true, 2).await;
}

/// An own-comments cookie with somebody else's comment id and a made-up
/// token shows nothing of that comment, not even through the thread count:
/// a held question one thread past a full page adds no second page.
#[actix_web::test]
async fn a_made_up_own_cookie_learns_nothing_from_the_page_count() {
    use diesel::prelude::*;
    let app = spawn_app().await;
    let mut conn = app.pool.get().unwrap();
    let threads = kintsugi::web::articles::comment_section::THREADS_PER_PAGE;
    for n in 0..threads {
        diesel::sql_query(format!(
            "INSERT INTO comments (article_slug, depth, author_name, author_email, \
             body_markdown, body_html, status, created_at) VALUES ('{SLUG}', 0, 'P{n}', \
             'p{n}@example.com', 'b', '<p>b</p>', 'approved', CURRENT_TIMESTAMP)"
        ))
        .execute(&mut conn)
        .unwrap();
    }
    let held = post_comment(
        &app,
        "hidden@example.com",
        "Held, not yours.",
        "203.0.113.40",
    )
    .await;
    let forged = format!("__Host-kintsugi_own={held}.{}", "0".repeat(64));
    let path = format!("/articles/{SLUG}?replyto=1");
    let stranger = anonymous(&app, &path, &[]).await.text().await.unwrap();
    let forger = anonymous(&app, &path, &[("Cookie", &forged)])
        .await
        .text()
        .await
        .unwrap();
    assert!(!stranger.contains("cpage=2"));
    assert!(
        !forger.contains("cpage=2"),
        "the held question counted as theirs"
    );
    assert!(!forger.contains("Held, not yours."));
}

/// A page made for a reader from the cached page's segments is, byte for
/// byte once decompressed, the page rendered for that reader (the form
/// token aside, which is new on every render): in many random situations
/// of public comments and threads, the reader's own held and published
/// comments and replies in random places, remembered or not, gzip or
/// plain. Most of them come from the cache.
#[actix_web::test]
async fn personal_pages_from_segments_are_what_a_render_shows_in_random_situations() {
    use diesel::prelude::*;
    use kintsugi::web::articles::comment_section::{OWN_COOKIE, REMEMBER_COOKIE};
    use kintsugi::web::request::reader_cookie_name;
    const SITUATIONS: usize = 30;
    let app = spawn_app().await;
    let https = app.state.settings.base_url.is_https();
    let (own_cookie, remember_cookie) = (
        reader_cookie_name(https, OWN_COOKIE),
        reader_cookie_name(https, REMEMBER_COOKIE),
    );
    let mut conn = app.pool.get().unwrap();
    let mut seed: u64 = 0x5e9_2026;
    let mut rand = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    // (id, parent, root, depth, name, replies may go under it)
    struct Row(i64, Option<i64>, Option<i64>, i32, String, bool);
    let mut next_id = 1;
    let mut from_cache = 0;
    let normal = |html: &str| html.replacen(&token_in(html), "TOKEN", 1);
    for situation in 0..SITUATIONS {
        diesel::sql_query("DELETE FROM comments")
            .execute(&mut conn)
            .unwrap();
        let mut rows: Vec<Row> = Vec::new();
        let mut own: Vec<String> = Vec::new();
        let publics = rand(14);
        let theirs = 1 + rand(4);
        let mut what = Vec::new();
        for n in 0..publics + theirs {
            let mine = n >= publics;
            let held = mine && rand(3) != 0;
            let private = held && rand(4) == 0;
            let open: Vec<usize> = (0..rows.len()).filter(|i| rows[*i].5).collect();
            let parent = (!open.is_empty() && rand(5) < 2)
                .then(|| &rows[open[rand(open.len() as u64) as usize]]);
            // As `db::comments::placement` puts a reply.
            let (parent_id, root, depth, reply_to_name) = match parent {
                None => (None, None, 0, None),
                Some(p) if p.3 < 2 => (Some(p.0), Some(p.2.unwrap_or(p.0)), p.3 + 1, None),
                Some(p) => (
                    Some(p.1.unwrap_or(p.0)),
                    Some(p.2.unwrap_or(p.0)),
                    2,
                    Some(p.4.clone()),
                ),
            };
            let id = next_id;
            next_id += 1;
            let name = format!("Writer {id}");
            let token = format!("{:064x}", id as u128 * 7919 + situation as u128);
            let sql = format!(
                "INSERT INTO comments (id, article_slug, parent_id, root_id, reply_to_id, depth, \
                 reply_to_name, author_name, author_email, body_markdown, body_html, status, \
                 is_private, owner_token_hash, created_at) VALUES ({id}, '{SLUG}', {}, {}, {}, \
                 {depth}, {}, '{name}', 'w{id}@example.com', 'b', '<p>Words of {id} &amp; more</p>', \
                 '{}', {private}, {}, CURRENT_TIMESTAMP)",
                parent_id.map_or("NULL".into(), |p: i64| p.to_string()),
                root.map_or("NULL".into(), |p: i64| p.to_string()),
                parent_id.map_or("NULL".into(), |p: i64| p.to_string()),
                reply_to_name.map_or("NULL".into(), |n| format!("'{n}'")),
                if held { "pending" } else { "approved" },
                if mine {
                    format!("'{}'", kintsugi::keys::token_hash(&token))
                } else {
                    "NULL".into()
                },
            );
            diesel::sql_query(sql).execute(&mut conn).unwrap();
            if mine {
                own.push(format!("{id}.{token}"));
                what.push(format!(
                    "{}{} {id}{}",
                    if held { "held" } else { "published" },
                    if private { " private" } else { "" },
                    parent_id.map_or(String::new(), |p| format!(" under {p}"))
                ));
            }
            rows.push(Row(id, parent_id, root, depth, name, !held));
        }
        let remembered = rand(2) == 0;
        let mut cookie = format!("{own_cookie}={}", own.join("_"));
        if remembered {
            let value: String = "Robin\nrobin@example.com"
                .bytes()
                .map(|b| format!("{b:02x}"))
                .collect();
            cookie.push_str(&format!("; {remember_cookie}={value}"));
        }
        let what = format!(
            "situation {situation}: {publics} public, theirs: {}{}",
            what.join(", "),
            if remembered { ", remembered" } else { "" }
        );
        app.state.page_cache.all_comments_changed();
        let path = format!("/articles/{SLUG}");
        let shared = anonymous(&app, &path, &[]).await.text().await.unwrap();
        for encoding in ["gzip", "identity", "br"] {
            let res = anonymous(
                &app,
                &path,
                &[("Cookie", &cookie), ("Accept-Encoding", encoding)],
            )
            .await;
            assert_eq!(res.status(), 200, "{what}");
            assert_eq!(
                res.headers()["cache-control"],
                "private, no-cache",
                "{what}"
            );
            let gzipped = res
                .headers()
                .get("content-encoding")
                .is_some_and(|e| e == "gzip");
            // Brotli only: plain (a reader's page is gzip or plain).
            assert_eq!(gzipped, encoding == "gzip", "{what}, {encoding}");
            let bytes = res.bytes().await.unwrap();
            let theirs = if gzipped {
                let mut html = String::new();
                flate2::read::GzDecoder::new(&bytes[..])
                    .read_to_string(&mut html)
                    .unwrap();
                html
            } else {
                String::from_utf8(bytes.to_vec()).unwrap()
            };
            let rendered = anonymous(&app, &format!("{path}?replyto=0"), &[("Cookie", &cookie)])
                .await
                .text()
                .await
                .unwrap();
            assert_eq!(normal(&theirs), normal(&rendered), "{what}, {encoding}");
            if token_in(&theirs) == token_in(&shared) {
                from_cache += 1;
            }
        }
    }
    assert!(
        from_cache >= SITUATIONS * 3 / 2,
        "only {from_cache} of {} personal pages came from the cache",
        SITUATIONS * 3
    );
}
