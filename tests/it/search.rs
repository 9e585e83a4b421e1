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

// ---- Comments in the search: published public comments and the coach's
// public answers, kept in step with every change (db::comment_search).

mod comments {
    use crate::helpers::*;
    use kintsugi::db;

    const SLUG: &str = "going-no-contact";
    const OTHER: &str = "living-with-your-ex";
    const EMAIL: &str = "coach@example.com";
    const PASSWORD: &str = "tide lantern orchard 42";

    /// The sample site over plain http (the coach's cookie comes back), and
    /// a client signed in as the coach.
    async fn site() -> (TestApp, reqwest::Client) {
        let app = spawn_with(Options {
            env: vec![("KINTSUGI_BASE_URL", "http://127.0.0.1".to_string())],
            ..Options::default()
        })
        .await;
        let hash = kintsugi::passwords::hash(PASSWORD).unwrap();
        db::run(&app.pool, move |conn| {
            Ok(db::admins::create(
                conn,
                EMAIL,
                "Maya Brennan",
                &hash,
                chrono::Utc::now().naive_utc(),
            )
            .unwrap())
        })
        .await
        .unwrap();
        let coach = client();
        let page = client()
            .get(format!("{}/admin/login", app.address))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let token = field_value(&page, "token");
        let res = coach
            .post(format!("{}/admin/login", app.address))
            .header("X-Forwarded-For", "198.51.100.1")
            .form(&[
                ("email", EMAIL),
                ("password", PASSWORD),
                ("token", &token),
                ("next", ""),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303);
        (app, coach)
    }

    async fn admin_post(
        app: &TestApp,
        coach: &reqwest::Client,
        path: &str,
        fields: &[(&str, &str)],
    ) {
        let dashboard = coach
            .get(format!("{}/admin", app.address))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let csrf = field_value(&dashboard, "csrf");
        let mut form: Vec<(&str, &str)> = vec![("csrf", &csrf)];
        form.extend_from_slice(fields);
        let res = coach
            .post(format!("{}{path}", app.address))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303, "{path}: {}", res.text().await.unwrap());
    }

    /// A reader's comment through the public form (held: their first); its id.
    async fn comment(
        app: &TestApp,
        slug: &str,
        email: &str,
        body: &str,
        extra: &[(&str, &str)],
    ) -> i64 {
        let reader = client();
        let token = comment_form_token(app, &reader, slug).await;
        let mut form = vec![
            ("name", "Robin"),
            ("email", email),
            ("body", body),
            ("token", &token),
        ];
        form.extend_from_slice(extra);
        let ip = format!("203.0.113.{}", body.len() % 250 + 1);
        let res = reader
            .post(format!("{}/articles/{slug}/comments", app.address))
            .header("X-Forwarded-For", ip)
            .form(&form)
            .send()
            .await
            .unwrap();
        posted_id(&res)
    }

    async fn approve(app: &TestApp, coach: &reqwest::Client, id: i64) {
        admin_post(
            app,
            coach,
            "/admin/comments/bulk",
            &[("one", &format!("approve:{id}"))],
        )
        .await;
    }

    /// The part of the results page that lists comments ("" when none).
    fn comment_part(body: &str) -> &str {
        body.split("id=\"search-comments-heading\"")
            .nth(1)
            .unwrap_or("")
    }

