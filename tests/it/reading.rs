//! What a reader gets: home, articles, tags, pages, static files.
use std::path::Path;

use crate::helpers::*;

/// Twelve published articles (one a day in January 2026), a draft and a
/// scheduled one.
fn twelve_articles(dir: &Path) {
    for day in 1..=12 {
        let tags = if day % 2 == 0 {
            r#"["Even days", "grief"]"#
        } else {
            r#"["grief"]"#
        };
        write_article(
            dir,
            &format!("day-{day:02}.md"),
            &format!("title = \"Day {day} article\"\ndate = 2026-01-{day:02}\ntags = {tags}"),
            &format!("Summary of day {day}.\n\nMore text for day {day}."),
        );
    }
    write_article(
        dir,
        "secret-draft.md",
        "title = \"Secret draft\"\ndate = 2026-01-20\ndraft = true",
        "Draft body.",
    );
    write_article(
        dir,
        "scheduled.md",
        "title = \"Scheduled piece\"\ndate = 2099-01-01",
        "Future body.",
    );
    write_page(dir, "about.md", "About", "About text.");
}

#[actix_web::test]
async fn home_lists_ten_articles_a_page_newest_first_with_their_details() {
    let app = spawn_with_content(twelve_articles).await;
    let (status, body) = app.page("/").await;
    assert_eq!(status, 200);
    assert_eq!(count(&body, "class=\"article-card\""), 10);
    let newest = body.find("Day 12 article").unwrap();
    let older = body.find("Day 3 article").unwrap();
    assert!(newest < older, "newest first");
    assert!(!body.contains("Day 2 article"), "page 1 stops at ten");
    assert!(body.contains("<time datetime=\"2026-01-12\">January 12, 2026</time>"));
    assert!(body.contains("1 min read"));
    assert!(body.contains("<p>Summary of day 12.</p>"));
    assert!(!body.contains("More text for day 12"), "only the summary");
    assert!(body.contains("href=\"/tags/even-days\">Even days</a>"));
    assert!(body.contains("href=\"/?page=2\" rel=\"next\""));
    assert!(!body.contains("rel=\"prev\""));

    let (status, page2) = app.page("/?page=2").await;
    assert_eq!(status, 200);
    assert_eq!(count(&page2, "class=\"article-card\""), 2);
    assert!(page2.contains("Day 2 article") && page2.contains("Day 1 article"));
    assert!(page2.contains("href=\"/\" rel=\"prev\""));
    assert!(!page2.contains("rel=\"next\""));
    assert!(page2.contains("Page 2 of 2"));

    assert_eq!(app.page("/?page=3").await.0, 404, "past the end");
    assert_eq!(app.page("/?page=0").await.0, 400);
    let (status, body) = app.page("/?page=abc").await;
    assert_eq!(status, 400);
    assert!(
        body.contains("Page numbers are whole numbers"),
        "friendly message"
    );
}

#[actix_web::test]
async fn drafts_and_scheduled_articles_are_nowhere_until_published() {
    let app = spawn_with_content(twelve_articles).await;
    for path in [
        "/",
        "/?page=2",
        "/tags/grief",
        "/feed.xml",
        "/sitemap.xml",
        "/search?q=secret",
        "/search?q=scheduled",
    ] {
        let (status, body) = app.page(path).await;
        assert_eq!(status, 200, "{path}");
        assert!(!body.contains("Secret draft"), "draft leaked on {path}");
        assert!(
            !body.contains("Scheduled piece"),
            "scheduled article leaked on {path}"
        );
    }
    assert_eq!(app.page("/articles/secret-draft").await.0, 404);
    assert_eq!(app.page("/articles/scheduled").await.0, 404);
}

#[actix_web::test]
async fn a_scheduled_article_appears_when_its_time_comes_without_a_restart() {
    let publish_at = chrono::Utc::now() + chrono::Duration::seconds(2);
    let stamp = publish_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let app = spawn_with_content(move |dir| {
        write_article(
            dir,
            "soon.md",
            &format!("title = \"Coming soon\"\ndate = {stamp}"),
            "Soon.",
        );
    })
    .await;
    assert_eq!(app.page("/articles/soon").await.0, 404);
    assert!(!app.page("/").await.1.contains("Coming soon"));
    actix_web::rt::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(app.page("/articles/soon").await.0, 200);
    assert!(app.page("/").await.1.contains("Coming soon"));
    assert!(app.page("/feed.xml").await.1.contains("Coming soon"));
}

