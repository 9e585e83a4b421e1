//! Comments: posting, moderation rules, spam defences, threads, privacy.
use kintsugi::db;

use crate::helpers::*;

const SLUG: &str = "going-no-contact";

/// A form post from a browser at `ip` (through the trusted local proxy).
struct Post<'a> {
    name: &'a str,
    email: &'a str,
    body: &'a str,
    extra: Vec<(&'a str, String)>,
    ip: String,
}

impl<'a> Post<'a> {
    fn new(body: &'a str) -> Self {
        Self {
            name: "Sam",
            email: "sam@example.com",
            body,
            extra: Vec::new(),
            ip: "203.0.113.1".into(),
        }
    }
    fn from(mut self, ip: &str) -> Self {
        self.ip = ip.into();
        self
    }
    fn by(mut self, name: &'a str, email: &'a str) -> Self {
        self.name = name;
        self.email = email;
        self
    }
    fn with(mut self, key: &'a str, value: impl Into<String>) -> Self {
        self.extra.push((key, value.into()));
        self
    }
}

impl TestApp {
    async fn post_comment_with(
        &self,
        client: &reqwest::Client,
        post: Post<'_>,
    ) -> reqwest::Response {
        let token = comment_form_token(self, client, SLUG).await;
        let mut fields: Vec<(&str, String)> = vec![
            ("name", post.name.to_string()),
            ("email", post.email.to_string()),
            ("body", post.body.to_string()),
        ];
        if !post.extra.iter().any(|(k, _)| *k == "token") {
            fields.push(("token", token));
        }
        fields.extend(post.extra);
        client
            .post(format!("{}/articles/{SLUG}/comments", self.address))
            .header("X-Forwarded-For", post.ip)
            .form(&fields)
            .send()
            .await
            .unwrap()
    }

    async fn post_comment(&self, post: Post<'_>) -> reqwest::Response {
        self.post_comment_with(&self.client, post).await
    }

    /// Posts and follows the redirect; returns (comment id, page body).
    async fn post_and_follow(&self, client: &reqwest::Client, post: Post<'_>) -> (i64, String) {
        let res = self.post_comment_with(client, post).await;
        assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
        let location = res.headers()["location"].to_str().unwrap().to_string();
        let id = posted_id_in(&location);
        let page = client
            .get(format!(
                "{}{}",
                self.address,
                location.split('#').next().unwrap()
            ))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        (id, page)
    }

    /// Approves as the coach would (the page cache hears of it).
    async fn approve(&self, id: i64) {
        kintsugi::web::admin::moderation::approve_comment(&self.state, id, None)
            .await
            .unwrap();
    }

    async fn stored(&self, id: i64) -> (db::comments::CommentRow, String) {
        db::run(&self.pool, move |conn| db::comments::find(conn, id))
            .await
            .unwrap()
            .unwrap()
    }

    async fn stored_count(&self) -> i64 {
        db::run(&self.pool, db::comments::count_all).await.unwrap()
    }

    /// The article as a stranger sees it.
    async fn public_page(&self, query: &str) -> String {
        client()
            .get(format!("{}/articles/{SLUG}{query}", self.address))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}

fn comment_section(page: &str) -> &str {
    let start = page
        .find("<section class=\"comments\"")
        .expect("a comment section");
    let end = page[start..]
        .find("<form")
        .map_or(page.len(), |e| start + e);
    &page[start..end]
}

#[actix_web::test]
async fn a_first_comment_waits_for_the_coach_and_only_its_writer_sees_it() {
    let app = spawn_app().await;
    let res = app
        .post_comment(Post::new("How long should *no contact* last?"))
        .await;
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with("/articles/going-no-contact?posted=")
            && location.contains("#comment-"),
        "{location}"
    );
    let id: i64 = location.split("#comment-").nth(1).unwrap().parse().unwrap();

    let (_, mine) = app.page(&format!("/articles/{SLUG}?posted={id}")).await;
    assert!(mine.contains("Your comment is waiting for the coach to review it."));
    assert!(mine.contains("The coach reviews everyone’s first comment"));
    assert!(mine.contains(&format!("id=\"comment-{id}\"")));
    assert!(mine.contains("Waiting for the coach to read it"));
    assert!(mine.contains("How long should <em>no contact</em> last?"));

    let theirs = app.public_page("").await;
    assert!(
        !theirs.contains("no contact</em> last"),
        "pending comments are invisible to others"
    );
    assert!(
        !theirs.contains("sam@example.com"),
        "emails are never in the page"
    );
    assert!(
        !mine.contains("sam@example.com"),
        "not even for the writer (remember was off)"
    );
    assert!(
        theirs.contains("<h2 id=\"comments\">Questions and comments</h2>"),
        "count 0"
    );

    let (row, _) = app.stored(id).await;
    assert_eq!(row.status, "pending");
    assert_eq!(row.held_reasons, "first-comment");
}

#[actix_web::test]
async fn an_email_with_an_approved_comment_is_published_at_once_and_counted() {
    let app = spawn_app().await;
    let (first, _) = app
        .post_and_follow(&app.client, Post::new("First question."))
        .await;
    app.approve(first).await;
    let (second, page) = app
        .post_and_follow(&app.client, Post::new("A follow-up.").from("203.0.113.2"))
        .await;
    assert!(
        page.contains("Your comment is published."),
        "{}",
        comment_section(&page)
    );
    assert_eq!(app.stored(second).await.0.status, "approved");

    let public = app.public_page("").await;
    assert!(public.contains("<h2 id=\"comments\">2 comments</h2>"));
    assert!(public.contains("A follow-up.") && public.contains("First question."));
    assert!(
        public.contains("<a href=\"#comments\">2 comments</a>"),
        "count on the article"
    );
    let (_, home) = app.page("/").await;
    assert!(
        home.contains("/articles/going-no-contact#comments\">2 comments</a>"),
        "count in lists"
    );
    let json = public
        .split("application/ld+json\">")
        .nth(1)
        .unwrap()
        .split("</script>")
        .next()
        .unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(json).unwrap()["commentCount"],
        2
    );
}

/// A known writer, so that only the rule under test holds the comment.
async fn known_writer(app: &TestApp) {
    let (id, _) = app
        .post_and_follow(&app.client, Post::new("Hello.").from("198.51.100.1"))
        .await;
    app.approve(id).await;
}

