//! Coaching requests: the form, its validation and spam defences, the
//! emails, the reader's private status page, the coach's inbox, exports,
//! retention and per-person export and erasure.
use chrono::Duration;
use kintsugi::db;

use crate::helpers::*;

const EMAIL: &str = "coach@example.com";
const PASSWORD: &str = "tide lantern orchard 42";

async fn spawn_coaching_app() -> TestApp {
    spawn_with(Options {
        env: vec![
            ("KINTSUGI_BASE_URL", "http://127.0.0.1".to_string()),
            ("KINTSUGI_COACH_EMAIL", EMAIL.to_string()),
        ],
        ..Options::default()
    })
    .await
}

/// A complete, valid form (without its token).
fn good_form() -> Vec<(&'static str, String)> {
    [
        ("name", "Sam"),
        ("email", "sam@example.com"),
        ("option", "written-plan"),
        ("ended_by", "they-did"),
        ("together_for", "1-to-3-years"),
        ("ended_ago", "under-a-month"),
        ("contact_now", "no-contact"),
        ("no_contact_since", "2026-11-01"),
        ("hope", "not-sure"),
        (
            "situation",
            "We were together three years. He left in October; I still check his profile. 💔",
        ),
        ("talk_via", "email"),
        ("time_zone", "Europe/Berlin"),
        ("adult", "1"),
        ("consent", "1"),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_string()))
    .collect()
}