#[actix_web::test]
async fn an_article_page_has_everything_a_reader_needs() {
    let app = spawn_app().await;
    let (status, body) = app.page("/articles/going-no-contact").await;
    assert_eq!(status, 200);
    // Title, dates, reading time, tags.
    assert!(body.contains("<h1>Going no contact"));
    assert!(body.contains("<time datetime=\"2025-09-08\">September 8, 2025</time>"));
    assert!(body.contains("Updated <time datetime=\"2026-05-11\">"));
    assert!(body.contains("min read"));
    assert!(body.contains("href=\"/tags/no-contact\""));
    // Table of contents linking to anchored headings.
    assert!(body.contains("<nav class=\"toc\""));
    let first_h2_id = body
        .split("<h2 id=\"")
        .nth(2)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    assert!(
        body.contains(&format!("<a href=\"#{first_h2_id}\">")),
        "toc links {first_h2_id}"
    );
    assert!(body.contains("class=\"heading-anchor\""));
    // The body: the two-column table and a list.
    assert!(body.contains("<th>If you go no contact</th>"));
    assert!(body.contains("If you don’t</th>") || body.contains("If you don't</th>"));
    assert!(body.contains("<ul>"));
    // Call to action, neighbours, related, comment placeholder.
    assert!(body.contains("class=\"cta\"") && body.contains("href=\"/coaching\""));
    assert!(body.contains("rel=\"next\""), "a newer article link");
    assert!(body.contains("Related articles"));
    assert!(body.contains("id=\"comments\""));
    // Meta for search engines and sharing.
    assert!(body.contains(
        "<link rel=\"canonical\" href=\"https://coach.example/articles/going-no-contact\">"
    ));
    assert!(body.contains("<meta property=\"og:type\" content=\"article\">"));
    assert!(body.contains(
        "<meta property=\"og:url\" content=\"https://coach.example/articles/going-no-contact\">"
    ));
    assert!(body.contains("<meta name=\"twitter:card\" content=\"summary_large_image\">"));
    assert!(body.contains(
        "<meta property=\"og:image\" content=\"https://coach.example/static/icons/share."
    ));
    assert!(body.contains("<meta property=\"og:locale\" content=\"en_US\">"));
    assert!(body.contains("<link rel=\"manifest\" href=\"/manifest.webmanifest\">"));
    let json = body
        .split("<script type=\"application/ld+json\">")
        .nth(1)
        .and_then(|s| s.split("</script>").next())
        .expect("JSON-LD");
    let ld: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(ld["@type"], "BlogPosting");
    assert_eq!(ld["datePublished"], "2025-09-08T00:00:00+00:00");
    assert_eq!(ld["url"], "https://coach.example/articles/going-no-contact");
    // No third parties, no inline code.
    assert!(!body.contains("<style") && !body.contains("style=\""));
    assert_eq!(
        count(&body, "<script"),
        2,
        "the JSON-LD data block and the reply script"
    );
    assert_eq!(count(&body, "<script type=\"application/ld+json\">"), 1);
    assert!(body.contains("<script src=\"/static/js/reply."));
    assert!(!body.contains("src=\"http") && !body.contains("href=\"//"));
}

#[actix_web::test]
async fn related_and_neighbouring_articles() {
    let app = spawn_with_content(twelve_articles).await;
    let (_, body) = app.page("/articles/day-06").await;
    assert!(
        body.contains("href=\"/articles/day-07\" rel=\"next\""),
        "newer neighbour"
    );
    assert!(
        body.contains("href=\"/articles/day-05\" rel=\"prev\""),
        "older neighbour"
    );
    let related = body
        .split("id=\"related\"")
        .nth(1)
        .unwrap()
        .split("</section>")
        .next()
        .unwrap();
    assert_eq!(count(related, "<li>"), 3, "up to three");
    // Even days share two tags with day 6, so they come first.
    for day in ["day-12", "day-10", "day-08"] {
        assert!(
            related.contains(&format!("/articles/{day}")),
            "{day} in {related}"
        );
    }
    let (_, newest) = app.page("/articles/day-12").await;
    assert!(
        !newest.contains("rel=\"next\""),
        "nothing newer than the newest"
    );
}

