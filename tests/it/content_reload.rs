//! Content changes while the server runs: reload on file changes and on
//! SIGHUP, keeping the last good version when the new one is broken.
use std::time::Duration;

use crate::helpers::*;

fn one_article(dir: &std::path::Path) {
    write_article(
        dir,
        "first.md",
        "title = \"First words\"\ndate = 2026-01-01",
        "Hello.",
    );
}

#[actix_web::test]
async fn file_changes_reload_and_broken_content_keeps_the_last_good_version() {
    let app = spawn_with(Options {
        content: Content::Custom(Box::new(one_article)),
        watch: true,
        ..Options::default()
    })
    .await;
    assert_eq!(app.page("/articles/second").await.0, 404);

    app.write_article(
        "second.md",
        "title = \"Second thoughts\"\ndate = 2026-01-02",
        "More.",
    );
    eventually("the new article is served", || async {
        app.page("/articles/second").await.0 == 200
    })
    .await;

    // A broken edit: the old version keeps being served.
    app.write_article(
        "first.md",
        "title = \"First words, edited\"\ndate = 2026-01-01\ntitel = \"typo\"",
        "Hello again.",
    );
    app.write_article(
        "third.md",
        "title = \"Third\"\ndate = 2026-01-03",
        "[broken](@/articles/missing.md)",
    );
    actix_web::rt::time::sleep(Duration::from_millis(1500)).await;
    let (status, body) = app.page("/articles/first").await;
    assert_eq!(status, 200);
    assert!(
        body.contains("First words") && !body.contains("edited"),
        "last good version"
    );
    assert_eq!(app.page("/articles/third").await.0, 404);
    assert_eq!(app.page("/articles/second").await.0, 200);

    // Fixing it brings everything in.
    app.write_article(
        "first.md",
        "title = \"First words, edited\"\ndate = 2026-01-01",
        "Hello again.",
    );
    std::fs::write(
        app.content_dir.join("articles/third.md"),
        "+++\ntitle = \"Third\"\ndate = 2026-01-03\n+++\n\n[fine](@/articles/first.md)\n",
    )
    .unwrap();
    eventually("the fixed content is served", || async {
        app.page("/articles/first")
            .await
            .1
            .contains("First words, edited")
            && app.page("/articles/third").await.0 == 200
    })
    .await;

    std::fs::remove_file(app.content_dir.join("articles/second.md")).unwrap();
    eventually("a deleted article disappears", || async {
        app.page("/articles/second").await.0 == 404
    })
    .await;
}

/// The real binary, with the watcher off: SIGHUP reloads.
#[actix_web::test]
async fn sighup_reloads_the_content() {
    let content = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    one_article(content.path());
    let server = Binary::start(content.path(), data.path(), &[]).await;
    let client = client();
    let url = |p: &str| server.url(p);
    write_article(
        content.path(),
        "later.md",
        "title = \"Later\"\ndate = 2026-01-05",
        "Later.",
    );
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        client
            .get(url("/articles/later"))
            .send()
            .await
            .unwrap()
            .status(),
        404,
        "no watcher"
    );
    server.signal("HUP");
    eventually("SIGHUP reloads", || async {
        client
            .get(url("/articles/later"))
            .send()
            .await
            .unwrap()
            .status()
            == 200
    })
    .await;
}