fn with(
    mut form: Vec<(&'static str, String)>,
    key: &'static str,
    value: &str,
) -> Vec<(&'static str, String)> {
    form.retain(|(k, _)| *k != key);
    form.push((key, value.to_string()));
    form
}

fn without(mut form: Vec<(&'static str, String)>, key: &str) -> Vec<(&'static str, String)> {
    form.retain(|(k, _)| *k != key);
    form
}

impl TestApp {
    async fn form_token(&self, query: &str) -> String {
        let (status, page) = self.page(&format!("/coaching{query}")).await;
        assert_eq!(status, 200);
        field_value(&page, "token")
    }

    async fn send_request(
        &self,
        form: &[(&'static str, String)],
        token: &str,
        ip: &str,
    ) -> reqwest::Response {
        let mut fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        fields.push(("token", token));
        client()
            .post(format!("{}/coaching", self.address))
            .header("X-Forwarded-For", ip)
            .form(&fields)
            .send()
            .await
            .unwrap()
    }

    async fn request_count(&self) -> usize {
        db::run(&self.pool, db::coaching::all).await.unwrap().len()
    }

    async fn requests(&self) -> Vec<db::coaching::RequestRow> {
        db::run(&self.pool, db::coaching::all).await.unwrap()
    }

    /// The decoded .eml files so far.
    async fn mails(&self) -> Vec<String> {
        let mut files: Vec<(String, String)> = std::fs::read_dir(self.data_dir.join("outbox"))
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| {
                        (
                            e.file_name().to_string_lossy().to_string(),
                            readable(&std::fs::read_to_string(e.path()).unwrap()),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files.into_iter().map(|(_, t)| t).collect()
    }

    async fn mail_matching(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        for _ in 0..100 {
            if let Some(m) = self.mails().await.into_iter().find(|m| pred(m)) {
                return m;
            }
            actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let subjects: Vec<String> = self
            .mails()
            .await
            .iter()
            .filter_map(|m| m.lines().find(|l| l.starts_with("To:")).map(str::to_string))
            .collect();
        panic!("no email: {what}; the outbox has {subjects:?}");
    }

    /// Sends a good request and returns its private status path.
    async fn request_and_status_path(&self, email: &str, ip: &str) -> String {
        let token = self.form_token("").await;
        let res = self
            .send_request(&with(good_form(), "email", email), &token, ip)
            .await;
        assert_eq!(res.status(), 303);
        let mail = self
            .mail_matching("the confirmation", |m| {
                m.contains(&format!("To: {email}")) && m.contains("/requests/")
            })
            .await;
        let token = mail
            .split("/requests/")
            .nth(1)
            .unwrap()
            .chars()
            .take(64)
            .collect::<String>();
        format!("/requests/{token}")
    }

    async fn coach_client(&self) -> reqwest::Client {
        let hash = kintsugi::passwords::hash(PASSWORD).unwrap();
        db::run(&self.pool, move |conn| {
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
        let (_, page) = self.page("/admin/login").await;
        let res = coach
            .post(format!("{}/admin/login", self.address))
            .form(&[
                ("email", EMAIL),
                ("password", PASSWORD),
                ("token", &field_value(&page, "token")),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303);
        coach
    }
}

async fn get(client: &reqwest::Client, app: &TestApp, path: &str) -> (u16, String) {
    let res = client
        .get(format!("{}{path}", app.address))
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

async fn post(
    client: &reqwest::Client,
    app: &TestApp,
    path: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    client
        .post(format!("{}{path}", app.address))
        .form(fields)
        .send()
        .await
        .unwrap()
}

#[actix_web::test]
async fn the_form_shows_the_options_as_cards_and_preselects_a_choice() {
    let app = spawn_coaching_app().await;
    let (status, page) = app
        .page("/coaching?option=video-call&article=going-no-contact")
        .await;
    assert_eq!(status, 200);
    for option in ["written-plan", "email-coaching", "video-call"] {
        assert!(
            page.contains(&format!("id=\"option-{option}\"")),
            "{option}"
        );
    }
    assert!(page.contains("value=\"video-call\" required checked"));
    assert!(page.contains("Going no contact") || page.contains("You came from the article"));
    for label in [
        "Name",
        "Email",
        "Coaching option",
        "Who ended the relationship?",
        "How long were you together?",
        "How long ago did it end?",
        "Contact right now",
        "What do you hope for?",
        "Your situation",
        "Preferred way to talk",
        "Time zone",
        "I am 18 or older",
        "privacy page",
    ] {
        assert!(page.contains(label), "label {label}");
    }
    assert!(page.contains("Coaching is not therapy"));
    assert!(page.contains("emergency number"), "the crisis resources");
    assert!(!page.contains("name=\"adult\" type=\"checkbox\" value=\"1\" required checked"));
    // The article offers the form with itself as context.
    let (_, article) = app.page("/articles/going-no-contact").await;
    assert!(article.contains("/coaching?article=going-no-contact#request-form"));
}

#[actix_web::test]
async fn every_field_is_validated_with_messages_by_the_fields_and_nothing_stored() {
    let app = spawn_coaching_app().await;
    type Case = (Vec<(&'static str, String)>, &'static str, &'static str);
    let cases: Vec<Case> = vec![
        (with(good_form(), "name", " "), "name", "Please give a name"),
        (
            with(good_form(), "email", "not-an-email"),
            "email",
            "does not look like an email",
        ),
        (
            with(good_form(), "option", "free-therapy"),
            "option",
            "one of the coaching options",
        ),
        (
            without(good_form(), "option"),
            "option",
            "choose the kind of coaching",
        ),
        (
            with(good_form(), "ended_by", "nobody"),
            "ended_by",
            "one of the answers",
        ),
        (
            without(good_form(), "together_for"),
            "together_for",
            "how long you were together",
        ),
        (
            without(good_form(), "ended_ago"),
            "ended_ago",
            "how long ago it ended",
        ),
        (
            with(good_form(), "contact_now", "daily"),
            "contact_now",
            "one of the answers",
        ),
        (
            with(good_form(), "no_contact_since", "2999-01-01"),
            "no_contact_since",
            "in the future",
        ),
        (
            with(good_form(), "no_contact_since", "last spring"),
            "no_contact_since",
            "year-month-day",
        ),
        (without(good_form(), "hope"), "hope", "what you hope for"),
        (
            with(good_form(), "situation", ""),
            "situation",
            "a little about your situation",
        ),
        (
            with(good_form(), "situation", &"x".repeat(10_001)),
            "situation",
            "10000 characters or fewer",
        ),
        (
            with(good_form(), "talk_via", "pigeon"),
            "talk_via",
            "one of the answers",
        ),
        (
            with(with(good_form(), "talk_via", "video"), "time_zone", ""),
            "time_zone",
            "choose your time zone",
        ),
        (
            with(good_form(), "time_zone", "Mars/Olympus"),
            "time_zone",
            "from the list",
        ),
        (without(good_form(), "adult"), "adult", "18 or older"),
        (
            without(good_form(), "consent"),
            "consent",
            "agree to how your answers are handled",
        ),
    ];
    let mut ip = 1;
    for (form, field, message) in cases {
        let token = app.form_token("").await;
        ip += 1;
        let res = app
            .send_request(&form, &token, &format!("203.0.113.{ip}"))
            .await;
        assert_eq!(res.status(), 422, "{field}");
        let page = res.text().await.unwrap();
        assert!(
            page.contains(&format!("id=\"request-{field}-error\"")),
            "{field}"
        );
        assert!(page.contains(message), "{field}: {message}");
        let linked = if field == "situation" {
            "aria-describedby=\"request-situation-hint request-situation-error\"".to_string()
        } else if field == "no_contact_since" {
            "aria-describedby=\"request-no-contact-since-hint request-no_contact_since-error\""
                .to_string()
        } else {
            format!("aria-describedby=\"request-{field}-error\"")
        };
        assert!(page.contains(&linked), "{field} linked");
        // What was typed is kept.
        if field != "name" {
            assert!(page.contains("value=\"Sam\""), "{field}: the name is kept");
        }
        if field != "situation" {
            assert!(
                page.contains("I still check his profile. 💔"),
                "{field}: the text is kept"
            );
        }
    }
    assert_eq!(app.request_count().await, 0);
}

#[actix_web::test]
async fn unknown_fields_are_refused_and_nothing_stored() {
    let app = spawn_coaching_app().await;
    let token = app.form_token("").await;
    let res = app
        .send_request(&with(good_form(), "is_admin", "1"), &token, "203.0.113.1")
        .await;
    assert_eq!(res.status(), 400);
    assert_eq!(app.request_count().await, 0);
}

#[actix_web::test]
async fn a_good_request_is_stored_once_with_consent_and_no_address_then_redirects() {
    let app = spawn_coaching_app().await;
    let token = app.form_token("?article=going-no-contact&comment=42").await;
    let form = with(
        with(good_form(), "article", "going-no-contact"),
        "comment",
        "42",
    );
    let res = app.send_request(&form, &token, "203.0.113.7").await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/coaching/thanks");
    // The same form sent again (a double click): still one request.
    let res = app.send_request(&form, &token, "203.0.113.7").await;
    assert_eq!(res.status(), 303);
    let requests = app.requests().await;
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r.name, "Sam");
    assert_eq!(r.option_title, "A written breakup plan");
    assert_eq!(r.status, "received");
    assert_eq!(r.source_article.as_deref(), Some("going-no-contact"));
    // No comment 42 exists: a request attaches only a published or its
    // sender's own comment (tests/it/security.rs).
    assert_eq!(r.source_comment_id, None);
    assert_eq!(r.no_contact_since.as_deref(), Some("2026-11-01"));
    assert!(r.situation.ends_with("💔"), "Unicode kept");
    assert_eq!(r.privacy_version, "2026-11-27");
    assert!(!r.is_urgent);
    let json = serde_json::to_string(r).unwrap();
    assert!(!json.contains("203.0.113.7"));
    let (status, thanks) = app.page("/coaching/thanks").await;
    assert_eq!(status, 200);
    assert!(thanks.contains("what happens next"));
    // Exactly one confirmation and one alert.
    app.mail_matching("the alert", |m| m.contains(&format!("To: {EMAIL}")))
        .await;
    let mails = app.mails().await;
    assert_eq!(
        mails
            .iter()
            .filter(|m| m.contains("To: sam@example.com"))
            .count(),
        1
    );
    let alert = mails
        .iter()
        .find(|m| m.contains(&format!("To: {EMAIL}")))
        .unwrap();
    assert!(alert.contains(&format!("/admin/requests/{}", r.id)));
    assert!(
        !alert.contains("check his profile"),
        "no sensitive text in the coach's email"
    );
    assert!(!alert.contains("sam@example.com"));
}

#[actix_web::test]
async fn crisis_words_make_the_coach_alert_urgent() {
    let app = spawn_coaching_app().await;
    let token = app.form_token("").await;
    let form = with(
        good_form(),
        "situation",
        "Some nights I want to end my life.",
    );
    assert_eq!(
        app.send_request(&form, &token, "203.0.113.1")
            .await
            .status(),
        303
    );
    let alert = app
        .mail_matching("the urgent alert", |m| m.contains(&format!("To: {EMAIL}")))
        .await;
    assert!(alert.contains("Subject: URGENT"), "{alert}");
    assert!(app.requests().await[0].is_urgent);
}

#[actix_web::test]
async fn honeypot_too_fast_forged_cross_site_and_too_many_are_refused() {
    let app = spawn_with(Options {
        env: vec![
            ("KINTSUGI_BASE_URL", "http://127.0.0.1".to_string()),
            ("KINTSUGI_COMMENT_MIN_SECONDS", "3".to_string()),
        ],
        ..Options::default()
    })
    .await;
    let token = app.form_token("").await;
    // Honeypot: a calm redirect, nothing stored.
    let res = app
        .send_request(
            &with(good_form(), "website", "spam.example"),
            &token,
            "203.0.113.1",
        )
        .await;
    assert_eq!(res.status(), 303);
    // Sent at once after the page was served: asked to send again.
    let res = app.send_request(&good_form(), &token, "203.0.113.1").await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("very quick"));
    // A made-up token.
    let res = app
        .send_request(&good_form(), "1700000000.abcdef", "203.0.113.1")
        .await;
    assert_eq!(res.status(), 422);
    // Cross-site.
    let mut fields: Vec<(&str, String)> = good_form();
    fields.push(("token", token.clone()));
    let res = client()
        .post(format!("{}/coaching", app.address))
        .header("Sec-Fetch-Site", "cross-site")
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(app.request_count().await, 0);

    // The rate limit: one every 15 s per address (tokens are backdated by
    // asking early and waiting out the minimum time once).
    let app = spawn_coaching_app().await;
    let first = app.form_token("").await;
    let second = app.form_token("?option=video-call").await;
    assert_ne!(first, second);
    let res = app.send_request(&good_form(), &first, "203.0.113.9").await;
    assert_eq!(res.status(), 303);
    let res = app
        .send_request(
            &with(good_form(), "name", "Sam again"),
            &second,
            "203.0.113.9",
        )
        .await;
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    assert!(res.text().await.unwrap().contains("value=\"Sam again\""));
    let res = app
        .send_request(&good_form(), &second, "203.0.113.10")
        .await;
    assert_eq!(res.status(), 303, "another address is fine");
    assert_eq!(app.request_count().await, 2);
}

#[actix_web::test]
async fn the_private_status_page_messages_withdrawal_and_deletion() {
    let app = spawn_coaching_app().await;
    let path = app
        .request_and_status_path("sam@example.com", "203.0.113.1")
        .await;
    let reader = client();
    let (status, page) = get(&reader, &app, &path).await;
    assert_eq!(status, 200);
    assert!(page.contains("Received"));
    assert!(page.contains("A written breakup plan"));
    assert!(page.contains("I still check his profile."));
    assert!(page.contains("noindex"));
    // Guessing gets 404 and nothing else.
    for guess in [
        "/requests/0000000000000000000000000000000000000000000000000000000000000000",
        "/requests/short",
        // The real token with its last digit changed.
        &format!(
            "{}{}",
            &path[..path.len() - 1],
            if path.ends_with('0') { '1' } else { '0' }
        ),
    ] {
        let (status, body) = get(&client(), &app, guess).await;
        assert_eq!(status, 404, "{guess}");
        assert!(!body.contains("A written breakup plan"));
    }
    // A message from the reader; empty ones are refused.
    let form_token = field_value(&page, "form_token");
    let res = post(
        &reader,
        &app,
        &format!("{path}/messages"),
        &[("form_token", &form_token), ("body", "  ")],
    )
    .await;
    assert_eq!(res.status(), 422);
    let res = post(
        &reader,
        &app,
        &format!("{path}/messages"),
        &[
            ("form_token", &form_token),
            ("body", "I forgot: we share a dog."),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    let (_, page) = get(&reader, &app, &path).await;
    assert!(page.contains("I forgot: we share a dog."));
    app.mail_matching("the coach hears of the message", |m| {
        m.contains("A new message from the reader")
    })
    .await;
    // Without the page's own token, nothing happens.
    let res = post(
        &reader,
        &app,
        &format!("{path}/withdraw"),
        &[("form_token", "1.abc")],
    )
    .await;
    assert_eq!(res.status(), 403);
    // Withdraw.
    let res = post(
        &reader,
        &app,
        &format!("{path}/withdraw"),
        &[("form_token", &form_token)],
    )
    .await;
    assert_eq!(res.status(), 303);
    let (_, page) = get(&reader, &app, &path).await;
    assert!(page.contains("Withdrawn"));
    assert!(!page.contains("Add a message"));
    assert_eq!(app.requests().await[0].status, "withdrawn");
    assert!(app.requests().await[0].finished_at.is_some());
    // Delete: asks first, then erases the request and its messages.
    let (status, confirm) = get(&reader, &app, &format!("{path}/delete")).await;
    assert_eq!(status, 200);
    let res = post(
        &reader,
        &app,
        &format!("{path}/delete"),
        &[("form_token", &field_value(&confirm, "form_token"))],
    )
    .await;
    assert_eq!(res.status(), 200);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("Your request is deleted"));
    assert_eq!(app.request_count().await, 0);
    let left = db::run(&app.pool, |conn| {
        db::coaching::export_person(conn, "sam@example.com")
    })
    .await
    .unwrap();
    assert!(left.coaching_requests.is_empty() && left.request_messages.is_empty());
    let (status, _) = get(&reader, &app, &path).await;
    assert_eq!(status, 404);
}

#[actix_web::test]
async fn the_private_pages_forms_and_the_link_again_refuse_other_sites() {
    let app = spawn_coaching_app().await;
    let path = app
        .request_and_status_path("sam@example.com", "203.0.113.1")
        .await;
    let reader = client();
    let (_, page) = get(&reader, &app, &path).await;
    let form_token = field_value(&page, "form_token");
    for action in ["messages", "withdraw", "delete"] {
        let res = reader
            .post(format!("{}{path}/{action}", app.address))
            .header("Sec-Fetch-Site", "cross-site")
            .form(&[
                ("form_token", form_token.as_str()),
                ("body", "From elsewhere"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{action}");
    }
    let rows = app.requests().await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].status, "received");
    let (_, page) = get(&reader, &app, &path).await;
    assert!(!page.contains("From elsewhere"));
    // The link sent again: the thank-you page's token, from another site.
    let (_, thanks) = get(&reader, &app, "/coaching/thanks").await;
    let resend_token = field_value(&thanks, "form_token");
    let res = reader
        .post(format!("{}/coaching/resend", app.address))
        .header("Origin", "https://evil.example")
        .form(&[
            ("form_token", resend_token.as_str()),
            ("email", "sam@example.com"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // The same from the site itself is answered.
    let res = reader
        .post(format!("{}/coaching/resend", app.address))
        .form(&[
            ("form_token", resend_token.as_str()),
            ("email", "sam@example.com"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[actix_web::test]
async fn the_coach_works_a_request_statuses_replies_notes_templates_and_deletion() {
    let app = spawn_coaching_app().await;
    let path = app
        .request_and_status_path("sam@example.com", "203.0.113.1")
        .await;
    let id = app.requests().await[0].id;
    let coach = app.coach_client().await;
    let (_, dashboard) = get(&coach, &app, "/admin").await;
    assert!(dashboard.contains("<span class=\"admin-count__n\">1</span> new coaching request"));
    let (status, inbox) = get(&coach, &app, "/admin/requests").await;
    assert_eq!(status, 200);
    assert!(inbox.contains(&format!("/admin/requests/{id}")));
    assert!(inbox.contains("A written breakup plan"));
    let (_, filtered) = get(&coach, &app, "/admin/requests?status=closed").await;
    assert!(!filtered.contains(&format!("/admin/requests/{id}\"")));
    let (_, filtered) = get(&coach, &app, "/admin/requests?option=written-plan").await;
    assert!(filtered.contains(&format!("/admin/requests/{id}\"")));
    // Statistics: per option and per week.
    assert!(inbox.contains("Per option"));

    // Opening it shows every field and changes nothing (a GET).
    let (status, detail) = get(&coach, &app, &format!("/admin/requests/{id}")).await;
    assert_eq!(status, 200);
    for text in [
        "sam@example.com",
        "They did",
        "1 to 3 years",
        "No contact since 2026-11-01",
        "Not sure yet",
        "Europe/Berlin",
        "I still check his profile",
        "privacy page version 2026-11-27",
    ] {
        assert!(detail.contains(text), "{text}");
    }
    assert_eq!(app.requests().await[0].status, "received");
    assert!(detail.contains("Start working on it"));
    let csrf = field_value(&detail, "csrf");
    // "Start working on it" is an explicit POST.
    let res = coach
        .post(format!("{}/admin/requests/{id}/status", app.address))
        .form(&[("csrf", csrf.as_str()), ("status", "in-review")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(app.requests().await[0].status, "in-review");
    let (_, detail) = get(&coach, &app, &format!("/admin/requests/{id}")).await;
    assert!(!detail.contains("Start working on it"));

    // A template inserts into the reply box, with the reader's name.
    let (_, with_template) = get(
        &coach,
        &app,
        &format!("/admin/requests/{id}?template=30-day-no-contact"),
    )
    .await;
    let textarea = with_template
        .split("id=\"reply-body\"")
        .nth(1)
        .unwrap()
        .split("</textarea>")
        .next()
        .unwrap();
    assert!(textarea.contains("Hi Sam,"), "{textarea}");
    assert!(textarea.contains("## Your boundary"));
    let (status, _) = get(&coach, &app, &format!("/admin/requests/{id}?template=nope")).await;
    assert_eq!(status, 404);

    // A reply: emailed, and on the status page.
    let res = post(
        &coach,
        &app,
        &format!("/admin/requests/{id}/reply"),
        &[
            ("csrf", &csrf),
            ("body", "Dear Sam, here is **your plan**."),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    app.mail_matching("the reply", |m| {
        m.contains("To: sam@example.com") && m.contains("here is **your plan**")
    })
    .await;
    let (_, status_page) = get(&client(), &app, &path).await;
    assert!(status_page.contains("here is <strong>your plan</strong>"));
    assert!(status_page.contains("<span class=\"badge\">Coach</span>"));

    // A note: for admins only.
    let res = post(
        &coach,
        &app,
        &format!("/admin/requests/{id}/notes"),
        &[
            ("csrf", &csrf),
            ("body", "Seems ready for a firm boundary."),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    let (_, detail) = get(&coach, &app, &format!("/admin/requests/{id}")).await;
    assert!(detail.contains("Seems ready for a firm boundary."));
    let (_, status_page) = get(&client(), &app, &path).await;
    assert!(!status_page.contains("firm boundary"));

    // A status change emails the reader; a forged one changes nothing.
    let res = post(
        &coach,
        &app,
        &format!("/admin/requests/{id}/status"),
        &[("csrf", "wrong"), ("status", "closed")],
    )
    .await;
    assert_eq!(res.status(), 403);
    let res = post(
        &coach,
        &app,
        &format!("/admin/requests/{id}/status"),
        &[("csrf", &csrf), ("status", "plan-ready")],
    )
    .await;
    assert_eq!(res.status(), 303);
    app.mail_matching("the status email", |m| {
        m.contains("To: sam@example.com") && m.contains("Plan ready")
    })
    .await;
    let (_, status_page) = get(&client(), &app, &path).await;
    assert!(status_page.contains("Plan ready"));
    let res = post(
        &coach,
        &app,
        &format!("/admin/requests/{id}/status"),
        &[("csrf", &csrf), ("status", "withdrawn")],
    )
    .await;
    assert_eq!(res.status(), 400, "only the reader withdraws");

    // Exports: one and all, CSV and JSON.
    for url in [
        format!("/admin/requests/{id}/export.csv"),
        "/admin/requests/export.csv".to_string(),
    ] {
        let res = coach
            .get(format!("{}{url}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert!(res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv"));
        assert!(res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("attachment"));
        let csv = res.text().await.unwrap();
        assert!(csv.starts_with("id,created_at,status,name,email"));
        assert!(csv.contains("\"sam@example.com\""));
        assert!(
            csv.contains("firm boundary"),
            "notes are in the coach's export"
        );
    }
    let res = coach
        .get(format!("{}/admin/requests/export.json", app.address))
        .send()
        .await
        .unwrap();
    let json: serde_json::Value = serde_json::from_str(&res.text().await.unwrap()).unwrap();
    assert_eq!(json[0]["email"], "sam@example.com");
    assert_eq!(json[0]["messages"].as_array().unwrap().len(), 2);
    assert!(json[0].get("token_hash").is_none());
    let res = client()
        .get(format!("{}/admin/requests/export.json", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "strangers are sent to sign in");

    // Delete: asks first, then removes the request and its messages.
    let (_, ask) = get(&coach, &app, &format!("/admin/requests/{id}?delete=1")).await;
    assert!(ask.contains("Delete this request and all its messages"));
    let res = post(
        &coach,
        &app,
        &format!("/admin/requests/{id}/delete"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(app.request_count().await, 0);
    let (status, _) = get(&client(), &app, &path).await;
    assert_eq!(status, 404);
    let (_, audit) = get(&coach, &app, "/admin/audit").await;
    assert!(audit.contains(&format!("deleted coaching request {id}")));
}

#[actix_web::test]
async fn finished_requests_lose_their_personal_details_after_the_retention_period() {
    let app = spawn_coaching_app().await;
    let path = app
        .request_and_status_path("sam@example.com", "203.0.113.1")
        .await;
    app.request_and_status_path("robin@example.com", "203.0.113.2")
        .await;
    let requests = app.requests().await;
    let sam = requests
        .iter()
        .find(|r| r.email == "sam@example.com")
        .unwrap()
        .id;
    let reader = client();
    let (_, page) = get(&reader, &app, &path).await;
    let res = post(
        &reader,
        &app,
        &format!("{path}/withdraw"),
        &[("form_token", &field_value(&page, "form_token"))],
    )
    .await;
    assert_eq!(res.status(), 303);
    // 179 days later: still there.
    app.state.clock.advance(Duration::days(179));
    assert_eq!(
        kintsugi::web::coaching::purge_expired(&app.state)
            .await
            .unwrap(),
        0
    );
    // 181 days later: only the option, the dates and the status remain.
    app.state.clock.advance(Duration::days(2));
    assert_eq!(
        kintsugi::web::coaching::purge_expired(&app.state)
            .await
            .unwrap(),
        1
    );
    let row = db::run(&app.pool, move |conn| db::coaching::find(conn, sam))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.name, "");
    assert_eq!(row.email, "");
    assert_eq!(row.situation, "");
    assert_eq!(row.option_title, "A written breakup plan");
    assert_eq!(row.status, "withdrawn");
    assert!(row.anonymized_at.is_some());
    let (status, _) = get(&reader, &app, &path).await;
    assert_eq!(status, 404, "the private link is dead");
    // The open request is untouched.
    let robin = app
        .requests()
        .await
        .into_iter()
        .find(|r| r.email == "robin@example.com");
    assert!(robin.is_some());
}

#[actix_web::test]
async fn export_and_erase_by_email_cover_comments_requests_and_subscriptions() {
    let app = spawn_coaching_app().await;
    app.request_and_status_path("sam@example.com", "203.0.113.1")
        .await;
    app.request_and_status_path("robin@example.com", "203.0.113.2")
        .await;
    let reader = client();
    let token = comment_form_token(&app, &reader, "going-no-contact").await;
    let res = reader
        .post(format!(
            "{}/articles/going-no-contact/comments",
            app.address
        ))
        .header("X-Forwarded-For", "203.0.113.3")
        .form(&[
            ("name", "Sam"),
            ("email", "Sam@Example.com"),
            ("body", "My question about silence."),
            ("notify", "1"),
            ("token", &token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let run = |args: &[&str]| cli(&app, args, "", &[]);
    let out = run(&["export", "--email", "sam@example.com"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let data: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        data["comments"][0]["body_markdown"],
        "My question about silence."
    );
    assert_eq!(data["coaching_requests"][0]["name"], "Sam");
    assert!(data["subscription"].is_object());
    assert!(!String::from_utf8_lossy(&out.stdout).contains("robin@example.com"));

    let out = run(&["erase", "--email", "SAM@example.com"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("erased 1 comment(s), 1 coaching request(s)")
    );
    let out = run(&["export", "--email", "sam@example.com"]);
    let data: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(data["comments"].as_array().unwrap().is_empty());
    assert!(data["coaching_requests"].as_array().unwrap().is_empty());
    assert!(data["subscription"].is_null());
    assert_eq!(data["emails_queued_or_sent"], 0);
    // Robin's data is untouched.
    assert_eq!(app.request_count().await, 1);
}

/// Sends `form` from `browser` (which keeps the thank-you cookie) and
/// returns the thank-you page it lands on.
async fn send_and_thank(
    app: &TestApp,
    browser: &reqwest::Client,
    form: &[(&'static str, String)],
    ip: &str,
) -> String {
    let (_, page) = get(browser, app, "/coaching").await;
    let token = field_value(&page, "token");
    let mut fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    fields.push(("token", &token));
    let res = browser
        .post(format!("{}/coaching", app.address))
        .header("X-Forwarded-For", ip)
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/coaching/thanks");
    let (status, thanks) = get(browser, app, "/coaching/thanks").await;
    assert_eq!(status, 200);
    thanks
}

#[actix_web::test]
async fn a_crisis_request_shows_the_resources_first_and_no_paid_offer() {
    let app = spawn_coaching_app().await;
    let browser = client();
    let form = with(
        with(good_form(), "email", "ria@example.com"),
        "situation",
        "Since he left, some nights I want to die.",
    );
    let thanks = send_and_thank(&app, &browser, &form, "203.0.113.30").await;
    let help = thanks
        .find("id=\"crisis-help\"")
        .expect("the crisis resources");
    assert!(help < thanks.find("<h1").unwrap(), "before everything else");
    assert!(thanks.contains("local emergency number"));
    assert!(thanks.contains("988"));
    assert!(
        !thanks.contains("€") && !thanks.contains("/coaching?option"),
        "no paid offer"
    );
    // Where the private link went, so a typo shows at once.
    assert!(thanks.contains("ria@example.com"));

    // The private status page says it first too, while the request is open.
    let mail = app
        .mail_matching("the confirmation", |m| m.contains("To: ria@example.com"))
        .await;
    let token: String = mail
        .split("/requests/")
        .nth(1)
        .unwrap()
        .chars()
        .take(64)
        .collect();
    let (_, status_page) = get(&client(), &app, &format!("/requests/{token}")).await;
    let help = status_page.find("id=\"crisis-help\"").expect("resources");
    assert!(help < status_page.find("<h1").unwrap());

    // A request without those words: the usual thank-you page.
    let calm = send_and_thank(
        &app,
        &client(),
        &with(good_form(), "email", "lee@example.com"),
        "203.0.113.31",
    )
    .await;
    assert!(!calm.contains("id=\"crisis-help\""));
    assert!(calm.contains("lee@example.com"));
    // Another browser, without the cookie, is told nothing about anyone.
    let (_, stranger) = get(&client(), &app, "/coaching/thanks").await;
    assert!(!stranger.contains("@example.com"));
}

#[actix_web::test]
async fn the_private_link_is_sent_again_with_the_same_answer_for_any_address() {
    let app = spawn_coaching_app().await;
    let browser = client();
    let thanks = send_and_thank(
        &app,
        &browser,
        &with(good_form(), "email", "Kim@Example.com"),
        "203.0.113.40",
    )
    .await;
    let resend = |email: &'static str, ip: &'static str, page: String| {
        let browser = browser.clone();
        let address = app.address.clone();
        async move {
            let token = field_value(&page, "form_token");
            let res = browser
                .post(format!("{address}/coaching/resend"))
                .header("X-Forwarded-For", ip)
                .form(&[("form_token", token.as_str()), ("email", email)])
                .send()
                .await
                .unwrap();
            (res.status().as_u16(), res.text().await.unwrap())
        }
    };
    // The address typed as it was given (any case): the link goes again.
    let (status, page) = resend("kim@example.com", "203.0.113.41", thanks.clone()).await;
    assert_eq!(status, 200);
    assert!(page.contains("its private link is on its way again"));
    app.mail_matching("the link again", |m| {
        m.to_lowercase().contains("to: kim@example.com") && m.contains("You asked for the link")
    })
    .await;
    // The same answer for an address that never wrote, and for the same
    // address again within five minutes; neither sends anything.
    let (status, unknown) = resend("nobody@example.com", "203.0.113.42", page.clone()).await;
    assert_eq!(status, 200);
    assert!(unknown.contains("its private link is on its way again"));
    let (status, again) = resend("kim@example.com", "203.0.113.43", page.clone()).await;
    assert_eq!(status, 200);
    assert!(again.contains("its private link is on its way again"));
    actix_web::rt::time::sleep(std::time::Duration::from_millis(500)).await;
    let sent_again = app
        .mails()
        .await
        .into_iter()
        .filter(|m| m.contains("You asked for the link to your coaching request"))
        .count();
    assert_eq!(sent_again, 1);
    // A network asking again and again waits.
    let (status, _) = resend("a@example.com", "203.0.113.44", page.clone()).await;
    assert_eq!(status, 200);
    let (status, wait) = resend("b@example.com", "203.0.113.44", page.clone()).await;
    assert_eq!(status, 429);
    assert!(wait.contains("Please wait"));
    // Not an address: said by the field, with an error title.
    let (status, bad) = resend("not an address", "203.0.113.45", page).await;
    assert_eq!(status, 422);
    assert!(bad.contains("<title>Error:"));
    assert!(bad.contains("does not look like an email address"));
}

#[actix_web::test]
async fn withdrawing_asks_first() {
    let app = spawn_coaching_app().await;
    let path = app
        .request_and_status_path("sam@example.com", "203.0.113.50")
        .await;
    let (_, page) = get(&client(), &app, &path).await;
    assert!(
        !page.contains(&format!("action=\"{path}/withdraw\"")),
        "one press does not withdraw"
    );
    assert!(page.contains(&format!("href=\"{path}/withdraw\"")));
    let (status, confirm) = get(&client(), &app, &format!("{path}/withdraw")).await;
    assert_eq!(status, 200);
    assert!(confirm.contains("Withdraw your request?"));
    assert!(confirm.contains(&format!("action=\"{path}/withdraw\"")));
    assert!(confirm.contains("Keep my request"));
    assert_eq!(app.requests().await[0].status, "received");
}

#[actix_web::test]
async fn changes_within_a_minute_reach_the_reader_as_one_email_and_opening_sends_none() {
    let app = spawn_with(Options {
        env: vec![
            ("KINTSUGI_BASE_URL", "http://127.0.0.1".to_string()),
            ("KINTSUGI_COACH_EMAIL", EMAIL.to_string()),
            ("KINTSUGI_MAIL_UPDATE_DELAY_SECONDS", "60".to_string()),
        ],
        ..Options::default()
    })
    .await;
    app.request_and_status_path("sam@example.com", "203.0.113.60")
        .await;
    let coach = app.coach_client().await;
    let id = app.requests().await[0].id;
    // Opening the request changes nothing and sends no email.
    let (_, detail) = get(&coach, &app, &format!("/admin/requests/{id}")).await;
    let csrf = field_value(&detail, "csrf");
    for body in [
        "Here is the first part of your plan.",
        "And one more thought.",
    ] {
        let res = post(
            &coach,
            &app,
            &format!("/admin/requests/{id}/reply"),
            &[("csrf", &csrf), ("body", body)],
        )
        .await;
        assert_eq!(res.status(), 303);
    }
    let res = post(
        &coach,
        &app,
        &format!("/admin/requests/{id}/status"),
        &[("csrf", &csrf), ("status", "plan-ready")],
    )
    .await;
    assert_eq!(res.status(), 303);
    // Nothing went yet: one email waits, holding all three changes.
    actix_web::rt::time::sleep(std::time::Duration::from_millis(300)).await;
    let to_reader = |mails: Vec<String>| {
        mails
            .into_iter()
            .filter(|m| m.contains("To: sam@example.com"))
            .count()
    };
    assert_eq!(to_reader(app.mails().await), 1, "only the confirmation");
    let later = chrono::Utc::now().naive_utc() + Duration::minutes(2);
    let waiting = db::run(&app.pool, move |conn| {
        db::mail::claim_due(conn, later, 50, 60)
    })
    .await
    .unwrap();
    let waiting: Vec<_> = waiting
        .into_iter()
        .filter(|m| m.recipient == "sam@example.com")
        .collect();
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    let mail = &waiting[0];
    assert_eq!(
        mail.subject,
        "The coach answered your request, which is now: Plan ready"
    );
    assert!(mail
        .body
        .starts_with("Hello Sam,\n\nThe coach wrote to you"));
    assert!(mail.body.contains("Here is the first part of your plan."));
    assert!(mail.body.contains("And one more thought."));
    assert!(mail.body.contains("Your request is now: Plan ready."));
    assert!(!mail.body.contains("In review"));
    assert_eq!(mail.body.matches("Warmly,").count(), 1);
}

/// The `Subject:` of a mail, its RFC 2047 words (`=?utf-8?b?…?=`, or `q`)
/// decoded and folded lines joined.
fn subject(mail: &str) -> String {
    fn base64(text: &str) -> Vec<u8> {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = Vec::new();
        let (mut bits, mut count) = (0u32, 0);
        for c in text.bytes().filter(|c| *c != b'=') {
            let Some(v) = ALPHABET.iter().position(|a| *a == c) else {
                continue;
            };
            bits = (bits << 6) | v as u32;
            count += 6;
            if count >= 8 {
                count -= 8;
                out.push((bits >> count) as u8);
                bits &= (1 << count) - 1;
            }
        }
        out
    }
    fn quoted(text: &str) -> Vec<u8> {
        let mut out = Vec::new();
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'_' => out.push(b' '),
                b'=' if i + 2 < bytes.len() + 1 => {
                    if let Some(b) = text
                        .get(i + 1..i + 3)
                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                    {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    out.push(b'=');
                }
                b => out.push(b),
            }
            i += 1;
        }
        out
    }
    let headers = mail.split("\r\n\r\n").next().unwrap_or_default();
    let mut lines = headers.split("\r\n");
    let mut raw = lines
        .by_ref()
        .find_map(|l| l.strip_prefix("Subject: "))
        .unwrap_or_else(|| panic!("no subject in {mail}"))
        .to_string();
    for more in lines.take_while(|l| l.starts_with([' ', '\t'])) {
        raw.push_str(more);
    }
    // Encoded words next to each other are joined without their spaces.
    let mut out = Vec::new();
    let mut rest = raw.as_str();
    let mut after_word = false;
    while !rest.is_empty() {
        match rest.find("=?") {
            Some(start) => {
                let between = &rest[..start];
                if !(after_word && between.trim().is_empty()) {
                    out.extend_from_slice(between.as_bytes());
                }
                let word = &rest[start + 2..];
                let mut parts = word.splitn(3, '?');
                let (_charset, encoding, tail) = (
                    parts.next().unwrap(),
                    parts.next().unwrap(),
                    parts.next().unwrap(),
                );
                let end = tail.find("?=").unwrap();
                let text = &tail[..end];
                out.extend(if encoding.eq_ignore_ascii_case("b") {
                    base64(text)
                } else {
                    quoted(text)
                });
                rest = &tail[end + 2..];
                after_word = true;
            }
            None => {
                out.extend_from_slice(rest.as_bytes());
                rest = "";
            }
        }
    }
    String::from_utf8(out).unwrap()
}

#[actix_web::test]
async fn the_coaching_side_and_its_emails_speak_german() {
    let app = spawn_with(Options {
        env: vec![
            ("KINTSUGI_BASE_URL", "http://127.0.0.1".to_string()),
            ("KINTSUGI_SITE_LANGUAGE", "de".to_string()),
            ("KINTSUGI_COACH_EMAIL", "coach@example.com".to_string()),
        ],
        ..Options::default()
    })
    .await;
    // English words of the templates and messages that German replaced.
    // The sample content itself stays English: on the form only the form
    // and the options' frame are checked.
    let english = [
        "Ways to work together",
        "What you get",
        "Choose this",
        "Ask for your personal plan",
        "You came from the article",
        "If you are in crisis or not safe right now",
        "or a nickname",
        "Who ended the relationship",
        "It is complicated",
        "How long were you together",
        "Less than 6 months",
        "No contact since",
        "What do you hope for",
        "Not sure yet",
        "Preferred way to talk",
        "Choose your time zone",
        "I am 18 or older",
        "privacy page",
        "Leave this field empty",
        "Send my request",
        "You will get an email",
        "Please check",
        "Please say",
        "Please agree",
        "Your request was not sent yet",
        "Error:",
        "Thank you",
        "Within two business days",
        "No email after a few minutes",
        "Send the link again",
        "Your coaching request",
        "Received",
        "Your answers",
        "Your situation",
        "Your choices",
        "Withdraw my request",
        "Delete this request",
        "Add a message",
        "Your message is sent",
        "Please write your message first",
        "Hello",
        "Warmly",
        "coaching request",
        "A new coaching request",
        "A new message from the reader",
        "For privacy",
        "(you may be asked to sign in first)",
        "business days",
        "You do not have to wait",
        // Keys never show.
        "coaching.form",
        "coaching.question",
        "coaching.choice",
        "coaching.problem",
        "coaching.status",
        "coaching.thanks",
        "emails.",
    ];
    let no_english = |what: &str, text: &str| {
        for words in english {
            assert!(
                !text.contains(words),
                "{what} still says “{words}”:\n{text}"
            );
        }
    };

    // The form: its labels, questions and answers.
    let (status, form) = app.page("/coaching?article=going-no-contact").await;
    assert_eq!(status, 200);
    for words in [
        "<html lang=\"de\"",
        "So können wir zusammenarbeiten",
        "Frag deinen persönlichen Plan an",
        "Du kommst vom Artikel <strong>",
        "Coaching ist keine Therapie.",
        "Wer hat die Beziehung beendet?",
        "Es ist kompliziert",
        "Wie lange wart ihr zusammen?",
        "Weniger als 6 Monate",
        "Kein Kontakt mehr seit einem bestimmten Tag",
        "Weiß ich noch nicht",
        "Videogespräch",
        "Wähle deine Zeitzone",
        "Ich bin mindestens 18 Jahre alt",
        "<a href=\"/privacy\">Datenschutzerklärung</a> beschreibt",
        "Anfrage senden",
    ] {
        assert!(form.contains(words), "the form lacks “{words}”");
    }
    let request_form = &form[form.find("<form class=\"request-form\"").unwrap()..];
    let request_form = &request_form[..request_form.find("</form>").unwrap()];
    no_english("the form", request_form);
    assert!(!form.contains(">Price:</span>") && form.contains(">Preis:</span>"));

    // A refused form: what to fix, by the fields and in the summary.
    let token = field_value(&form, "token");
    let refused = with(
        with(
            without(without(good_form(), "together_for"), "consent"),
            "no_contact_since",
            "2999-01-01",
        ),
        "email",
        "not-an-email",
    );
    let res = app.send_request(&refused, &token, "203.0.113.60").await;
    assert_eq!(res.status(), 422);
    let page = res.text().await.unwrap();
    for words in [
        "<title>Fehler: ",
        "Bitte sieh dir 4 Antworten noch einmal an",
        "Alles, was du geschrieben hast, ist noch da.",
        "Bitte sag ungefähr, wie lange ihr zusammen wart.",
        "Dieses Datum liegt in der Zukunft.",
        "Bitte stimm zu, wie mit deinen Antworten umgegangen wird",
        "E-Mail-Adresse",
    ] {
        assert!(page.contains(words), "the refused form lacks “{words}”");
    }
    no_english(
        "the refused form",
        &page[page.find("<form class=\"request-form\"").unwrap()..],
    );
    // A problem with the whole form.
    let res = app
        .send_request(&good_form(), "1.abc", "203.0.113.60")
        .await;
    assert_eq!(res.status(), 422);
    let page = res.text().await.unwrap();
    assert!(page.contains("Deine Anfrage ist noch nicht gesendet"));
    assert!(page.contains("Das Formular ließ sich nicht prüfen"));
    no_english(
        "the expired form",
        &page[page.find("<form class=\"request-form\"").unwrap()..],
    );
    assert_eq!(app.request_count().await, 0);

    // Sent: the thank-you page.
    let browser = client();
    let thanks = send_and_thank(&app, &browser, &good_form(), "203.0.113.61").await;
    for words in [
        "<title>Danke · ",
        "Danke. Deine Anfrage ist gut angekommen.",
        "<strong>Jetzt:</strong> Wir haben dir eine E-Mail mit einem privaten Link an <strong class=\"thanks-page__email\">sam@example.com</strong> geschickt.",
        "Innerhalb von zwei Werktagen:",
        "Nach ein paar Minuten noch keine E-Mail?",
        "Geh behutsam mit dir um.",
    ] {
        assert!(thanks.contains(words), "the thank-you page lacks “{words}”");
    }
    no_english("the thank-you page", &thanks);

    // The reader's confirmation, and the coach's alert.
    let confirmation = app
        .mail_matching("the confirmation", |m| m.contains("To: sam@example.com"))
        .await;
    assert!(
        subject(&confirmation).starts_with("Deine Coaching-Anfrage bei "),
        "{}",
        subject(&confirmation)
    );
    for words in [
        "Hallo Sam,",
        "Danke für deine Coaching-Anfrage (A written breakup plan). Sie ist gut angekommen.",
        "Der Coach liest jede Anfrage persönlich",
        "Bitte behalte den Link für dich",
        "wende dich bitte an den Notruf",
        "\r\nHerzlich,\r\n",
    ] {
        assert!(
            confirmation.contains(words),
            "the confirmation lacks “{words}”:\n{confirmation}"
        );
    }
    no_english("the confirmation", &confirmation);
    let alert = app
        .mail_matching("the coach's alert", |m| m.contains("To: coach@example.com"))
        .await;
    assert_eq!(
        subject(&alert),
        "Eine neue Coaching-Anfrage: A written breakup plan"
    );
    assert!(alert.contains("Eine neue Coaching-Anfrage (A written breakup plan)."));
    assert!(
        alert.contains("Zum Schutz der Privatsphäre stehen die Details nicht in dieser E-Mail.")
    );
    no_english("the coach's alert", &alert);

    // The private status page.
    let token: String = confirmation
        .split("/requests/")
        .nth(1)
        .unwrap()
        .chars()
        .take(64)
        .collect();
    let path = format!("/requests/{token}");
    let reader = client();
    let (status, page) = get(&reader, &app, &path).await;
    assert_eq!(status, 200);
    for words in [
        "<h1>Deine Coaching-Anfrage</h1>",
        "A written breakup plan, gesendet am <time",
        "Diese Seite ist privat",
        ">Eingegangen</span>",
        "Deine Anfrage ist gut angekommen. Der Coach liest jede Anfrage persönlich",
        "<summary>Deine Antworten</summary>",
        "<dt>Wer hat die Beziehung beendet</dt>",
        "<dd>Die andere Person</dd>",
        "<dd>Kein Kontakt mehr seit 2026-11-01</dd>",
        "<dt>Am liebsten per</dt>",
        "<dd>Europe/Berlin</dd>",
        "Anfrage zurückziehen",
        "Anfrage löschen",
    ] {
        assert!(page.contains(words), "the status page lacks “{words}”");
    }
    no_english("the status page", &page);
    // A message: refused when empty, then sent, and the coach hears of it.
    let form_token = field_value(&page, "form_token");
    let res = post(
        &reader,
        &app,
        &format!("{path}/messages"),
        &[("form_token", &form_token), ("body", " ")],
    )
    .await;
    assert_eq!(res.status(), 422);
    let refused = res.text().await.unwrap();
    assert!(refused.contains("Bitte schreib zuerst deine Nachricht."));
    no_english("the refused message", &refused);
    let res = post(
        &reader,
        &app,
        &format!("{path}/messages"),
        &[
            ("form_token", &form_token),
            ("body", "Wir haben einen Hund."),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    let (_, page) = get(&reader, &app, &location).await;
    assert!(page.contains("<p class=\"notice\" role=\"status\">Deine Nachricht ist gesendet.</p>"));
    no_english("the status page after a message", &page);
    let alert = app
        .mail_matching("the coach hears of the message", |m| {
            m.contains("To: coach@example.com") && !m.contains("Eine neue Coaching-Anfrage")
        })
        .await;
    assert_eq!(
        subject(&alert),
        "Eine neue Nachricht der anfragenden Person: A written breakup plan"
    );
    no_english("the alert of a message", &alert);

    // Deleting asks first, says it is done, and the coach hears of it.
    let (status, confirm) = get(&reader, &app, &format!("{path}/delete")).await;
    assert_eq!(status, 200);
    assert!(confirm.contains("<h1>Anfrage endgültig löschen?</h1>"));
    assert!(confirm.contains("Ja, alles löschen"));
    no_english("the question before deleting", &confirm);
    let res = post(
        &reader,
        &app,
        &format!("{path}/delete"),
        &[("form_token", &field_value(&confirm, "form_token"))],
    )
    .await;
    assert_eq!(res.status(), 200);
    let deleted = res.text().await.unwrap();
    assert!(deleted.contains("<h1>Deine Anfrage ist gelöscht</h1>"));
    assert!(deleted.contains("Pass gut auf dich auf."));
    no_english("the deleted page", &deleted);
    let alert = app
        .mail_matching("the coach hears of the deletion", |m| {
            m.contains("To: coach@example.com") && subject(m).contains("gelöscht")
        })
        .await;
    assert_eq!(
        subject(&alert),
        "Die anfragende Person hat ihre Anfrage und alle Daten gelöscht: A written breakup plan"
    );
}

#[actix_web::test]
async fn reader_messages_are_rate_limited_and_alert_the_coach_at_most_once_in_a_while() {
    let app = spawn_coaching_app().await;
    let path = app
        .request_and_status_path("sam@example.com", "203.0.113.70")
        .await;
    let id = app.requests().await[0].id;
    let reader = client();
    let (_, page) = get(&reader, &app, &path).await;
    let form_token = field_value(&page, "form_token");
    let send = |body: &'static str, ip: &'static str| {
        let (reader, app, path, form_token) = (&reader, &app, &path, &form_token);
        async move {
            reader
                .post(format!("{}{path}/messages", app.address))
                .header("X-Forwarded-For", ip)
                .form(&[("form_token", form_token.as_str()), ("body", body)])
                .send()
                .await
                .unwrap()
        }
    };
    let res = send("First thought.", "203.0.113.71").await;
    assert_eq!(res.status(), 303);
    // A burst is refused, with the text kept, from this network or any other.
    for ip in ["203.0.113.71", "198.51.100.72"] {
        let res = send("Second thought, right away.", ip).await;
        assert_eq!(res.status(), 429, "{ip}");
        let retry: i64 = res.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(retry > 0 && retry <= 60, "{retry}");
        let page = res.text().await.unwrap();
        assert!(page.contains("Second thought, right away."));
        assert!(page.contains("Please wait"), "{page}");
    }
    let stored = db::run(&app.pool, move |conn| {
        db::coaching::messages(conn, id, false)
    })
    .await
    .unwrap();
    assert_eq!(stored.len(), 1);
    app.mail_matching("the coach hears of the message", |m| {
        m.contains("A new message from the reader")
    })
    .await;
    // Further alerts within a few minutes wait, merged into one.
    for _ in 0..5 {
        kintsugi::notify::request_event(&app.state.mail(), id, kintsugi::notify::NEW_MESSAGE_EVENT)
            .await;
    }
    actix_web::rt::time::sleep(std::time::Duration::from_millis(500)).await;
    let alerts = app
        .mails()
        .await
        .into_iter()
        .filter(|m| m.contains("A new message from the reader"))
        .count();
    assert_eq!(alerts, 1);
    assert_eq!(db::run(&app.pool, db::mail::unsent_count).await.unwrap(), 1);
}

#[actix_web::test]
async fn mailto_links_carry_the_address_and_nothing_more() {
    let app = spawn_coaching_app().await;
    let token = app.form_token("").await;
    let res = app
        .send_request(
            &with(good_form(), "email", "x?cc=evil@example.com"),
            &token,
            "203.0.113.80",
        )
        .await;
    assert_eq!(res.status(), 303);
    let coach = app.coach_client().await;
    let id = app.requests().await[0].id;
    let (_, detail) = get(&coach, &app, &format!("/admin/requests/{id}")).await;
    assert!(
        detail.contains("href=\"mailto:x%3Fcc%3Devil@example.com\""),
        "{detail}"
    );
    assert!(!detail.contains("mailto:x?cc"));
}

#[actix_web::test]
async fn deleting_a_request_takes_its_waiting_update_email_with_it() {
    let app = spawn_with(Options {
        env: vec![
            ("KINTSUGI_BASE_URL", "http://127.0.0.1".to_string()),
            ("KINTSUGI_MAIL_UPDATE_DELAY_SECONDS", "60".to_string()),
        ],
        ..Options::default()
    })
    .await;
    let path = app
        .request_and_status_path("ada@example.com", "203.0.113.80")
        .await;
    let id = app.requests().await[0].id;
    kintsugi::notify::request_update(
        &app.state.mail(),
        id,
        Some("Private words from the coach.".into()),
        None,
        chrono::Utc::now().naive_utc(),
    )
    .await;
    let waiting = |app: &TestApp| {
        let pool = app.pool.clone();
        async move {
            let later = chrono::Utc::now().naive_utc() + Duration::minutes(5);
            db::run(&pool, move |conn| db::mail::claim_due(conn, later, 50, 1))
                .await
                .unwrap()
                .into_iter()
                .filter(|m| m.recipient == "ada@example.com")
                .count()
        }
    };
    // (Waiting: the merge test shows such an email is queued for later.)
    let (_, confirm) = get(&client(), &app, &format!("{path}/delete")).await;
    let token = field_value(&confirm, "form_token");
    let res = post(
        &client(),
        &app,
        &format!("{path}/delete"),
        &[("form_token", &token)],
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        waiting(&app).await,
        0,
        "the coach's words are not sent after deletion"
    );
}

#[actix_web::test]
async fn a_message_in_crisis_words_brings_the_help_first_and_an_urgent_alert() {
    let app = spawn_coaching_app().await;
    let path = app
        .request_and_status_path("noor@example.com", "203.0.113.90")
        .await;
    let (_, page) = get(&client(), &app, &path).await;
    assert!(!page.contains("id=\"crisis-help\""), "a calm request");
    let token = field_value(&page, "form_token");
    let res = post(
        &client(),
        &app,
        &format!("{path}/messages"),
        &[
            ("form_token", &token),
            ("body", "It got worse. Some nights I want to die."),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    assert!(location.ends_with("#crisis-help"), "{location}");
    let (_, page) = get(&client(), &app, &path).await;
    let help = page
        .find("id=\"crisis-help\"")
        .expect("the resources first");
    assert!(help < page.find("<h1").unwrap());
    assert!(app.requests().await[0].is_urgent);
    app.mail_matching("the urgent alert", |m| {
        m.contains(&format!("To: {EMAIL}")) && m.contains("Subject: URGENT")
    })
    .await;
}

/// Another process holds the write lock: the coaching form and a message
/// on the status page come back filled in, with a 503, `Retry-After` and a
/// kind word, and nothing half-written; after the lock, they go through.
#[actix_web::test]
async fn a_locked_database_gives_the_request_and_the_message_back_filled_in() {
    let app = spawn_coaching_app().await;
    let status_path = app
        .request_and_status_path("first@example.com", "10.3.0.1")
        .await;
    let story =
        "Nine years, two cities, one dog. He left on a Tuesday & I <still> can't say it out loud.";
    let message = "One more thing I forgot to say: the dog stays with me.";
    let token = app.form_token("").await;
    let (_, status_page) = app.page(&status_path).await;
    let message_token = field_value(&status_page, "form_token");
    let lock = WriteLock::hold(&app.database_url);

    let res = app
        .send_request(&with(good_form(), "situation", story), &token, "10.3.0.2")
        .await;
    assert_eq!(res.status(), 503);
    assert!(res.headers().get("retry-after").is_some());
    let page = res.text().await.unwrap();
    assert!(page.contains("We could not save this just now"), "{page}");
    assert!(
        page.contains("He left on a Tuesday &#38; I &#60;still&#62; can"),
        "the story is kept: {page}"
    );
    let res = post(
        &client(),
        &app,
        &format!("{status_path}/messages"),
        &[("body", message), ("form_token", &message_token)],
    )
    .await;
    assert_eq!(res.status(), 503);
    assert!(res.headers().get("retry-after").is_some());
    let page = res.text().await.unwrap();
    assert!(page.contains(message), "the message is kept: {page}");
    assert_eq!(app.request_count().await, 1, "nothing stored while locked");

    drop(lock);
    let res = app
        .send_request(&with(good_form(), "situation", story), &token, "10.3.0.2")
        .await;
    assert_eq!(res.status(), 303);
    let res = post(
        &client(),
        &app,
        &format!("{status_path}/messages"),
        &[("body", message), ("form_token", &message_token)],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(app.request_count().await, 2);
}
