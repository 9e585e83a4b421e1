//! Security findings of issue 13: comments attached to coaching requests,
//! characters that break feeds, HSTS, secrets in the log, encoded-words in
//! email headers.
use std::path::Path;

use kintsugi::db;
use quick_xml::events::Event;
use quick_xml::Reader;

use crate::helpers::*;

const SLUG: &str = "going-no-contact";
const COACH: &str = "coach@example.com";
const PASSWORD: &str = "tide lantern orchard 42";

/// Posts a comment as `client` (a browser) from `ip`; returns the response.
async fn post_comment(
    app: &TestApp,
    client: &reqwest::Client,
    fields: &[(&str, &str)],
    ip: &str,
) -> reqwest::Response {
    let token = comment_form_token(app, client, SLUG).await;
    let mut form: Vec<(&str, &str)> = fields.to_vec();
    form.push(("token", &token));
    client
        .post(format!("{}/articles/{SLUG}/comments", app.address))
        .header("X-Forwarded-For", ip)
        .form(&form)
        .send()
        .await
        .unwrap()
}

async fn posted(app: &TestApp, client: &reqwest::Client, fields: &[(&str, &str)], ip: &str) -> i64 {
    posted_id(&post_comment(app, client, fields, ip).await)
}

/// A complete coaching request form from `email`, naming comment `comment`.
fn request_form(email: &str, comment: i64) -> Vec<(&'static str, String)> {
    [
        ("name", "Sam"),
        ("email", email),
        ("option", "written-plan"),
        ("ended_by", "they-did"),
        ("together_for", "1-to-3-years"),
        ("ended_ago", "under-a-month"),
        ("contact_now", "occasional"),
        ("hope", "not-sure"),
        ("situation", "We split up last month."),
        ("talk_via", "email"),
        ("adult", "1"),
        ("consent", "1"),
        ("article", SLUG),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_string()))
    .chain([("comment", comment.to_string())])
    .collect()
}