#[actix_web::test]
async fn a_table_of_contents_only_from_three_headings() {
    let app = spawn_with_content(|dir| {
        write_article(
            dir,
            "two.md",
            "title = \"Two\"\ndate = 2026-01-01",
            "Intro.\n\n## One\n\n## Two\n",
        );
        write_article(
            dir,
            "three.md",
            "title = \"Three\"\ndate = 2026-01-02",
            "Intro.\n\n## One\n\n## Two\n\n### Three\n",
        );
    })
    .await;
    assert!(!app.page("/articles/two").await.1.contains("class=\"toc\""));
    let (_, body) = app.page("/articles/three").await;
    assert!(body.contains("class=\"toc\""));
    assert!(body.contains("<li class=\"toc__level-3\"><a href=\"#three\">Three</a></li>"));
}

#[actix_web::test]
async fn markdown_features_render() {
    let app = spawn_with_content(|dir| {
        write_article(dir, "other.md", "title = \"Other\"\ndate = 2026-01-01", "Other.");
        write_article(
            dir,
            "features.md",
            "title = \"Features\"\ndate = 2026-01-02",
            "Intro \"quoted\" -- text.[^n]\n\n[^n]: A footnote.\n\n~~old~~\n\n- [x] done\n- [ ] todo\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nSee [the other one](@/articles/other.md#top-part).\n\n## Custom {#my-id}\n",
        );
    })
    .await;
    let (_, body) = app.page("/articles/features").await;
    assert!(body.contains("“quoted” – text"), "smart punctuation");
    assert!(body.contains("footnote-definition"));
    assert!(body.contains("<del>old</del>"));
    assert!(body.contains("Done: ") && body.contains("To do: "));
    assert!(body.contains("<table>"));
    assert!(body.contains("href=\"/articles/other#top-part\""));
    assert!(body.contains("<h2 id=\"my-id\">"));
}

#[actix_web::test]
async fn tags_list_with_counts_and_tag_pages() {
    let app = spawn_with_content(twelve_articles).await;
    let (status, body) = app.page("/tags").await;
    assert_eq!(status, 200);
    assert!(
        body.contains(
            "href=\"/tags/even-days\">Even days</a> <span class=\"count\">6 articles</span>"
        ),
        "{body}"
    );
    assert!(
        body.contains("href=\"/tags/grief\">grief</a> <span class=\"count\">12 articles</span>")
    );
    let (status, body) = app.page("/tags/even-days").await;
    assert_eq!(status, 200);
    assert!(body.contains("<h1>Articles about Even days</h1>"));
    assert_eq!(count(&body, "class=\"article-card\""), 6);
    let (_, grief2) = app.page("/tags/grief?page=2").await;
    assert_eq!(count(&grief2, "class=\"article-card\""), 2);
    assert_eq!(app.page("/tags/grief?page=3").await.0, 404);
    assert_eq!(app.page("/tags/no-such-tag").await.0, 404);
}

#[actix_web::test]
async fn about_privacy_and_coaching_pages_come_from_content() {
    let app = spawn_app().await;
    for (path, title) in [
        ("/about", "About"),
        ("/privacy", "Privacy"),
        ("/coaching", "Coaching"),
    ] {
        let (status, body) = app.page(path).await;
        assert_eq!(status, 200, "{path}");
        assert!(body.contains(&format!("<h1>{title}")), "{path}");
        assert!(body.contains(&format!("aria-current=\"page\">{title}")) || path == "/privacy");
    }
    assert!(app.page("/coaching").await.1.contains("not therapy"));
    assert_eq!(app.page("/no-such-page").await.0, 404);
}

#[actix_web::test]
async fn static_files_have_hashed_names_long_caching_and_304s() {
    let app = spawn_app().await;
    let (_, body) = app.page("/").await;
    let css = body
        .split("<link rel=\"stylesheet\" href=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    assert!(
        css.starts_with("/static/css/site.") && css.ends_with(".css"),
        "{css}"
    );
    let res = app.get(&css).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/css"));
    let etag = res.headers()["etag"].to_str().unwrap().to_string();
    let again = app
        .client
        .get(format!("{}{css}", app.address))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(
        app.page("/static/css/site.css").await.0,
        404,
        "only hashed names"
    );
}

#[actix_web::test]
async fn pages_carry_etags_security_headers_and_answer_head() {
    let app = spawn_app().await;
    let res = app.get("/about").await;
    let etag = res.headers()["etag"].to_str().unwrap().to_string();
    let csp = res.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("default-src 'self'"));
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    let again = app
        .client
        .get(format!("{}/about", app.address))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert!(again.bytes().await.unwrap().is_empty());
    let head = app
        .client
        .head(format!("{}/about", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    assert!(head.bytes().await.unwrap().is_empty());
}

#[actix_web::test]
async fn health_and_readiness() {
    let app = spawn_app().await;
    let (status, body) = app.page("/healthz").await;
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    let (status, body) = app.page("/readyz").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("database: ok"), "{body}");
    assert!(
        body.contains("content: ok (8 articles)") || body.contains("content: ok ("),
        "{body}"
    );
}