#[actix_web::test]
async fn links_blocked_words_and_personal_details_hold_a_comment() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("kintsugi.toml");
    std::fs::write(&config, "[comments]\nblocklist = [\"casino\"]\n").unwrap();
    let app = spawn_with(Options {
        env: vec![("KINTSUGI_CONFIG", config.display().to_string())],
        ..Options::default()
    })
    .await;
    known_writer(&app).await;
    let cases = [
        (
            "See https://a.example and https://b.example",
            "links",
            false,
        ),
        ("Try the CASINO tonight", "blocked-word", false),
        (
            "His number is 555-123-4567, call him",
            "personal-details",
            true,
        ),
        ("Ask @jonny_b what he did", "personal-details", true),
        ("Write to jo@example.org", "personal-details", true),
    ];
    for (i, (body, reason, warned)) in cases.into_iter().enumerate() {
        let client = client();
        // The same browser as the known writer is not needed: held by text.
        let (id, page) = app
            .post_and_follow(
                &client,
                Post::new(body).from(&format!("192.0.2.{}", i + 10)),
            )
            .await;
        let (row, _) = app.stored(id).await;
        assert_eq!(row.status, "pending", "{body}");
        assert_eq!(row.held_reasons, reason, "{body}");
        assert!(page.contains("waiting for the coach"), "{body}");
        assert_eq!(
            page.contains("Details like these can identify you or your ex"),
            warned,
            "{body}"
        );
        let public = app.public_page("").await;
        assert!(
            !comment_section(&public).contains(&body[..12]),
            "{body} is not public"
        );
    }
    // A plain comment from the known writer is still published.
    let (_, page) = app
        .post_and_follow(&app.client, Post::new("Thank you.").from("192.0.2.99"))
        .await;
    assert!(page.contains("Your comment is published."));
}

#[actix_web::test]
async fn crisis_phrases_hold_the_comment_show_resources_and_mark_it_urgent() {
    let app = spawn_app().await;
    known_writer(&app).await;
    let res = app
        .post_comment_with(
            &app.client,
            Post::new("Some nights I want to die.").from("192.0.2.50"),
        )
        .await;
    let id = posted_id(&res);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    assert!(
        location.starts_with(&format!("/articles/going-no-contact?posted={id}&help="))
            && location.ends_with("#crisis-help"),
        "{location}"
    );
    let (_, page) = app.page(&location).await;
    // The resources come first, above the article, with the reader's own
    // words beside them, and the post lands there.
    let help = page
        .find("<section class=\"crisis-help\" id=\"crisis-help\"")
        .expect("the crisis resources");
    assert!(help < page.find("<article").unwrap(), "above the article");
    let box_html = &page[help..help + page[help..].find("</section>").unwrap()];
    assert!(box_html.contains("local emergency number"));
    assert!(box_html.contains("988"));
    assert!(
        box_html.contains("Some nights I want to die."),
        "their words beside it"
    );
    // No paid offer anywhere on the page that answers a cry for help.
    assert!(!page.contains("Get a personal plan"), "no paid offer");
    assert!(!page.contains("/coaching?article="), "no paid offer");
    let section = comment_section(&page);
    assert!(section.contains(&format!("id=\"comment-{id}\"")));
    let (row, _) = app.stored(id).await;
    assert!(row.is_urgent);
    assert_eq!(row.status, "pending");
    assert!(row.held_reasons.contains("crisis"));
}

#[actix_web::test]
async fn private_questions_are_never_published() {
    let app = spawn_app().await;
    known_writer(&app).await;
    let (id, page) = app
        .post_and_follow(
            &app.client,
            Post::new("Something only for you.")
                .with("private", "1")
                .from("192.0.2.60"),
        )
        .await;
    assert!(page.contains("Your question went privately to the coach."));
    assert!(page.contains("Private question: only you and the coach can see it."));
    let (row, _) = app.stored(id).await;
    assert!(row.is_private);
    // Even approved by mistake, a private question stays off the page.
    app.approve(id).await;
    let public = app.public_page("").await;
    assert!(!public.contains("Something only for you."));
    assert!(
        public.contains("<h2 id=\"comments\">1 comment</h2>"),
        "only the known writer's comment counts"
    );
}

#[actix_web::test]
async fn errors_come_back_with_422_messages_by_their_fields_and_the_text_kept() {
    let app = spawn_app().await;
    let long = "ü".repeat(5001);
    let res = app
        .post_comment(Post::new(&long).by("", "not-an-email"))
        .await;
    assert_eq!(res.status(), 422);
    let page = res.text().await.unwrap();
    assert!(page.contains("id=\"comment-name-error\">Please give a name"));
    assert!(page.contains("aria-describedby=\"comment-name-error\""));
    assert!(page.contains("id=\"comment-email-error\">That does not look like an email address"));
    assert!(page.contains("value=\"not-an-email\""), "input kept");
    assert!(page.contains("Your comment has 5001 characters; the limit is 5000"));
    assert!(page.contains("aria-describedby=\"comment-body-hint comment-body-error\""));
    assert!(
        page.contains(&long),
        "the over-long text is kept whole, not cut"
    );
    assert_eq!(app.stored_count().await, 0, "nothing stored");
}

#[actix_web::test]
async fn unicode_survives_byte_for_byte() {
    let app = spawn_app().await;
    let name = "Zoë 💔 山田 שרה";
    let body = "Ça va 💔🏳️‍🌈 日本語 עברית e\u{301} — 𝔘𝔫𝔦𝔠𝔬𝔡𝔢";
    let (id, _) = app
        .post_and_follow(&app.client, Post::new(body).by(name, "zoe@example.com"))
        .await;
    let (row, markdown) = app.stored(id).await;
    assert_eq!(row.author_name, name);
    assert_eq!(markdown, body);
    app.approve(id).await;
    let public = app.public_page("").await;
    assert!(public.contains(name) && public.contains(body));
}

#[actix_web::test]
async fn nul_bytes_and_broken_form_encoding_get_a_400_page() {
    let app = spawn_app().await;
    let res = app.post_comment(Post::new("a\0b")).await;
    let status = res.status();
    let body = res.text().await.unwrap();
    assert_eq!(
        status,
        400,
        "{}",
        body.split("<main").nth(1).unwrap_or(&body)
    );
    // The reader is told plainly (the technical reason goes to the log).
    assert!(body.contains("The form could not be read."));
    let res = app
        .client
        .post(format!("{}/articles/{SLUG}/comments", app.address))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("name=%FF%FE&email=a%40b.co&body=x")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("could not be read"));
    assert_eq!(app.stored_count().await, 0);
}

