//! `/search`.
use crate::helpers::*;

fn search_content(dir: &std::path::Path) {
    write_article(
        dir,
        "sleep.md",
        "title = \"Sleeping again\"\ndate = 2026-03-01",
        "Keeping contact with the ex ruins sleep. contact contact contact.",
    );
    write_article(
        dir,
        "no-contact.md",
        "title = \"Why no contact works\"\ndate = 2026-01-01",
        "Silence helps you heal.",
    );
    write_article(
        dir,
        "grief.md",
        "title = \"Grief\"\ndate = 2026-02-01",
        "Nothing about that here.",
    );
    write_article(
        dir,
        "draft.md",
        "title = \"Contact draft\"\ndate = 2026-02-02\ndraft = true",
        "contact",
    );
}

#[actix_web::test]
async fn title_hits_rank_first_and_matches_are_highlighted() {
    let app = spawn_with_content(search_content).await;
    let (status, body) = app.page("/search?q=contact").await;
    assert_eq!(status, 200);
    assert!(body.contains("2 articles match “contact”"), "{body}");
    let title_hit = body.find("/articles/no-contact").unwrap();
    let body_hit = body.find("/articles/sleep").unwrap();
    assert!(title_hit < body_hit, "title hits first");
    assert!(body.contains("Why no <mark>contact</mark> works"));
    assert!(body.contains("Keeping <mark>contact</mark> with the ex"));
    assert!(!body.contains("Contact draft"));
    assert!(!body.contains("/articles/grief"));
    assert!(
        body.contains("value=\"contact\""),
        "the query stays in the box"
    );
    assert_eq!(
        body.matches("<meta name=\"robots\" content=\"noindex\">")
            .count(),
        1
    );
}

#[actix_web::test]
async fn every_word_must_match_and_prefixes_count() {
    let app = spawn_with_content(search_content).await;
    let (_, body) = app.page("/search?q=contact+sleep").await;
    assert!(body.contains("1 article matches"), "{body}");
    assert!(body.contains("/articles/sleep"));
    let (_, body) = app.page("/search?q=heal").await;
    assert!(
        body.contains("/articles/no-contact"),
        "prefix of a body word"
    );
}

#[actix_web::test]
async fn empty_and_hopeless_queries_get_friendly_pages() {
    let app = spawn_with_content(search_content).await;
    let (status, body) = app.page("/search?q=").await;
    assert_eq!(status, 200);
    assert!(body.contains("Type a word or two"));
    let (status, body) = app.page("/search").await;
    assert_eq!(status, 200);
    assert!(body.contains("Type a word or two"));
    let (status, body) = app.page("/search?q=zzzqqq").await;
    assert_eq!(status, 200);
    assert!(body.contains("Nothing matched “zzzqqq”"));
    assert!(body.contains("Browse by topic") || !body.contains("/tags/"));
}

#[actix_web::test]
async fn queries_are_escaped_and_odd_input_is_harmless() {
    let app = spawn_with_content(search_content).await;
    let (status, body) = app
        .page("/search?q=%3Cscript%3Ealert(1)%3C/script%3E")
        .await;
    assert_eq!(status, 200);
    assert!(!body.contains("<script>alert"));
    assert!(body.contains("&#60;script&#62;alert(1)"));
    let long = "a".repeat(5000);
    assert_eq!(app.page(&format!("/search?q={long}")).await.0, 200);
    assert_eq!(
        app.page("/search?q=%F0%9F%92%94%20contact").await.0,
        200,
        "emoji"
    );
    assert_eq!(app.page("/search?q=contact&page=9").await.0, 404);
}