#[actix_web::test]
async fn gzip_for_clients_that_ask_with_its_own_etag() {
    use std::io::Read;
    let app = spawn_app().await;
    let plain = app.get("/about").await;
    let plain_etag = plain.headers()["etag"].to_str().unwrap().to_string();
    assert!(plain.headers().get("content-encoding").is_none());
    let plain_body = plain.text().await.unwrap();
    let zipped = app
        .client
        .get(format!("{}/about", app.address))
        .header("Accept-Encoding", "br;q=1, gzip;q=0.8")
        .send()
        .await
        .unwrap();
    assert_eq!(zipped.headers()["content-encoding"], "gzip");
    assert_eq!(zipped.headers()["vary"], "Accept-Encoding");
    let zipped_etag = zipped.headers()["etag"].to_str().unwrap().to_string();
    assert_ne!(zipped_etag, plain_etag, "each encoding has its own ETag");
    let bytes = zipped.bytes().await.unwrap();
    assert!(bytes.len() < plain_body.len() / 2);
    let mut unzipped = String::new();
    flate2::read::GzDecoder::new(&bytes[..])
        .read_to_string(&mut unzipped)
        .unwrap();
    assert_eq!(unzipped, plain_body);
    let refused = app
        .client
        .get(format!("{}/about", app.address))
        .header("Accept-Encoding", "gzip;q=0")
        .send()
        .await
        .unwrap();
    assert!(refused.headers().get("content-encoding").is_none());
}