    async fn search(app: &TestApp, q: &str) -> String {
        let (status, body) = app.page(&format!("/search?q={q}")).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    #[actix_web::test]
    async fn only_published_public_comments_and_the_coachs_public_answers_are_found() {
        let (app, coach) = site().await;
        let public = comment(
            &app,
            SLUG,
            "robin@example.com",
            "He is my neighbour, we share a quokka garden.",
            &[],
        )
        .await;
        let private = comment(
            &app,
            SLUG,
            "sam@example.com",
            "My neighbour has a quokka too, secretly.",
            &[("private", "1")],
        )
        .await;
        let held = comment(
            &app,
            SLUG,
            "kim@example.com",
            "Our quokka neighbour moved away.",
            &[],
        )
        .await;
        // Held, all three: nothing yet (and the page is now cached).
        let body = search(&app, "quokka").await;
        assert_eq!(comment_part(&body), "", "{body}");

        approve(&app, &coach, public).await;
        approve(&app, &coach, private).await;
        let body = search(&app, "neighbour+quokka").await;
        let found = comment_part(&body);
        assert!(
            found.contains(&format!("href=\"/articles/{SLUG}#comment-{public}\"")),
            "{body}"
        );
        assert!(
            found.contains(
                "He is my <mark>neighbour</mark>, we share a <mark>quokka</mark> garden."
            ),
            "{found}"
        );
        assert!(
            !found.contains(&format!("#comment-{private}")),
            "private stays out"
        );
        assert!(
            !found.contains(&format!("#comment-{held}")),
            "held stays out"
        );
        assert!(!body.contains("secretly") && !body.contains("moved away"));
        assert!(
            body.contains("1 comment by a reader or the coach matches."),
            "{body}"
        );

        // The coach's public answer: found by its own words, under the question.
        admin_post(
            &app,
            &coach,
            &format!("/admin/comments/{public}/reply"),
            &[(
                "body",
                "Wave politely over the fence & keep it <b>short</b>.",
            )],
        )
        .await;
        let body = search(&app, "politely").await;
        let found = comment_part(&body);
        let question = found
            .find(&format!("#comment-{public}\""))
            .expect("the question");
        let answer = found
            .find("Wave <mark>politely</mark> over the fence")
            .expect("the answer");
        assert!(question < answer, "the answer under the question: {found}");
        assert!(
            found.contains("&#38; keep it &#60;b&#62;short&#60;/b&#62;."),
            "escaped, then marked: {found}"
        );
        assert!(found.contains("class=\"badge\""));
        // ...and shown under the question when the question matches.
        let body = search(&app, "garden").await;
        assert!(
            comment_part(&body).contains("Wave politely over the fence"),
            "{body}"
        );

        // The coach's private answer to the private question: for its
        // asker's own page only, never in the search.
        admin_post(
            &app,
            &coach,
            &format!("/admin/comments/{private}/reply"),
            &[("body", "A wombat answer meant for Sam alone.")],
        )
        .await;
        let body = search(&app, "wombat").await;
        assert_eq!(comment_part(&body), "", "{body}");
        assert!(!body.contains("Sam alone"), "{body}");
    }

    #[actix_web::test]
    async fn the_index_follows_edits_trash_and_erasure() {
        let (app, coach) = site().await;
        let id = comment(
            &app,
            SLUG,
            "robin@example.com",
            "We live together with the wombat still.",
            &[],
        )
        .await;
        approve(&app, &coach, id).await;
        assert!(comment_part(&search(&app, "wombat").await).contains(&format!("#comment-{id}")));
        assert!(
            comment_part(&search(&app, "we+live+together").await)
                .contains("<mark>We</mark> <mark>live</mark> <mark>together</mark>"),
            "short words match whole, longer ones as written"
        );

        admin_post(
            &app,
            &coach,
            &format!("/admin/comments/{id}/edit"),
            &[("body", "We live together with the platypus still.")],
        )
        .await;
        assert_eq!(
            comment_part(&search(&app, "wombat").await),
            "",
            "the old words are gone"
        );
        assert!(comment_part(&search(&app, "platypus").await).contains(&format!("#comment-{id}")));

        admin_post(
            &app,
            &coach,
            "/admin/comments/bulk",
            &[("ids", &id.to_string()), ("action", "trash")],
        )
        .await;
        assert_eq!(comment_part(&search(&app, "platypus").await), "", "trashed");
        admin_post(
            &app,
            &coach,
            "/admin/comments/bulk",
            &[("ids", &id.to_string()), ("action", "restore")],
        )
        .await;
        assert!(
            comment_part(&search(&app, "platypus").await).contains(&format!("#comment-{id}")),
            "restored"
        );

        // Erased (`kintsugi erase`, another process): gone from the index in
        // the same transaction; this instance's cached page within a second.
        let out = cli(&app, &["erase", "--email", "ROBIN@example.com"], "", &[]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let terms = db::comment_search::Terms::parse("platypus");
        let left = db::run(&app.pool, move |conn| {
            db::comment_search::matching_ids(conn, &terms, 10)
        })
        .await
        .unwrap();
        assert!(left.is_empty(), "{left:?}");
        eventually("the erased words leave the results page", || async {
            comment_part(&search(&app, "platypus").await).is_empty()
        })
        .await;
    }

    #[actix_web::test]
    async fn articles_come_first_and_comments_group_by_article() {
        let (app, coach) = site().await;
        let a = comment(
            &app,
            SLUG,
            "a@example.com",
            "No contact with my flatmate is hard.",
            &[],
        )
        .await;
        let b = comment(
            &app,
            OTHER,
            "b@example.com",
            "Living with my ex as a flatmate, no contact at home.",
            &[],
        )
        .await;
        let c = comment(
            &app,
            SLUG,
            "c@example.com",
            "My flatmate says no contact is cruel.",
            &[],
        )
        .await;
        for id in [a, b, c] {
            approve(&app, &coach, id).await;
        }
        let body = search(&app, "flatmate").await;
        let found = comment_part(&body);
        assert_eq!(count(found, "<h3"), 2, "two articles: {found}");
        assert_eq!(count(found, "class=\"search-thread\""), 3);
        let first = found.find(&format!("href=\"/articles/{SLUG}\"")).unwrap();
        let second = found.find(&format!("href=\"/articles/{OTHER}\"")).unwrap();
        let a_at = found.find(&format!("#comment-{a}\"")).unwrap();
        let c_at = found.find(&format!("#comment-{c}\"")).unwrap();
        let b_at = found.find(&format!("#comment-{b}\"")).unwrap();
        assert!(first < a_at && first < c_at && c_at < second && a_at < second && second < b_at);
        // Article hits stay first.
        let body = search(&app, "contact").await;
        let articles = body.find("<ol class=\"search-results\">").unwrap();
        let comments = body.find("id=\"search-comments-heading\"").unwrap();
        assert!(articles < comments, "articles first");
        assert!(body.contains("articles match “contact”."), "{body}");
    }

    #[actix_web::test]
    async fn any_input_is_a_search_never_a_syntax_error() {
        let (app, coach) = site().await;
        let id = comment(
            &app,
            SLUG,
            "a@example.com",
            "NEAR the end, don't AND won't * - \"quoted\" ü straße 🙂",
            &[],
        )
        .await;
        approve(&app, &coach, id).await;
        for q in [
            "%22",
            "*",
            "NEAR",
            "NEAR(",
            "-",
            "-quoted",
            "AND",
            "OR+NOT",
            "a%22b",
            "(",
            ")",
            "%5E",
            "%3A",
            "don%27t",
            "%27",
            "%5C",
            "%25",
            "%F0%9F%99%82",
            "stra%C3%9Fe",
            "%C3%BC",
            "quoted*",
            "%22quoted%22",
            "{",
            "col:val",
            "%26%7C%21",
            "won%27t+NEAR",
        ] {
            let (status, body) = app.page(&format!("/search?q={q}")).await;
            assert_eq!(status, 200, "{q}: {body}");
        }
        assert!(
            comment_part(&search(&app, "%22quoted%22").await).contains(&format!("#comment-{id}"))
        );
        assert!(
            comment_part(&search(&app, "stra%C3%9Fe").await).contains(&format!("#comment-{id}"))
        );
        assert!(comment_part(&search(&app, "near").await).contains("<mark>NEAR</mark>"));
    }
}
