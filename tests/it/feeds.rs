//! Atom feed, sitemap, robots.txt.
use quick_xml::events::Event;
use quick_xml::Reader;

use crate::helpers::*;

/// The text of every element named `name`, parsing the whole document (so
/// malformed XML fails the test).
fn texts(xml: &str, name: &str) -> Vec<String> {
    let mut reader = Reader::from_str(xml);
    let mut out = Vec::new();
    let mut inside = false;
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) if e.name().as_ref() == name => {
                inside = true;
                out.push(String::new());
            }
            Event::End(e) if e.name().as_ref() == name => inside = false,
            Event::Text(t) if inside => out.last_mut().unwrap().push_str(&t.xml10_content()),
            Event::CData(t) if inside => out.last_mut().unwrap().push_str(&t.xml10_content()),
            // quick-xml 0.38+ gives each `&…;` as an event of its own.
            Event::GeneralRef(r) if inside => {
                let text = match r.resolve_char_ref().expect("a valid character reference") {
                    Some(c) => c.to_string(),
                    None => quick_xml::escape::resolve_predefined_entity(r.as_ref())
                        .expect("one of XML's five entities")
                        .to_string(),
                };
                out.last_mut().unwrap().push_str(&text);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    out
}

#[actix_web::test]
async fn the_atom_feed_has_full_content_and_absolute_links() {
    let app = spawn_with_content(|dir| {
        write_article(
            dir,
            "one.md",
            "title = \"One & only\"\ndate = 2026-01-01\ntags = [\"grief\"]",
            "First <b>para</b>.\n\n## Later\n\nThe full body.",
        );
        write_article(
            dir,
            "two.md",
            "title = \"Two\"\ndate = 2026-02-01\nupdated = 2026-03-01",
            "Second.",
        );
        write_article(
            dir,
            "draft.md",
            "title = \"Draft\"\ndate = 2026-02-01\ndraft = true",
            "x",
        );
    })
    .await;
    let res = app.get("/feed.xml").await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-type"],
        "application/atom+xml; charset=utf-8"
    );
    let xml = res.text().await.unwrap();
    assert!(xml.starts_with(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\""
    ));
    let titles = texts(&xml, "title");
    assert_eq!(titles[1..], ["Two".to_string(), "One & only".to_string()]);
    assert_eq!(texts(&xml, "id")[1], "https://coach.example/articles/two");
    assert_eq!(
        texts(&xml, "updated")[0],
        "2026-03-01T00:00:00Z",
        "feed updated = latest change"
    );
    let content = texts(&xml, "content");
    assert!(
        content[1].contains("<b>para</b>") && content[1].contains("The full body."),
        "full HTML content"
    );
    assert!(xml.contains("<link rel=\"self\" type=\"application/atom+xml\" href=\"https://coach.example/feed.xml\"/>"));
    assert!(!xml.contains("Draft"));
}

#[actix_web::test]
async fn the_sitemap_lists_every_public_url_and_robots_points_to_it() {
    let app = spawn_app().await;
    let res = app.get("/sitemap.xml").await;
    assert_eq!(res.status(), 200);
    let xml = res.text().await.unwrap();
    let locs = texts(&xml, "loc");
    for url in [
        "https://coach.example/",
        "https://coach.example/about",
        "https://coach.example/privacy",
        "https://coach.example/coaching",
        "https://coach.example/tags",
        "https://coach.example/tags/no-contact",
        "https://coach.example/articles/going-no-contact",
    ] {
        assert!(
            locs.iter().any(|l| l == url),
            "{url} missing from {locs:#?}"
        );
    }
    assert_eq!(
        locs.iter().filter(|l| l.contains("/articles/")).count(),
        std::fs::read_dir(sample_content_dir().join("articles"))
            .unwrap()
            .count()
    );
    let (status, robots) = app.page("/robots.txt").await;
    assert_eq!(status, 200);
    assert!(robots.contains("Sitemap: https://coach.example/sitemap.xml"));
}