#[actix_web::test]
async fn the_honeypot_stores_nothing_and_too_fast_posts_are_kept_as_spam() {
    let app = spawn_with(Options {
        env: vec![("KINTSUGI_COMMENT_MIN_SECONDS", "3".into())],
        ..Options::default()
    })
    .await;
    let res = app
        .post_comment(Post::new("buy now").with("website", "http://spam.example"))
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(app.stored_count().await, 0, "honeypot hits are not stored");

    let res = app
        .post_comment(Post::new("Too quick.").from("192.0.2.70"))
        .await;
    assert_eq!(res.status(), 303);
    let id: i64 = res.headers()["location"]
        .to_str()
        .unwrap()
        .split("#comment-")
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        app.stored(id).await.0.status,
        "spam",
        "recorded, not published"
    );
    assert!(!app.public_page("").await.contains("Too quick."));
}

#[actix_web::test]
async fn forged_tokens_and_duplicates_are_refused_with_the_text_kept() {
    let app = spawn_app().await;
    let res = app
        .post_comment(Post::new("Forged.").with("token", "123.abc"))
        .await;
    assert_eq!(res.status(), 422);
    let page = res.text().await.unwrap();
    assert!(page.contains("please send it again") && page.contains(">Forged.</textarea>"));

    let (_, _) = app
        .post_and_follow(&app.client, Post::new("Same words."))
        .await;
    let res = app
        .post_comment(Post::new("Same words.").from("192.0.2.80"))
        .await;
    assert_eq!(res.status(), 422);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("You already sent this same comment"));
    assert_eq!(app.stored_count().await, 1);
}

#[actix_web::test]
async fn posting_too_often_gets_429_with_a_retry_time_and_the_text_kept() {
    let app = spawn_app().await;
    assert_eq!(app.post_comment(Post::new("One.")).await.status(), 303);
    let res = app.post_comment(Post::new("Two.")).await;
    assert_eq!(res.status(), 429);
    let retry: i64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=15).contains(&retry), "{retry}");
    let page = res.text().await.unwrap();
    assert!(page.contains("Please wait") && page.contains(">Two.</textarea>"));
    // Another address is not limited.
    assert_eq!(
        app.post_comment(Post::new("Three.").from("203.0.113.99"))
            .await
            .status(),
        303
    );
}

#[actix_web::test]
async fn a_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored() {
    let app = spawn_with(Options {
        env: vec![("KINTSUGI_TRUSTED_PROXIES", String::new())],
        ..Options::default()
    })
    .await;
    assert_eq!(
        app.post_comment(Post::new("One.").from("203.0.113.1"))
            .await
            .status(),
        303
    );
    assert_eq!(
        app.post_comment(Post::new("Two.").from("203.0.113.2"))
            .await
            .status(),
        429
    );
}