/// Sends a coaching request as `client`; returns the stored request's
/// source comment.
async fn send_request(
    app: &TestApp,
    client: &reqwest::Client,
    form: Vec<(&'static str, String)>,
    ip: &str,
) -> reqwest::Response {
    let page = client
        .get(format!("{}/coaching", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut form = form;
    form.push(("token", field_value(&page, "token")));
    client
        .post(format!("{}/coaching", app.address))
        .header("X-Forwarded-For", ip)
        .form(&form)
        .send()
        .await
        .unwrap()
}

async fn newest_request(app: &TestApp) -> db::coaching::RequestRow {
    db::run(&app.pool, db::coaching::all)
        .await
        .unwrap()
        .into_iter()
        .max_by_key(|r| r.id)
        .expect("a stored request")
}

async fn coach_client(app: &TestApp) -> reqwest::Client {
    let hash = kintsugi::passwords::hash(PASSWORD).unwrap();
    db::run(&app.pool, move |conn| {
        Ok(db::admins::create(conn, COACH, "Maya", &hash, chrono::Utc::now().naive_utc()).unwrap())
    })
    .await
    .unwrap();
    let coach = client();
    let (_, page) = app.page("/admin/login").await;
    let res = coach
        .post(format!("{}/admin/login", app.address))
        .form(&[
            ("email", COACH),
            ("password", PASSWORD),
            ("token", &field_value(&page, "token")),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    coach
}

#[actix_web::test]
async fn a_coaching_request_attaches_only_a_published_or_own_comment() {
    let app = spawn_with(Options {
        env: vec![("KINTSUGI_BASE_URL", "http://127.0.0.1".to_string())],
        ..Options::default()
    })
    .await;
    // Somebody's private question, and a published comment.
    let victim = client();
    let secret = "My private question about my divorce lawyer.";
    let private = posted(
        &app,
        &victim,
        &[
            ("name", "Victim"),
            ("email", "victim@example.com"),
            ("body", secret),
            ("private", "1"),
        ],
        "198.51.100.1",
    )
    .await;
    let public = posted(
        &app,
        &victim,
        &[
            ("name", "Victim"),
            ("email", "victim@example.com"),
            ("body", "A public thought."),
        ],
        "198.51.100.2",
    )
    .await;
    kintsugi::web::admin::moderation::approve_comment(&app.state, public, None)
        .await
        .unwrap();

    // A stranger naming the private question: not attached.
    let stranger = client();
    let res = send_request(
        &app,
        &stranger,
        request_form("stranger@example.com", private),
        "198.51.100.3",
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(newest_request(&app).await.source_comment_id, None);
    // Nor a made-up id.
    send_request(
        &app,
        &stranger,
        request_form("stranger2@example.com", 999_999),
        "198.51.100.4",
    )
    .await;
    assert_eq!(newest_request(&app).await.source_comment_id, None);
    // A published comment may be named by anyone.
    send_request(
        &app,
        &stranger,
        request_form("stranger3@example.com", public),
        "198.51.100.5",
    )
    .await;
    assert_eq!(newest_request(&app).await.source_comment_id, Some(public));
    // The writer's own private question, from their browser: attached.
    send_request(
        &app,
        &victim,
        request_form("victim@example.com", private),
        "198.51.100.6",
    )
    .await;
    let own = newest_request(&app).await;
    assert_eq!(own.source_comment_id, Some(private));
    // From their browser but another address: attached, yet the coach's
    // page does not show the private text beside that other address.
    send_request(
        &app,
        &victim,
        request_form("someone-else@example.com", private),
        "198.51.100.7",
    )
    .await;
    let other = newest_request(&app).await;
    assert_eq!(other.source_comment_id, Some(private));
    let coach = coach_client(&app).await;
    let page = |id: i64| {
        let coach = coach.clone();
        let url = format!("{}/admin/requests/{id}", app.address);
        async move {
            let res = coach.get(url).send().await.unwrap();
            assert_eq!(res.status(), 200);
            res.text().await.unwrap()
        }
    };
    assert!(page(own.id).await.contains(secret), "their own request");
    assert!(!page(other.id).await.contains(secret), "another address");
}

/// Every character of `xml` is one XML 1.0 allows, and the whole document
/// parses.
fn assert_well_formed(xml: &str) {
    let bad: Vec<char> = xml
        .chars()
        .filter(|c| {
            !matches!(*c,
                '\t' | '\n' | '\r'
                | '\u{20}'..='\u{D7FF}'
                | '\u{E000}'..='\u{FFFD}'
                | '\u{10000}'..='\u{10FFFF}')
        })
        .collect();
    assert!(bad.is_empty(), "characters XML forbids: {bad:?}");
    let mut reader = Reader::from_str(xml);
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::GeneralRef(r) => {
                let char_ref = r.resolve_char_ref().expect("a valid character reference");
                assert!(
                    char_ref.is_some()
                        || quick_xml::escape::resolve_predefined_entity(r.as_ref()).is_some(),
                    "an entity XML does not define: &{};",
                    r.as_ref()
                );
            }
            Event::Eof => break,
            _ => {}
        }
    }
}

#[actix_web::test]
async fn a_stored_comment_with_forbidden_characters_never_breaks_the_feeds() {
    use diesel::prelude::*;
    use diesel::sql_types::Text;
    let app = spawn_app().await;
    let mut conn = app.pool.get().unwrap();
    diesel::sql_query(
        "INSERT INTO comments (article_slug, depth, author_name, author_email, \
         body_markdown, body_html, status, created_at) VALUES ($1, 0, $2, \
         'legacy@example.com', $3, $4, 'approved', CURRENT_TIMESTAMP)",
    )
    .bind::<Text, _>(SLUG)
    .bind::<Text, _>("Old\u{1}Name\u{FFFF}")
    .bind::<Text, _>("bell\u{7} and \u{FFFE}")
    // PostgreSQL cannot store a NUL at all; SQLite can.
    .bind::<Text, _>(match backend() {
        Backend::Sqlite => "<p>bell\u{7} vt\u{B} nul\u{0} and \u{FFFE}\u{FFFF}</p>",
        Backend::Postgres(_) => "<p>bell\u{7} vt\u{B} and \u{FFFE}\u{FFFF}</p>",
    })
    .execute(&mut conn)
    .unwrap();
    app.state.page_cache.all_comments_changed();
    for path in [
        "/comments.xml".to_string(),
        format!("/articles/{SLUG}/comments.xml"),
        "/feed.xml".to_string(),
        "/sitemap.xml".to_string(),
    ] {
        let res = app.get(&path).await;
        assert_eq!(res.status(), 200, "{path}");
        let xml = res.text().await.unwrap();
        assert_well_formed(&xml);
        if path.contains("comments") {
            assert!(xml.contains("bell"), "{path}: the comment is in the feed");
            assert!(xml.contains("Old\u{FFFD}Name"), "{path}");
        }
    }
}

#[actix_web::test]
async fn control_characters_and_noncharacters_are_refused_with_a_message() {
    let app = spawn_app().await;
    for (i, (name, body)) in [
        ("Sam", "A line\u{1}with a control character."),
        ("Sam", "Ends in a noncharacter \u{FFFF} here."),
        ("Sam\u{FFFF}", "A fine body."),
    ]
    .into_iter()
    .enumerate()
    {
        let reader = client();
        let res = post_comment(
            &app,
            &reader,
            &[("name", name), ("email", "sam@example.com"), ("body", body)],
            &format!("198.51.100.{}", 20 + i),
        )
        .await;
        assert_eq!(res.status(), 422, "{name:?} {body:?}");
        let page = res.text().await.unwrap();
        assert!(
            page.contains("invisible control characters")
                || page.contains("characters that cannot be shown"),
            "a clear message"
        );
    }
    let stored = db::run(&app.pool, db::comments::count_all).await.unwrap();
    assert_eq!(stored, 0);
}

#[actix_web::test]
async fn hsts_is_sent_for_an_https_site_with_its_configured_lifetime() {
    // The tests' base URL is https://coach.example.
    let app = spawn_app().await;
    let res = app.get("/").await;
    assert_eq!(
        res.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    let res = app.get("/no-such-page").await;
    assert_eq!(
        res.headers()["strict-transport-security"],
        "max-age=31536000",
        "error pages too"
    );
    let app = spawn_with(Options {
        env: vec![("KINTSUGI_HSTS_MAX_AGE", "600".to_string())],
        ..Options::default()
    })
    .await;
    assert_eq!(
        app.get("/").await.headers()["strict-transport-security"],
        "max-age=600"
    );
    let app = spawn_with(Options {
        env: vec![("KINTSUGI_HSTS_MAX_AGE", "0".to_string())],
        ..Options::default()
    })
    .await;
    assert!(app
        .get("/")
        .await
        .headers()
        .get("strict-transport-security")
        .is_none());
    let app = spawn_with(Options {
        env: vec![("KINTSUGI_BASE_URL", "http://127.0.0.1".to_string())],
        ..Options::default()
    })
    .await;
    assert!(app
        .get("/")
        .await
        .headers()
        .get("strict-transport-security")
        .is_none());
}

/// The real binary at debug level, its log written to a file.
struct LoggedBinary {
    child: std::process::Child,
    base: String,
    log: std::path::PathBuf,
}

impl LoggedBinary {
    async fn start(data_dir: &Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = data_dir.join("server.log");
        let out = std::fs::File::create(&log).unwrap();
        let err = out.try_clone().unwrap();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_kintsugi"))
            .arg("serve")
            .env("KINTSUGI_BIND", format!("127.0.0.1:{port}"))
            .env("KINTSUGI_CONTENT_DIR", sample_content_dir())
            .env("KINTSUGI_DATA_DIR", data_dir)
            .env("KINTSUGI_DATABASE_URL", fresh_database_url(data_dir))
            .env("KINTSUGI_WATCH_CONTENT", "false")
            .env("KINTSUGI_LOG", "debug")
            .env("KINTSUGI_COMMENT_MIN_SECONDS", "0")
            .env("KINTSUGI_MAIL_UPDATE_DELAY_SECONDS", "0")
            .env_remove("KINTSUGI_SMTP_URL")
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap();
        let binary = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        };
        let client = client();
        eventually("the server starts", || async {
            client.get(binary.url("/healthz")).send().await.is_ok()
        })
        .await;
        binary
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap()
    }
}

impl Drop for LoggedBinary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[actix_web::test]
async fn secrets_in_paths_never_reach_the_log() {
    let data = tempfile::tempdir().unwrap();
    let server = LoggedBinary::start(data.path()).await;
    let reader = client();
    // A real request, and its private status link from the email.
    let page = reader
        .get(server.url("/coaching"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut form = request_form("sam@example.com", 0);
    form.retain(|(k, _)| *k != "comment");
    form.push(("token", field_value(&page, "token")));
    let res = reader
        .post(server.url("/coaching"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let mut status_token = String::new();
    eventually("the request's email", || {
        let found = std::fs::read_dir(data.path().join("outbox"))
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok())
            .map(|e| readable(&std::fs::read_to_string(e.path()).unwrap_or_default()))
            .find_map(|mail| {
                mail.split("/requests/")
                    .nth(1)
                    .map(|rest| rest.chars().take(64).collect::<String>())
            });
        if let Some(token) = found {
            status_token = token;
        }
        let ok = status_token.len() == 64;
        async move { ok }
    })
    .await;
    let res = reader
        .get(server.url(&format!("/requests/{status_token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // Made-up secrets of every kind.
    let made_up = "feedc0de".repeat(8);
    for path in [
        format!("/requests/{made_up}"),
        format!("/requests/{made_up}/withdraw"),
        format!("/notifications/unsubscribe/{made_up}"),
        format!("/notifications/confirm/{made_up}"),
        format!("/admin/setup?token={made_up}"),
    ] {
        reader.get(server.url(&path)).send().await.unwrap();
    }
    // The request lines are written (at debug level) before we look.
    eventually("the request log lines", || {
        let log = server.log();
        let ok = log.matches("/requests/[redacted]").count() >= 3;
        async move { ok }
    })
    .await;
    let log = server.log();
    assert!(
        !log.contains(&status_token),
        "status token in the log:\n{log}"
    );
    assert!(
        !log.contains(&made_up),
        "a made-up token in the log:\n{log}"
    );
    assert!(log.contains("/notifications/unsubscribe/[redacted]"));
}

#[actix_web::test]
async fn an_encoded_word_in_a_name_reaches_subjects_as_literal_text() {
    let app = spawn_app().await;
    let sam = client();
    let question = posted(
        &app,
        &sam,
        &[
            ("name", "Sam"),
            ("email", "sam@example.com"),
            ("body", "How long should I wait?"),
            ("notify", "1"),
        ],
        "198.51.100.30",
    )
    .await;
    kintsugi::web::admin::moderation::approve_comment(&app.state, question, None)
        .await
        .unwrap();
    // Sam confirms the reply emails.
    let outbox = |kind: &'static str| {
        let dir = app.data_dir.join("outbox");
        move || -> Option<String> {
            std::fs::read_dir(&dir)
                .ok()?
                .filter_map(|e| e.ok())
                .find(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .ends_with(&format!("-{kind}.eml"))
                })
                .map(|e| std::fs::read_to_string(e.path()).unwrap())
        }
    };
    let confirm_mail = outbox("confirm");
    let mut confirm = String::new();
    eventually("the confirmation email", || {
        confirm = confirm_mail().map(|m| readable(&m)).unwrap_or_default();
        let ok = !confirm.is_empty();
        async move { ok }
    })
    .await;
    let link = confirm
        .split("https://coach.example")
        .find(|s| s.starts_with("/notifications/confirm/"))
        .expect("a confirmation link")
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let (status, page) = app.page(&link).await;
    assert_eq!(status, 200);
    if page.contains("name=\"token\"") {
        // The link asks first: confirm as the page does.
        app.client
            .post(format!("{}{link}", app.address))
            .form(&[("token", field_value(&page, "token"))])
            .send()
            .await
            .unwrap();
    }
    // A reply by someone who typed an encoded-word as their name.
    let typed = "=?utf-8?b?VGhlIGNvYWNo?=";
    let reply = posted(
        &app,
        &client(),
        &[
            ("name", typed),
            ("email", "mallory@example.com"),
            ("body", "Thirty days."),
            ("parent", &question.to_string()),
        ],
        "198.51.100.31",
    )
    .await;
    kintsugi::web::admin::moderation::approve_comment(&app.state, reply, None)
        .await
        .unwrap();
    let reply_mail = outbox("reply");
    let mut raw = String::new();
    eventually("the reply email", || {
        raw = reply_mail().unwrap_or_default();
        let ok = !raw.is_empty();
        async move { ok }
    })
    .await;
    let headers = raw.split("\r\n\r\n").next().unwrap();
    let subject: String = headers
        .split("\r\n")
        .skip_while(|l| !l.starts_with("Subject:"))
        .enumerate()
        .take_while(|(i, l)| *i == 0 || l.starts_with(' '))
        .map(|(_, l)| l)
        .collect();
    assert!(subject.starts_with("Subject: =?utf-8?b?"), "{subject}");
    assert!(!subject.contains(typed), "{subject}");
    assert!(!subject.contains("VGhlIGNvYWNo"), "{subject}");
}