#[actix_web::test]
async fn a_german_site_speaks_german_to_its_readers() {
    let app = spawn_with(Options {
        env: vec![("KINTSUGI_SITE_LANGUAGE", "de".to_string())],
        ..Options::default()
    })
    .await;
    // English words of the pages that must not be left anywhere (the
    // sample articles themselves are in English, so whole phrases).
    let english = [
        "Latest articles",
        "min read",
        "Related articles",
        "In this article",
        "Want a plan made for your breakup?",
        "Questions and comments",
        "Ask a question or leave a comment",
        // the article markup's own words (heading anchors, footnotes)
        "Link to the section",
        "Back to the text",
        "Your comment or question",
        "Notify me of replies by email",
        "Remember my name and email",
        "Leave this field empty",
        "Post comment",
        "Thank you",
        "Waiting for the coach",
        "Change or delete",
        "Get a personal plan",
        "Please give a name",
        "does not look like an email address",
        "Please check",
        "Everything you typed",
        "Error ",
        "We could not find that page",
        "Search articles and questions",
        "Go to the home page",
        "Older article",
        "Newer article",
    ];
    let no_english = |page: &str, what: &str| {
        for text in english {
            assert!(!page.contains(text), "{what} still says “{text}”");
        }
    };
    let german = |page: &str| {
        assert!(page.contains("<html lang=\"de\">"));
        assert!(page.contains("<meta property=\"og:locale\" content=\"de_DE\">"));
    };

    let (status, home) = app.page("/").await;
    assert_eq!(status, 200);
    german(&home);
    assert!(home.contains("<h1>Neueste Artikel</h1>"));
    assert!(home.contains("Min. Lesezeit"));
    no_english(&home, "the home page");

    // An article, after posting a comment: the notice, the held comment
    // and the form are German.
    let slug = "going-no-contact";
    let token = comment_form_token(&app, &app.client, slug).await;
    let res = app
        .client
        .post(format!("{}/articles/{slug}/comments", app.address))
        .header("X-Forwarded-For", "203.0.113.7")
        .form(&[
            ("name", "Jonas"),
            ("email", "jonas@example.com"),
            ("body", "Wie lange sollte die Kontaktsperre dauern?"),
            ("token", token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    let location = res.headers()["location"].to_str().unwrap().to_string();
    let id = posted_id(&res);
    let (status, article) = app.page(location.split('#').next().unwrap()).await;
    assert_eq!(status, 200);
    german(&article);
    assert!(article.contains("Aktualisiert am <time datetime=\"2026-05-11\">11. Mai 2026</time>"));
    assert!(article.contains("Ähnliche Artikel"));
    assert!(article.contains("Danke. Dein Kommentar wartet darauf, dass der Coach ihn liest."));
    assert!(article.contains(&format!("id=\"comment-{id}\"")));
    assert!(article.contains("Wartet darauf, dass der Coach ihn liest. Vorerst siehst nur du ihn."));
    assert!(article.contains(">Kommentar senden</button>"));
    assert!(article.contains("data-reply-heading=\"Deine Antwort an {name}\""));
    no_english(&article, "the article page");

    // A form with problems comes back (422) with German explanations.
    let token = comment_form_token(&app, &app.client, slug).await;
    let res = app
        .client
        .post(format!("{}/articles/{slug}/comments", app.address))
        .header("X-Forwarded-For", "203.0.113.8")
        .form(&[
            ("name", ""),
            ("email", "kein-name"),
            ("body", "Hallo"),
            ("token", token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let refused = res.text().await.unwrap();
    german(&refused);
    assert!(refused.contains("<title>Fehler: Going no contact"));
    assert!(refused.contains("Bitte prüf noch diese Punkte"));
    assert!(refused.contains(
        "id=\"comment-name-error\">Bitte gib einen Namen an (ein Vorname oder Spitzname reicht).</p>"
    ));
    assert!(refused.contains("Das sieht nicht nach einer E-Mail-Adresse aus"));
    assert!(refused.contains("Alles, was du geschrieben hast, ist noch da."));
    no_english(&refused, "the refused form");

    let (status, missing) = app.page("/articles/no-such-thing").await;
    assert_eq!(status, 404);
    german(&missing);
    assert!(missing.contains("Fehler 404"));
    assert!(missing.contains("<h1>Diese Seite haben wir nicht gefunden</h1>"));
    assert!(missing.contains("<h2>Neueste Artikel</h2>"));
    assert!(missing.contains(">Zur Startseite</a>"));
    no_english(&missing, "the 404 page");
}

#[actix_web::test]
async fn the_home_page_introduces_the_coach_above_the_articles() {
    let app = spawn_app().await;
    let (status, home) = app.page("/").await;
    assert_eq!(status, 200);
    let intro = home
        .find("<section class=\"coach-intro\"")
        .expect("the coach's introduction");
    assert!(intro < home.find("<ol class=\"article-list\">").unwrap());
    let section = &home[intro..intro + home[intro..].find("</section>").unwrap()];
    assert!(section.contains("Hi, I’m Maya Brennan."), "{section}");
    assert!(section.contains("I help you through the first hard weeks after a breakup"));
    assert!(section.contains(
        "<img class=\"coach-intro__picture\" src=\"/images/mended-bowl.svg\" alt=\"A bowl mended with gold seams, the kintsugi way\""
    ));
    assert!(section.contains("href=\"/coaching\">See the coaching options</a>"));
    assert!(section.contains("href=\"/about\">More about me</a>"));
    // Topic pages are lists only.
    let (status, topic) = app.page("/tags/no-contact").await;
    assert_eq!(status, 200);
    assert!(topic.contains("<ol class=\"article-list\">"));
    assert!(!topic.contains("coach-intro"));
}

#[actix_web::test]
async fn an_article_picture_shows_under_the_title_and_when_shared() {
    let app = spawn_with_content(|dir| {
        std::fs::create_dir_all(dir.join("images")).unwrap();
        std::fs::write(dir.join("images/table.png"), b"\x89PNG\r\n\x1a\n").unwrap();
        write_article(
            dir,
            "quiet.md",
            "title = \"A quiet kitchen\"\ndate = 2026-01-05\nimage = \"table.png\"\nimage_alt = \"A kitchen table with one cup\"",
            "Evenings alone.",
        );
        write_article(dir, "plain.md", "title = \"Plain\"\ndate = 2026-01-06", "No picture.");
    })
    .await;
    let (status, page) = app.page("/articles/quiet").await;
    assert_eq!(status, 200);
    assert!(page.contains("<img src=\"/images/table.png\" alt=\"A kitchen table with one cup\""));
    assert!(page.contains(
        "<meta property=\"og:image\" content=\"https://coach.example/images/table.png\">"
    ));
    assert!(
        page.contains("<meta property=\"og:image:alt\" content=\"A kitchen table with one cup\">")
    );
    assert_eq!(app.get("/images/table.png").await.status(), 200);
    // Without a picture: the site's share picture.
    let (_, plain) = app.page("/articles/plain").await;
    assert!(plain.contains(
        "<meta property=\"og:image\" content=\"https://coach.example/static/icons/share."
    ));
    assert!(!plain.contains("article__image"));
}