#[actix_web::test]
async fn fifty_parallel_posts_from_one_address_store_exactly_one() {
    let app = std::rc::Rc::new(spawn_app().await);
    let mut tokens = Vec::new();
    for _ in 0..50 {
        tokens.push(comment_form_token(&app, &app.client, SLUG).await);
    }
    let mut handles = Vec::new();
    for (i, token) in tokens.into_iter().enumerate() {
        let app = app.clone();
        handles.push(actix_web::rt::spawn(async move {
            app.client
                .post(format!("{}/articles/{SLUG}/comments", app.address))
                .header("X-Forwarded-For", "203.0.113.50")
                .form(&[
                    ("name", "Flood".to_string()),
                    ("email", format!("flood{i}@example.com")),
                    ("body", format!("Parallel comment {i}")),
                    ("token", token),
                ])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for h in handles {
        statuses.push(h.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 303).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        49,
        "{statuses:?}"
    );
    assert_eq!(app.stored_count().await, 1);
}

#[actix_web::test]
async fn sixty_parallel_posts_from_sixty_addresses_are_all_stored_and_acknowledged() {
    // On SQLite these share commits (group commit); every 303 is a stored row.
    let app = std::rc::Rc::new(spawn_app().await);
    let mut tokens = Vec::new();
    for _ in 0..60 {
        tokens.push(comment_form_token(&app, &app.client, SLUG).await);
    }
    let mut handles = Vec::new();
    for (i, token) in tokens.into_iter().enumerate() {
        let app = app.clone();
        handles.push(actix_web::rt::spawn(async move {
            app.client
                .post(format!("{}/articles/{SLUG}/comments", app.address))
                .header("X-Forwarded-For", format!("198.18.0.{}", i + 1))
                .form(&[
                    ("name", "Crowd".to_string()),
                    ("email", format!("crowd{i}@example.com")),
                    ("body", format!("Parallel comment number {i}")),
                    ("token", token),
                ])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for h in handles {
        statuses.push(h.await.unwrap());
    }
    assert!(statuses.iter().all(|s| *s == 303), "{statuses:?}");
    assert_eq!(app.stored_count().await, 60);
}

#[actix_web::test]
async fn replies_nest_three_levels_and_deeper_ones_say_whom_they_answer() {
    let app = spawn_app().await;
    let (a, _) = app
        .post_and_follow(
            &app.client,
            Post::new("Level one.")
                .by("Ana", "ana@example.com")
                .from("192.0.2.1"),
        )
        .await;
    app.approve(a).await;
    let reply = |parent: i64, body: &'static str, name: &'static str, ip: &'static str| {
        Post::new(body)
            .by(name, "ana@example.com")
            .with("parent", parent.to_string())
            .from(ip)
    };
    let (b, _) = app
        .post_and_follow(&app.client, reply(a, "Level two.", "Ben", "192.0.2.2"))
        .await;
    let (c, _) = app
        .post_and_follow(&app.client, reply(b, "Level three.", "Cat", "192.0.2.3"))
        .await;
    let (d, page) = app
        .post_and_follow(&app.client, reply(c, "Level four.", "Dan", "192.0.2.4"))
        .await;
    let section = comment_section(&page);
    assert!(section.contains(&format!(
        "class=\"comment comment--depth-0\" id=\"comment-{a}\""
    )));
    assert!(section.contains(&format!(
        "class=\"comment comment--depth-1\" id=\"comment-{b}\""
    )));
    assert!(section.contains(&format!(
        "class=\"comment comment--depth-2\" id=\"comment-{c}\""
    )));
    assert!(
        section.contains(&format!(
            "class=\"comment comment--depth-2\" id=\"comment-{d}\""
        )),
        "capped at level three"
    );
    let d_html = section
        .split(&format!("id=\"comment-{d}\""))
        .nth(1)
        .unwrap();
    assert!(d_html.contains("replying to Cat"));
    assert!(section.find(&format!("comment-{a}\"")) < section.find(&format!("comment-{b}\"")));
    assert!(section.find(&format!("comment-{c}\"")) < section.find(&format!("comment-{d}\"")));
    let (row, _) = app.stored(d).await;
    assert_eq!(
        (row.parent_id, row.reply_to_id, row.root_id),
        (Some(b), Some(c), Some(a))
    );

    // The reply link leads to the form set to answer that comment.
    let (_, reply_page) = app.page(&format!("/articles/{SLUG}?replyto={b}")).await;
    assert!(reply_page.contains("Your reply to Ben"));
    assert!(reply_page.contains(&format!("name=\"parent\" value=\"{b}\"")));
    // Replying to a comment of another article is refused.
    let res = app
        .post_comment(reply(999_999, "Lost.", "Eve", "192.0.2.9"))
        .await;
    assert_eq!(res.status(), 422);
}

#[actix_web::test]
async fn long_threads_page_by_fifty() {
    let app = spawn_app().await;
    let (first, _) = app
        .post_and_follow(&app.client, Post::new("Thread 0").from("10.1.0.0"))
        .await;
    app.approve(first).await;
    for i in 1..101 {
        let body = format!("Thread {i}");
        let res = app
            .post_comment(Post::new(&body).from(&format!("10.1.{}.{}", i / 200, i % 200 + 1)))
            .await;
        assert_eq!(res.status(), 303);
    }
    let page1 = app.public_page("").await;
    assert!(page1.contains("<h2 id=\"comments\">101 comments</h2>"));
    assert_eq!(
        count(comment_section(&page1), "class=\"comment comment--depth-0"),
        50
    );
    assert!(page1.contains(
        "href=\"/articles/going-no-contact?cpage=2#comments\" rel=\"next\">Newer comments"
    ));
    assert!(
        page1.contains("href=\"/articles/going-no-contact?cpage=3#comments\">Newest comments"),
        "newest page linked"
    );
    let page2 = app.public_page("?cpage=2").await;
    assert_eq!(
        count(comment_section(&page2), "class=\"comment comment--depth-0"),
        50
    );
    assert!(
        !page2.contains("Newest comments"),
        "the next page is the newest"
    );
    let page3 = app.public_page("?cpage=3").await;
    assert_eq!(
        count(comment_section(&page3), "class=\"comment comment--depth-0"),
        1
    );
    assert!(page3.contains("Thread 100"));
    assert_eq!(app.page(&format!("/articles/{SLUG}?cpage=4")).await.0, 404);
}

#[actix_web::test]
async fn no_executable_markup_survives_from_names_or_bodies() {
    let app = spawn_app().await;
    let vectors = [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "<svg onload=alert(1)><circle r=1></svg>",
        "<a href=\"javascript:alert(1)\">x</a>",
        "[click](javascript:alert(1))",
        "[click](&#106;avascript:alert(1))",
        "[click](jav&#x09;ascript:alert(1))",
        "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "<iframe src=\"https://evil.example\"></iframe>",
        "<div style=\"background:url(javascript:alert(1))\">x</div>",
        "<<script>script>alert(1)<</script>/script>",
        "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
        "\"><script>alert(1)</script>",
        "<body onload=alert(1)>",
        "![x](javascript:alert(1))",
        "<details open ontoggle=alert(1)>",
        "`<script>alert(1)</script>`",
    ];
    let (first, _) = app
        .post_and_follow(
            &app.client,
            Post::new("Hi.")
                .by("Known", "x@example.com")
                .from("10.2.0.1"),
        )
        .await;
    app.approve(first).await;
    for (i, v) in vectors.iter().enumerate() {
        let res = app
            .post_comment(
                Post::new(v)
                    .by(v.get(..80.min(v.len())).unwrap_or("x"), "x@example.com")
                    .from(&format!("10.2.1.{i}")),
            )
            .await;
        assert_eq!(res.status(), 303, "{v}");
    }
    let page = app.public_page("").await;
    let section = comment_section(&page);
    assert_eq!(
        count(section, "class=\"comment "),
        vectors.len() + 1,
        "all published"
    );
    // Text is escaped, so every `<` left in the section opens a real tag.
    let tags: Vec<String> = section
        .split('<')
        .skip(1)
        .map(|t| t.split('>').next().unwrap_or("").to_lowercase())
        .collect();
    for tag in &tags {
        let name = tag
            .trim_start_matches('/')
            .split_whitespace()
            .next()
            .unwrap_or("");
        assert!(
            [
                "section",
                "h2",
                "ol",
                "li",
                "p",
                "span",
                "a",
                "time",
                "div",
                "em",
                "strong",
                "code",
                "pre",
                "blockquote",
                "ul",
                "br",
                "del",
                "hr",
                "!--"
            ]
            .contains(&name),
            "unexpected tag <{tag}>"
        );
        for bad in ["javascript:", "data:", " on", "style="] {
            assert!(!tag.contains(bad), "{bad} in <{tag}>");
        }
    }
}

#[actix_web::test]
async fn at_most_three_comments_a_minute_per_address() {
    let app = spawn_app().await;
    let record = |i: i64| db::comments::NewCommentRecord {
        article_slug: SLUG.into(),
        reply_to: None,
        author_name: "Sam".into(),
        author_email: format!("sam{i}@example.com"),
        body_markdown: format!("Comment {i}"),
        body_html: format!("<p>Comment {i}</p>"),
        is_private: false,
        is_urgent: false,
        held_reasons: Vec::new(),
        spam: false,
        notify_replies: false,
        owner_token_hash: "x".into(),
        ip_hash: "same-address".into(),
        now: (chrono::Utc::now() + chrono::Duration::seconds(i)).naive_utc(),
    };
    let limits = db::comments::PostLimits {
        per_minute: 3,
        min_interval_seconds: 0,
    };
    for i in 0..4 {
        let r = record(i);
        let outcome = db::run(&app.pool, move |conn| {
            Ok(db::comments::post(conn, &r, limits)
                .map(|s| s.id)
                .map_err(|e| e.to_string()))
        })
        .await
        .unwrap();
        if i < 3 {
            assert!(outcome.is_ok(), "post {i}: {outcome:?}");
        } else {
            let err = outcome.unwrap_err();
            assert!(err.contains("retry in 57 s"), "{err}");
        }
    }
}

#[actix_web::test]
async fn comment_feeds_carry_only_approved_public_comments_and_no_emails() {
    let app = spawn_app().await;
    let (approved, _) = app
        .post_and_follow(&app.client, Post::new("Published words.").from("10.3.0.1"))
        .await;
    app.approve(approved).await;
    app.post_and_follow(
        &app.client,
        Post::new("Pending words https://a.example https://b.example").from("10.3.0.2"),
    )
    .await;
    let (private, _) = app
        .post_and_follow(
            &app.client,
            Post::new("Private words.")
                .with("private", "1")
                .from("10.3.0.3"),
        )
        .await;
    app.approve(private).await;
    for path in ["/comments.xml", "/articles/going-no-contact/comments.xml"] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(
            res.headers()["content-type"],
            "application/atom+xml; charset=utf-8"
        );
        let xml = res.text().await.unwrap();
        let mut reader = quick_xml::Reader::from_str(&xml);
        while reader.read_event().expect("well-formed XML") != quick_xml::events::Event::Eof {}
        assert!(xml.contains("Published words."), "{path}");
        assert!(xml.contains(&format!(
            "https://coach.example/articles/going-no-contact#comment-{approved}"
        )));
        assert!(
            !xml.contains("Pending words") && !xml.contains("Private words"),
            "{path}"
        );
        assert!(!xml.contains("sam@example.com"), "{path}");
    }
    assert_eq!(app.page("/articles/no-such/comments.xml").await.0, 404);
    // Sitemap, search and the site feed know nothing of comments.
    for path in ["/sitemap.xml", "/feed.xml", "/search?q=pending"] {
        assert!(!app.page(path).await.1.contains("Pending words"), "{path}");
    }
}

#[actix_web::test]
async fn writers_can_change_or_delete_their_comment_for_fifteen_minutes() {
    let app = spawn_app().await;
    let (id, page) = app
        .post_and_follow(&app.client, Post::new("First draft.").from("10.4.0.1"))
        .await;
    assert!(page.contains(&format!("href=\"/comments/{id}/edit\"")));
    app.approve(id).await;
    assert!(
        !app.public_page("").await.contains("/edit\""),
        "strangers get no edit link"
    );

    let (status, form) = app.page(&format!("/comments/{id}/edit")).await;
    assert_eq!(status, 200);
    assert!(form.contains(">First draft.</textarea>"));
    // Someone else's browser may not.
    let stranger = client();
    let res = stranger
        .get(format!("{}/comments/{id}/edit", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = stranger
        .post(format!("{}/comments/{id}/delete", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    let res = app
        .client
        .post(format!("{}/comments/{id}/edit", app.address))
        .form(&[("body", "x".repeat(5001))])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let res = app
        .client
        .post(format!("{}/comments/{id}/edit", app.address))
        .form(&[("body", "Second *thoughts*.")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let public = app.public_page("").await;
    assert!(public.contains("Second <em>thoughts</em>.") && public.contains("(edited)"));
    assert!(!public.contains("First draft."));

    // A change that adds personal details goes back to the coach.
    let res = app
        .client
        .post(format!("{}/comments/{id}/edit", app.address))
        .form(&[("body", "Call me on 555-123-4567")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(app.stored(id).await.0.status, "pending");

    let res = app
        .client
        .post(format!("{}/comments/{id}/delete", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(app.stored_count().await, 0, "deleted for good");

    // After the window, no more changes.
    let (old, _) = app
        .post_and_follow(&app.client, Post::new("Older.").from("10.4.0.2"))
        .await;
    db::run(&app.pool, move |conn| db::comments::backdate(conn, old, 16))
        .await
        .unwrap();
    let (status, body) = app.page(&format!("/comments/{old}/edit")).await;
    assert_eq!(status, 403);
    assert!(body.contains("that time has passed"));
}

#[actix_web::test]
async fn a_comment_form_sent_from_another_site_is_refused_and_nothing_stored() {
    let app = spawn_app().await;
    let token = comment_form_token(&app, &app.client, SLUG).await;
    for (header, value) in [
        ("Origin", "https://evil.example"),
        ("Sec-Fetch-Site", "cross-site"),
    ] {
        let res = app
            .client
            .post(format!("{}/articles/{SLUG}/comments", app.address))
            .header(header, value)
            .form(&[
                ("name", "Sam"),
                ("email", "sam@example.com"),
                ("body", "Hello"),
                ("token", token.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403);
        assert!(res.text().await.unwrap().contains("nothing was stored"));
    }
    assert_eq!(app.stored_count().await, 0);
    // The site's own origin is fine.
    let res = app
        .post_comment(Post::new("Hello from the page itself").with("token", token))
        .await;
    assert_eq!(res.status(), 303);
    // Changing or deleting one's own comment from another site: the same
    // refusal (the owner cookie alone proves nothing about the page).
    let id = posted_id(&res);
    for action in ["edit", "delete"] {
        let res = app
            .client
            .post(format!("{}/comments/{id}/{action}", app.address))
            .header("Sec-Fetch-Site", "cross-site")
            .form(&[("body", "Changed from elsewhere")])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{action}");
        assert!(res.text().await.unwrap().contains("nothing was stored"));
    }
    let (_, page) = app.page(&format!("/articles/{SLUG}")).await;
    assert!(page.contains("Hello from the page itself"));
    assert!(!page.contains("Changed from elsewhere"));
}

/// Page by page, the threads read a page at a time are exactly the
/// threads of the whole discussion (every comment a reader may see, put in
/// threads in memory): with replies whose parent was taken down, private
/// and held comments, the reader's own held ones, and a parent deleted for
/// good.
#[actix_web::test]
async fn thread_pages_are_the_whole_discussion_cut_in_pages() {
    use diesel::prelude::*;
    use kintsugi::db::schema::comments;
    use kintsugi::domain::thread;
    let app = spawn_app().await;
    let statuses = [
        "approved", "approved", "approved", "pending", "trash", "spam",
    ];
    let mut seed: u64 = 42;
    let mut next = move || {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) as usize
    };
    let mut placed: Vec<(i64, Option<i64>)> = Vec::new(); // (id, root)
    let mut conn = app.pool.get().unwrap();
    for i in 0..400 {
        let parent = (!placed.is_empty() && next() % 3 != 0).then(|| placed[next() % placed.len()]);
        let (parent_sql, root) = match parent {
            Some((pid, proot)) => (pid.to_string(), Some(proot.unwrap_or(pid))),
            None => ("NULL".to_string(), None),
        };
        let root_sql = root.map_or("NULL".to_string(), |r| r.to_string());
        let status = statuses[next() % statuses.len()];
        let private = if next() % 10 == 0 { "TRUE" } else { "FALSE" };
        diesel::sql_query(format!(
            "INSERT INTO comments (article_slug, parent_id, root_id, depth, author_name, \
             author_email, body_markdown, body_html, status, is_private, created_at) VALUES \
             ('{SLUG}', {parent_sql}, {root_sql}, 0, 'N{i}', 'n{i}@example.com', 'b', \
             '<p>b</p>', '{status}', {private}, CURRENT_TIMESTAMP)"
        ))
        .execute(&mut conn)
        .unwrap();
        let id: i64 = comments::table
            .select(diesel::dsl::max(comments::id))
            .first::<Option<i64>>(&mut conn)
            .unwrap()
            .unwrap();
        placed.push((id, root));
    }
    // The kept counts follow every kind of change, several rows at once:
    // parents and their replies taken down and put back in one statement,
    // made private, deleted for good with their replies (ON DELETE SET
    // NULL), a reply moved by hand.
    let kept_right = |conn: &mut db::Db, what: &str| {
        assert_eq!(
            db::comments::counts(conn, SLUG).unwrap(),
            db::comments::recount(conn, SLUG).unwrap(),
            "after {what}"
        );
    };
    kept_right(&mut conn, "inserts");
    let ids = |from: usize, step: usize| {
        placed
            .iter()
            .skip(from)
            .step_by(step)
            .map(|(id, _)| id.to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    for (what, sql) in [
        ("a mass take-down", format!("UPDATE comments SET status = 'trash' WHERE id IN ({})", ids(0, 4))),
        ("approving all held", "UPDATE comments SET status = 'approved' WHERE status = 'pending'".to_string()),
        ("making some private", format!("UPDATE comments SET is_private = TRUE WHERE id IN ({})", ids(1, 9))),
        ("putting back", format!("UPDATE comments SET status = 'approved' WHERE id IN ({})", ids(0, 8))),
        ("an edit that keeps the status", format!("UPDATE comments SET status = status, body_html = '<p>c</p>' WHERE id IN ({})", ids(2, 5))),
        ("deleting parents and replies together", format!("DELETE FROM comments WHERE id IN ({})", ids(3, 11))),
        ("moving a reply to the top", format!("UPDATE comments SET parent_id = NULL WHERE id = (SELECT MAX(id) FROM comments WHERE parent_id IS NOT NULL AND article_slug = '{SLUG}')")),
    ] {
        diesel::sql_query(sql).execute(&mut conn).unwrap();
        kept_right(&mut conn, what);
    }
    // A parent deleted for good: its replies' parent becomes NULL.
    let gone = placed[5].0;
    diesel::sql_query(format!(
        "UPDATE comments SET parent_id = NULL WHERE parent_id = {gone}"
    ))
    .execute(&mut conn)
    .unwrap();
    diesel::sql_query(format!("DELETE FROM comments WHERE id = {gone}"))
        .execute(&mut conn)
        .unwrap();
    kept_right(&mut conn, "a parent deleted by hand");
    let all: Vec<db::comments::CommentRow> = comments::table
        .filter(comments::article_slug.eq(SLUG))
        .select(db::comments::CommentRow::as_select())
        .load(&mut conn)
        .unwrap();
    // Readers: a stranger, and one whose own comments include held ones.
    let own: Vec<i64> = all
        .iter()
        .filter(|r| r.status != "approved")
        .map(|r| r.id)
        .step_by(3)
        .collect();
    for own_ids in [Vec::new(), own] {
        let visible: Vec<db::comments::CommentRow> = all
            .iter()
            .filter(|r| (r.status == "approved" && !r.is_private) || own_ids.contains(&r.id))
            .cloned()
            .collect();
        let expected: Vec<Vec<(usize, i64)>> = thread::threads(visible)
            .into_iter()
            .map(|t| t.into_iter().map(|(d, r)| (d, r.id)).collect())
            .collect();
        let per_page = 7;
        let mut got: Vec<Vec<(usize, i64)>> = Vec::new();
        for page in 0.. {
            let found =
                db::comments::thread_page(&mut conn, SLUG, &own_ids, page, per_page).unwrap();
            assert_eq!(found.threads as usize, expected.len());
            if found.heads.is_empty() {
                break;
            }
            let mut threads: std::collections::HashMap<i64, Vec<(usize, i64)>> =
                thread::threads(found.rows)
                    .into_iter()
                    .map(|t| (t[0].1.id, t.into_iter().map(|(d, r)| (d, r.id)).collect()))
                    .collect();
            got.extend(found.heads.iter().map(|h| threads.remove(h).unwrap()));
            // Every comment of the page's threads knows its page.
            for thread in &got[got.len() - found.heads.len()..] {
                for (_, id) in thread {
                    assert_eq!(
                        db::comments::page_of(&mut conn, SLUG, &own_ids, *id, per_page).unwrap(),
                        Some(page)
                    );
                }
            }
        }
        assert_eq!(got, expected);
    }
}

/// A comment is acknowledged (its 303) only once it is on disk: the real
/// binary is killed with SIGKILL while posts are in flight, and every
/// acknowledged comment is in the database afterwards.
#[actix_web::test]
async fn acknowledged_comments_survive_the_process_being_killed() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let data = tempfile::tempdir().unwrap();
    let server = Binary::start(
        &sample_content_dir(),
        data.path(),
        &[
            ("KINTSUGI_TRUSTED_PROXIES", "127.0.0.1"),
            ("KINTSUGI_COMMENT_MIN_SECONDS", "0"),
        ],
    )
    .await;
    let base = server.base.clone();
    let reader = client();
    let page = reader
        .get(format!("{base}/articles/{SLUG}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = page
        .split("name=\"token\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let acknowledged = Arc::new(AtomicUsize::new(0));
    let mut posts = Vec::new();
    for i in 0..400 {
        let (base, token, acknowledged) = (base.clone(), token.clone(), acknowledged.clone());
        posts.push(actix_web::rt::spawn(async move {
            let res = client()
                .post(format!("{base}/articles/{SLUG}/comments"))
                .header(
                    "X-Forwarded-For",
                    format!("10.7.{}.{}", i / 250, i % 250 + 1),
                )
                .form(&[
                    ("name", "Dana".to_string()),
                    ("email", format!("d{i}@example.com")),
                    ("body", format!("Durable number {i}")),
                    ("token", token),
                ])
                .send()
                .await;
            let ok = matches!(&res, Ok(r) if r.status() == 303);
            if ok {
                acknowledged.fetch_add(1, Ordering::SeqCst);
            }
            (i, ok)
        }));
    }
    // Killed once some posts are acknowledged, with others in flight.
    eventually("some posts are acknowledged", || async {
        acknowledged.load(Ordering::SeqCst) >= 40
    })
    .await;
    server.signal("KILL");
    let database_url = server.database_url.clone();
    drop(server);
    let mut acked = Vec::new();
    for post in posts {
        let (i, ok) = post.await.unwrap();
        if ok {
            acked.push(i);
        }
    }
    assert!(acked.len() >= 40);
    let url = kintsugi::config::DatabaseUrl::parse(&database_url).unwrap();
    let pool = db::pool(&url, 1, std::time::Duration::from_secs(5)).unwrap();
    let stored: Vec<String> = {
        use diesel::prelude::*;
        use kintsugi::db::schema::comments;
        let mut conn = pool.get().unwrap();
        comments::table
            .select(comments::body_markdown)
            .load(&mut conn)
            .unwrap()
    };
    for i in &acked {
        assert!(
            stored.contains(&format!("Durable number {i}")),
            "comment {i} was acknowledged but is not stored ({} acknowledged, {} stored)",
            acked.len(),
            stored.len()
        );
    }
}

/// Two moderators at once, one approving a held question and the other its
/// held reply: whichever order they commit in, the kept thread count is
/// the one the comments give (on PostgreSQL the second waits for the
/// first's lock on the article's counts, then reads what it committed).
#[actix_web::test]
async fn comment_counts_stay_right_when_moderators_race() {
    use diesel::prelude::*;
    let app = spawn_app().await;
    let mut conn = app.pool.get().unwrap();
    let insert = |conn: &mut db::Db, parent: Option<i64>| -> i64 {
        let parent = parent.map_or("NULL".to_string(), |p| p.to_string());
        diesel::sql_query(format!(
            "INSERT INTO comments (article_slug, parent_id, root_id, depth, author_name, \
             author_email, body_markdown, body_html, status, created_at) VALUES \
             ('{SLUG}', {parent}, {parent}, 0, 'Held', 'held@example.com', 'b', '<p>b</p>', \
             'pending', CURRENT_TIMESTAMP)"
        ))
        .execute(conn)
        .unwrap();
        kintsugi::db::schema::comments::table
            .select(diesel::dsl::max(kintsugi::db::schema::comments::id))
            .first::<Option<i64>>(conn)
            .unwrap()
            .unwrap()
    };
    for round in 0..3 {
        let question = insert(&mut conn, None);
        let reply = insert(&mut conn, Some(question));
        let approve = |id: i64, hold_ms: u64, start_ms: u64| {
            let pool = app.pool.clone();
            std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(start_ms));
                let mut conn = pool.get().unwrap();
                conn.transaction::<_, diesel::result::Error, _>(|c| {
                    diesel::sql_query(format!(
                        "UPDATE comments SET status = 'approved' WHERE id = {id}"
                    ))
                    .execute(c)?;
                    std::thread::sleep(std::time::Duration::from_millis(hold_ms));
                    Ok(())
                })
                .unwrap();
            })
        };
        // Each round a different one goes first and holds its transaction.
        let (first, second) = if round % 2 == 0 {
            (question, reply)
        } else {
            (reply, question)
        };
        let a = approve(first, 300, 0);
        let b = approve(second, 0, 100);
        a.join().unwrap();
        b.join().unwrap();
        assert_eq!(
            db::comments::counts(&mut conn, SLUG).unwrap(),
            db::comments::recount(&mut conn, SLUG).unwrap(),
            "round {round}"
        );
    }
}

#[actix_web::test]
async fn reply_puts_the_form_under_the_comment_it_answers_quoting_it() {
    let app = spawn_app().await;
    let (first, _) = app
        .post_and_follow(
            &app.client,
            Post::new("Day 3.\nStill can't eat much.\nBut I slept 6 hours.").from("198.51.100.2"),
        )
        .await;
    app.approve(first).await;
    let (second, _) = app
        .post_and_follow(
            &client(),
            Post::new("A question of my own.")
                .by("Ana", "ana@example.com")
                .from("198.51.100.3"),
        )
        .await;
    app.approve(second).await;
    let (status, page) = app.page(&format!("/articles/{SLUG}?replyto={first}")).await;
    assert_eq!(status, 200);
    // A single line break stays a line break.
    assert!(page.contains("Day 3.<br>\nStill can’t eat much.<br>\nBut I slept 6 hours."));
    let comment = page.find(&format!("id=\"comment-{first}\"")).unwrap();
    let form = page.find("id=\"comment-form\"").expect("the form");
    let next = page.find(&format!("id=\"comment-{second}\"")).unwrap();
    assert!(
        comment < form && form < next,
        "right under the comment it answers"
    );
    let form_html = &page[form..next];
    assert!(form_html.contains("Your reply to Sam"));
    assert!(form_html.contains(
        "<blockquote class=\"comment-form__quote\"><p>Day 3. Still can’t eat much. But I slept 6 hours.</p></blockquote>"
    ));
    assert!(form_html.contains(&format!("name=\"parent\" value=\"{first}\"")));
    assert_eq!(
        count(&page, "id=\"comment-form\""),
        1,
        "one form on the page"
    );
    assert!(page.contains("Write a new comment instead"));
    // With JavaScript, Reply moves the form there without a reload.
    assert!(page.contains(&format!("data-reply-to=\"{first}\"")));
    assert!(page.contains("/static/js/reply."));
}

#[actix_web::test]
async fn a_refused_comment_gets_an_error_summary_linked_to_its_fields_and_an_error_title() {
    let app = spawn_app().await;
    let res = app
        .post_comment(Post::new("").by("   ", "not-an-address"))
        .await;
    assert_eq!(res.status(), 422);
    let page = res.text().await.unwrap();
    assert!(page.contains("<title>Error: "), "the title says it first");
    let summary = page
        .split("<div class=\"error-summary\"")
        .nth(1)
        .expect("an error summary")
        .split("</div>")
        .next()
        .unwrap();
    assert!(summary.contains("autofocus"), "it takes the focus");
    for field in ["comment-name", "comment-email", "comment-body"] {
        assert!(summary.contains(&format!("href=\"#{field}\"")), "{field}");
        assert!(page.contains(&format!("id=\"{field}\"")));
    }
    // The summary is at the top of the form, before the fields.
    assert!(page.find("error-summary").unwrap() < page.find("id=\"comment-name\"").unwrap());
    // And the form's address has no fragment that would stop the focus.
    assert!(page.contains(&format!("action=\"/articles/{SLUG}/comments\"")));
}

#[actix_web::test]
async fn each_comment_costs_one_tab_stop_and_the_form_is_one_link_away() {
    let app = spawn_app().await;
    for i in 0..3 {
        let body = format!("Comment number {i}.");
        let (id, _) = app
            .post_and_follow(
                &client(),
                Post::new(&body)
                    .by("Kai", "kai@example.com")
                    .from(&format!("198.51.100.{}", 20 + i)),
            )
            .await;
        app.approve(id).await;
    }
    let (_, page) = app.page(&format!("/articles/{SLUG}")).await;
    // Near the top of the article and of the comment section.
    let ask = page
        .find("href=\"#comment-form\">Ask a question</a>")
        .unwrap();
    assert!(ask < page.find("<div class=\"article__body\"").unwrap());
    let jump = page
        .find("href=\"#comment-form\">Write a comment or ask a question</a>")
        .unwrap();
    assert!(jump > page.find("id=\"comments\"").unwrap());
    assert!(jump < page.find("<ol class=\"comment-list\"").unwrap());
    // In each comment, only "Reply" is in the tab order.
    let list = page
        .split("<ol class=\"comment-list\">")
        .nth(1)
        .unwrap()
        .split("</ol>")
        .next()
        .unwrap();
    for item in list.split("<li class=\"comment ").skip(1) {
        let links = item.matches("<a ").count();
        let untabbed = item.matches("tabindex=\"-1\"").count();
        assert_eq!(links - untabbed, 1, "{item}");
    }
    // Textareas carry the server's limits.
    assert!(page.contains("maxlength=\"5000\""));
    assert!(!page.contains("*emphasis*"), "no Markdown jargon");
}

#[actix_web::test]
async fn a_german_site_hears_crisis_in_german_and_shows_german_helplines() {
    let app = spawn_with(Options {
        env: vec![("KINTSUGI_SITE_LANGUAGE", "de".to_string())],
        ..Options::default()
    })
    .await;
    known_writer(&app).await;
    let res = app
        .post_comment_with(
            &app.client,
            Post::new("Seit er weg ist, will ich manchmal nicht mehr leben.").from("192.0.2.60"),
        )
        .await;
    let id = posted_id(&res);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    assert!(location.ends_with("#crisis-help"), "{location}");
    let (_, page) = app.page(&location).await;
    let help = page
        .find("id=\"crisis-help\"")
        .expect("the crisis resources");
    let help = &page[help..help + page[help..].find("</section>").unwrap()];
    assert!(help.contains("Du musst das nicht allein tragen"), "{help}");
    assert!(help.contains("0800 111 0 111"), "German helplines: {help}");
    assert!(
        !help.contains("988"),
        "no US lines on a German site: {help}"
    );
    let (row, _) = app.stored(id).await;
    assert!(row.is_urgent);
    // English crisis words still count on a German site.
    let res = app
        .post_comment_with(
            &client(),
            Post::new("Some nights I want to die.")
                .by("Kim", "kim@example.com")
                .from("192.0.2.61"),
        )
        .await;
    assert!(res.headers()["location"]
        .to_str()
        .unwrap()
        .ends_with("#crisis-help"));
}

#[actix_web::test]
async fn crisis_help_shows_without_cookies_and_on_a_refused_form() {
    let app = spawn_app().await;
    known_writer(&app).await;
    // A browser that keeps no cookies: the signed redirect still shows help.
    let no_cookies = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = app
        .post_comment_with(
            &no_cookies,
            Post::new("Some nights I want to die.").from("192.0.2.70"),
        )
        .await;
    let location = res.headers()["location"].to_str().unwrap().to_string();
    let page = no_cookies
        .get(format!("{}{location}", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"crisis-help\""), "help without cookies");
    assert!(page.contains("Your comment arrived safely."));
    assert!(!page.contains("Get a personal plan"));
    // A made-up signature shows nothing of the kind.
    let forged = location.replace("help=", "help=00");
    let (_, page) = app.page(&forged).await;
    assert!(!page.contains("id=\"crisis-help\""));
    // A form refused (no name) with crisis words: the resources first, the
    // text kept, nothing paid.
    let res = app
        .post_comment(
            Post::new("I want to kill myself tonight.")
                .by("", "sam@example.com")
                .from("192.0.2.71"),
        )
        .await;
    assert_eq!(res.status(), 422);
    let page = res.text().await.unwrap();
    let help = page.find("id=\"crisis-help\"").expect("the resources");
    assert!(help < page.find("<article").unwrap());
    assert!(page.contains("Your comment is not sent yet."));
    assert!(page.contains(">I want to kill myself tonight.</textarea>"));
    assert!(!page.contains("Get a personal plan"));
}

#[actix_web::test]
async fn reply_works_for_a_comment_on_a_later_comment_page() {
    let app = spawn_app().await;
    // 51 threads: the first one ends up on page 1 of 2 (newest last).
    let mut first = None;
    for i in 0..51 {
        let body = format!("Thread number {i}.");
        let (id, _) = app
            .post_and_follow(
                &client(),
                Post::new(&body).by("Pat", "pat@example.com").from(&format!(
                    "198.51.{}.{}",
                    101 + i / 200,
                    i % 200 + 1
                )),
            )
            .await;
        app.approve(id).await;
        first.get_or_insert(id);
    }
    let (_, page2) = app.page(&format!("/articles/{SLUG}?cpage=2")).await;
    let last_id: i64 = page2
        .split("id=\"comment-")
        .skip(1)
        .filter_map(|rest| rest.split('"').next()?.parse().ok())
        .last()
        .unwrap();
    for target in [first.unwrap(), last_id] {
        let (status, page) = app
            .page(&format!("/articles/{SLUG}?replyto={target}"))
            .await;
        assert_eq!(status, 200);
        assert!(
            page.contains(&format!("name=\"parent\" value=\"{target}\"")),
            "the reply form answers #{target}"
        );
        let at = page.find(&format!("id=\"comment-{target}\"")).unwrap();
        assert!(at < page.find("id=\"comment-form\"").unwrap());
    }
    // A refused reply keeps its parent, on whichever page it is.
    let res = app
        .post_comment(
            Post::new("")
                .with("parent", last_id.to_string())
                .from("198.51.120.1"),
        )
        .await;
    assert_eq!(res.status(), 422);
    let page = res.text().await.unwrap();
    assert!(page.contains(&format!("name=\"parent\" value=\"{last_id}\"")));
}
