//! "My questions" (`/me`): the link by email (expiry, single use, the same
//! answer for every address, the rate limit), what the page lists, turning
//! notifications off, the download and deleting everything.
use chrono::Duration;
use diesel::prelude::*;
use kintsugi::db;

use crate::helpers::*;

const SLUG: &str = "going-no-contact";

async fn get(browser: &reqwest::Client, app: &TestApp, path: &str) -> (u16, String) {
    let res = browser
        .get(format!("{}{path}", app.address))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.text().await.unwrap())
}

async fn post(
    browser: &reqwest::Client,
    app: &TestApp,
    path: &str,
    form: &[(&str, &str)],
    ip: &str,
) -> reqwest::Response {
    browser
        .post(format!("{}{path}", app.address))
        .header("X-Forwarded-For", ip)
        .form(form)
        .send()
        .await
        .unwrap()
}

/// Asks for the link for `email` from `browser`; the response.
async fn ask(browser: &reqwest::Client, app: &TestApp, email: &str, ip: &str) -> reqwest::Response {
    let (status, page) = get(browser, app, "/me").await;
    assert_eq!(status, 200);
    let token = field_value(&page, "form_token");
    post(
        browser,
        app,
        "/me",
        &[("form_token", &token), ("email", email)],
        ip,
    )
    .await
}

/// The mails queued for `email` of `kind`, newest first.
async fn mails(app: &TestApp, email: &str, kind: &str) -> Vec<String> {
    use db::schema::mail_outbox;
    let (email, kind) = (email.to_string(), kind.to_string());
    db::run(&app.pool, move |conn| {
        mail_outbox::table
            .filter(mail_outbox::recipient.eq(&email))
            .filter(mail_outbox::kind.eq(&kind))
            .order(mail_outbox::id.desc())
            .select(mail_outbox::body)
            .load::<String>(conn)
    })
    .await
    .unwrap()
}

/// The path of the newest link mailed to `email`, read from the mail
/// the worker wrote to the outbox (the database keeps no copy once sent).
async fn link_path(app: &TestApp, email: &str) -> String {
    use db::schema::mail_outbox;
    let recipient = email.to_string();
    let id: i64 = db::run(&app.pool, move |conn| {
        mail_outbox::table
            .filter(mail_outbox::recipient.eq(&recipient))
            .filter(mail_outbox::kind.eq(db::mail::READER_LINK))
            .order(mail_outbox::id.desc())
            .select(mail_outbox::id)
            .first(conn)
    })
    .await
    .expect("a link was mailed");
    let suffix = format!("-{id:06}-me-link.eml");
    let outbox = app.data_dir.join("outbox");
    let mut found = None;
    for _ in 0..100 {
        found = std::fs::read_dir(&outbox).ok().and_then(|dir| {
            dir.filter_map(|e| e.ok())
                .find(|e| e.file_name().to_string_lossy().ends_with(&suffix))
                .map(|e| readable(&std::fs::read_to_string(e.path()).unwrap()))
        });
        if found.is_some() {
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let body = found.expect("the link's mail in the outbox");
    assert!(body.contains(&format!("To: {email}")), "{body}");
    let start = body.find("/me/open?token=").expect("a link in the mail");
    body[start..].split_whitespace().next().unwrap().to_string()
}

/// Opens the link at `path` in `browser`: the button page, then its form.
async fn open(browser: &reqwest::Client, app: &TestApp, path: &str) -> reqwest::Response {
    let (status, page) = get(browser, app, path).await;
    assert_eq!(status, 200, "{page}");
    let form_token = field_value(&page, "form_token");
    let token = field_value(&page, "token");
    post(
        browser,
        app,
        "/me/open",
        &[("form_token", &form_token), ("token", &token)],
        "198.51.100.9",
    )
    .await
}

/// A reader's comment on [`SLUG`]; its id.
async fn comment(app: &TestApp, email: &str, body: &str, extra: &[(&str, &str)], ip: &str) -> i64 {
    let browser = client();
    let token = comment_form_token(app, &browser, SLUG).await;
    let mut form = vec![
        ("name", "Sam"),
        ("email", email),
        ("body", body),
        ("token", &token),
    ];
    form.extend_from_slice(extra);
    let res = post(
        &browser,
        app,
        &format!("/articles/{SLUG}/comments"),
        &form,
        ip,
    )
    .await;
    assert_eq!(res.status(), 303);
    posted_id(&res)
}

async fn approve(app: &TestApp, id: i64) {
    db::run(&app.pool, move |conn| db::comments::approve(conn, id))
        .await
        .unwrap();
    app.state.page_cache.comments_changed(SLUG);
}

async fn coach_reply(app: &TestApp, to: i64, text: &str) -> i64 {
    let text = text.to_string();
    let now = app.state.clock.now_naive();
    db::run(&app.pool, move |conn| {
        let html = format!("<p>{text}</p>");
        db::comments::post_coach_reply(
            conn,
            &db::comments::CoachReply {
                reply_to: to,
                author_name: "Maya",
                author_email: "coach@example.com",
                body_markdown: &text,
                body_html: &html,
                now,
            },
        )
        .map_err(|_| diesel::result::Error::NotFound)
    })
    .await
    .unwrap()
}

/// A browser with `email`'s page open.
async fn signed_in(app: &TestApp, email: &str, ip: &str) -> reqwest::Client {
    let browser = client();
    let res = ask(&browser, app, email, ip).await;
    assert_eq!(res.status(), 303);
    let path = link_path(app, email).await;
    let res = open(&browser, app, &path).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/me");
    browser
}

#[actix_web::test]
async fn the_link_opens_the_page_once_within_half_an_hour() {
    let app = spawn_app().await;
    comment(
        &app,
        "sam@example.com",
        "My first question.",
        &[],
        "203.0.113.1",
    )
    .await;
    let browser = client();
    let res = ask(&browser, &app, "Sam@Example.com", "203.0.113.2").await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/me?sent=1");
    let (_, sent) = get(&browser, &app, "/me?sent=1").await;
    assert!(sent.contains("a link to your page is on its way"));
    let path = link_path(&app, "sam@example.com").await;
    assert!(!path.contains("sam"), "the link names nobody");
    // Only the hash of the token is stored.
    let token = path.trim_start_matches("/me/open?token=").to_string();
    let stored: Vec<String> = db::run(&app.pool, |conn| {
        db::schema::reader_links::table
            .select(db::schema::reader_links::token_hash)
            .load(conn)
    })
    .await
    .unwrap();
    assert_eq!(stored, vec![kintsugi::keys::token_hash(&token)]);
    // Once sent, the mail's text (with the token) is not kept either.
    eventually("the sent link's text is dropped", || async {
        mails(&app, "sam@example.com", db::mail::READER_LINK).await == vec![String::new()]
    })
    .await;

    // Opening the link asks first: a mail program that opens every link
    // does not use it up.
    let (status, _) = get(&client(), &app, &path).await;
    assert_eq!(status, 200);
    let res = open(&browser, &app, &path).await;
    assert_eq!(res.status(), 303);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_string();
    // The tests' site is on https: a Path-scoped cookie cannot be
    // `__Host-`, so it is `__Secure-`.
    assert!(cookie.starts_with("__Secure-kintsugi_me="), "{cookie}");
    assert!(cookie.contains("Secure"), "{cookie}");
    assert!(cookie.contains("Path=/me"), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    let (status, page) = get(&browser, &app, "/me").await;
    assert_eq!(status, 200);
    assert!(page.contains("My first question."));
    assert!(page.contains("sam@example.com"));
    assert!(page.contains("Waiting for the coach"));

    // Used once: another browser (or a second click) gets nothing.
    let (status, page) = get(&client(), &app, &path).await;
    assert_eq!(status, 410);
    assert!(page.contains("This link no longer works"));

    // A link older than 30 minutes does not open.
    app.state.clock.advance(Duration::minutes(2));
    let later = client();
    ask(&later, &app, "sam@example.com", "203.0.113.3").await;
    let path = link_path(&app, "sam@example.com").await;
    app.state.clock.advance(Duration::minutes(31));
    let (status, _) = get(&later, &app, &path).await;
    assert_eq!(status, 410);
    let (_, page) = get(&later, &app, "/me").await;
    assert!(
        page.contains("Send me the link"),
        "not open in that browser"
    );

    // The session lasts a few hours, then the form comes back.
    let (_, page) = get(&browser, &app, "/me").await;
    assert!(page.contains("My first question."));
    app.state.clock.advance(Duration::hours(3));
    let (_, page) = get(&browser, &app, "/me").await;
    assert!(!page.contains("My first question."));
    assert!(page.contains("Send me the link"));
}

#[actix_web::test]
async fn every_address_gets_the_same_answer_and_asking_is_rate_limited() {
    let app = spawn_app().await;
    comment(&app, "sam@example.com", "A question.", &[], "203.0.113.1").await;
    let known = ask(&client(), &app, "sam@example.com", "203.0.113.5").await;
    let unknown = ask(&client(), &app, "nobody@example.com", "203.0.113.6").await;
    assert_eq!(known.status(), unknown.status());
    assert_eq!(known.headers()["location"], unknown.headers()["location"]);
    let (_, a) = get(
        &client(),
        &app,
        known.headers()["location"].to_str().unwrap(),
    )
    .await;
    let (_, b) = get(
        &client(),
        &app,
        unknown.headers()["location"].to_str().unwrap(),
    )
    .await;
    let strip = |page: &str| {
        page.split("name=\"form_token\"")
            .next()
            .unwrap()
            .to_string()
    };
    assert_eq!(strip(&a), strip(&b));
    // A link goes only to an address that wrote here.
    assert_eq!(
        mails(&app, "sam@example.com", db::mail::READER_LINK)
            .await
            .len(),
        1
    );
    assert!(mails(&app, "nobody@example.com", db::mail::READER_LINK)
        .await
        .is_empty());
    // One network asking again and again is told to wait.
    let browser = client();
    let mut statuses = Vec::new();
    for i in 0..5 {
        let res = ask(&browser, &app, &format!("x{i}@example.com"), "203.0.113.7").await;
        statuses.push(res.status().as_u16());
        if res.status() == 429 {
            let wait: i64 = res.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!(wait >= 1);
            assert!(res.text().await.unwrap().contains("Please wait"));
        }
    }
    assert_eq!(&statuses[..1], &[303]);
    assert!(statuses.contains(&429), "{statuses:?}");
    // From another site, refused.
    let res = client()
        .post(format!("{}/me", app.address))
        .header("Origin", "https://evil.example")
        .form(&[("email", "sam@example.com")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
}

#[actix_web::test]
async fn the_page_lists_comments_answers_requests_and_notifications() {
    let app = spawn_with(Options {
        env: vec![("KINTSUGI_BASE_URL", "http://127.0.0.1".to_string())],
        ..Options::default()
    })
    .await;
    let public = comment(
        &app,
        "sam@example.com",
        "Public question about silence.",
        &[("notify", "1")],
        "203.0.113.1",
    )
    .await;
    approve(&app, public).await;
    let held = comment(
        &app,
        "sam@example.com",
        "A held second thought, see https://a.example and https://b.example",
        &[],
        "203.0.113.2",
    )
    .await;
    let private = comment(
        &app,
        "sam@example.com",
        "A private question for the coach.",
        &[("private", "1")],
        "203.0.113.3",
    )
    .await;
    approve(&app, private).await;
    let other = comment(
        &app,
        "robin@example.com",
        "Robin's words.",
        &[],
        "203.0.113.4",
    )
    .await;
    approve(&app, other).await;
    coach_reply(&app, public, "A public answer from the coach.").await;
    let answer = coach_reply(&app, private, "A private answer only Sam reads.").await;
    // The private answer is on no public page.
    let (_, article) = get(&client(), &app, &format!("/articles/{SLUG}")).await;
    assert!(article.contains("A public answer from the coach."));
    assert!(!article.contains("A private answer only Sam reads."));

    let browser = signed_in(&app, "sam@example.com", "203.0.113.9").await;
    let (status, page) = get(&browser, &app, "/me").await;
    assert_eq!(status, 200);
    for text in [
        "Public question about silence.",
        "A held second thought,",
        "A private question for the coach.",
        "A public answer from the coach.",
        "A private answer only Sam reads.",
        "Published",
        "Waiting for the coach",
        "Private: only you and the coach see it",
        "Private: only you see this answer.",
        &format!("/articles/{SLUG}#comment-{public}"),
        &format!("id=\"comment-{answer}\""),
    ] {
        assert!(page.contains(text), "missing {text}");
    }
    assert!(!page.contains("Robin's words."));
    assert!(
        !page.contains(&format!("#comment-{held}\"")),
        "a held one links to the article"
    );
    // Newest first.
    let at = |text: &str| page.find(text).unwrap();
    assert!(at("A private question for the coach.") < at("Public question about silence."));
    // Notifications: asked for on the public comment, not yet confirmed.
    assert!(page.contains("have not confirmed your address yet"));
    assert!(page.contains(&format!("name=\"thread\" value=\"{public}\"")));
    // The reader's own corner links to the no-contact counter.
    assert!(page.contains("href=\"/no-contact\""));
    // Nothing for the page without its cookie.
    let (_, stranger) = get(&client(), &app, "/me").await;
    assert!(!stranger.contains("Public question about silence."));
    let res = client()
        .get(format!("{}/me/export.json", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
}

#[actix_web::test]
async fn a_coaching_request_is_listed_with_a_link_to_its_page() {
    let app = spawn_with(Options {
        env: vec![("KINTSUGI_BASE_URL", "http://127.0.0.1".to_string())],
        ..Options::default()
    })
    .await;
    let (_, form) = get(&client(), &app, "/coaching").await;
    let token = field_value(&form, "token");
    let fields = [
        ("name", "Sam"),
        ("email", "sam@example.com"),
        ("option", "written-plan"),
        ("ended_by", "they-did"),
        ("together_for", "1-to-3-years"),
        ("ended_ago", "under-a-month"),
        ("contact_now", "no-contact"),
        ("no_contact_since", "2026-11-01"),
        ("hope", "not-sure"),
        ("situation", "We were together three years and he left."),
        ("talk_via", "email"),
        ("time_zone", "Europe/Berlin"),
        ("adult", "1"),
        ("consent", "1"),
        ("token", &token),
    ];
    let res = post(&client(), &app, "/coaching", &fields, "203.0.113.1").await;
    assert_eq!(res.status(), 303);
    let browser = signed_in(&app, "sam@example.com", "203.0.113.2").await;
    let (_, page) = get(&browser, &app, "/me").await;
    assert!(page.contains("A written breakup plan"), "{page}");
    assert!(page.contains("Received"));
    let status_path = page
        .split("href=\"/requests/")
        .nth(1)
        .expect("a link to the request's page")
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let (status, request) = get(&client(), &app, &format!("/requests/{status_path}")).await;
    assert_eq!(status, 200);
    assert!(request.contains("We were together three years and he left."));
    // The request's emails lead to the page too.
    let received = mails(&app, "sam@example.com", "request-received").await;
    assert!(
        received[0].contains("http://127.0.0.1/me"),
        "{}",
        received[0]
    );
}

#[actix_web::test]
async fn notifications_go_off_per_thread_or_all_at_once() {
    let app = spawn_app().await;
    let first = comment(
        &app,
        "sam@example.com",
        "First.",
        &[("notify", "1")],
        "203.0.113.1",
    )
    .await;
    approve(&app, first).await;
    let second = comment(
        &app,
        "sam@example.com",
        "Second.",
        &[("notify", "1")],
        "203.0.113.2",
    )
    .await;
    approve(&app, second).await;
    // The confirmation email leads to the page.
    let confirm = mails(&app, "sam@example.com", "confirm").await;
    assert!(confirm[0].contains("/me"), "{}", confirm[0]);
    let browser = signed_in(&app, "sam@example.com", "203.0.113.3").await;
    let (_, page) = get(&browser, &app, "/me").await;
    let token = field_value(&page, "form_token");
    let first_s = first.to_string();
    let res = post(
        &browser,
        &app,
        "/me/notifications",
        &[("form_token", &token), ("thread", &first_s)],
        "203.0.113.3",
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/me?done=thread");
    let notify = |id: i64| {
        let pool = app.pool.clone();
        async move {
            db::run(&pool, move |conn| db::comments::find(conn, id))
                .await
                .unwrap()
                .unwrap()
                .0
                .notify_replies
        }
    };
    assert!(!notify(first).await);
    assert!(notify(second).await);
    let (_, page) = get(&browser, &app, "/me?done=thread").await;
    assert!(page.contains("you no longer get emails about those replies"));
    assert!(!page.contains(&format!("name=\"thread\" value=\"{first}\"")));
    let res = post(
        &browser,
        &app,
        "/me/notifications",
        &[("form_token", &token), ("all", "1")],
        "203.0.113.3",
    )
    .await;
    assert_eq!(res.headers()["location"], "/me?done=all");
    assert!(!notify(second).await);
    let sub = db::run(&app.pool, |conn| {
        db::mail::subscription_by_email(conn, "sam@example.com")
    })
    .await
    .unwrap()
    .unwrap();
    assert!(sub.unsubscribed_at.is_some());
    let (_, page) = get(&browser, &app, "/me").await;
    assert!(page.contains("You get no emails about replies."));
}

#[actix_web::test]
async fn the_download_is_the_export_and_deleting_takes_everything() {
    let app = spawn_app().await;
    let question = comment(
        &app,
        "sam@example.com",
        "Please delete me later.",
        &[("notify", "1")],
        "203.0.113.1",
    )
    .await;
    approve(&app, question).await;
    let private = comment(
        &app,
        "sam@example.com",
        "Private too.",
        &[("private", "1")],
        "203.0.113.2",
    )
    .await;
    approve(&app, private).await;
    coach_reply(&app, question, "The coach's public answer.").await;
    coach_reply(&app, private, "The coach's private answer.").await;
    let robin = comment(
        &app,
        "robin@example.com",
        "Robin stays.",
        &[],
        "203.0.113.4",
    )
    .await;
    approve(&app, robin).await;
    let browser = signed_in(&app, "sam@example.com", "203.0.113.3").await;

    let res = browser
        .get(format!("{}/me/export.json", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("attachment"));
    assert_eq!(res.headers()["cache-control"], "no-store");
    let data: serde_json::Value = serde_json::from_str(&res.text().await.unwrap()).unwrap();
    let export = db::run(&app.pool, |conn| {
        db::coaching::export_person(conn, "sam@example.com")
    })
    .await
    .unwrap();
    assert_eq!(data, serde_json::to_value(&export).unwrap());
    assert_eq!(data["comments"].as_array().unwrap().len(), 2);

    // The confirmation says exactly what goes.
    let (status, confirm) = get(&browser, &app, "/me/delete").await;
    assert_eq!(status, 200);
    assert!(confirm.contains("your 2 comments"), "{confirm}");
    assert!(
        confirm.contains("the coach’s 2 answers to them"),
        "{confirm}"
    );
    assert!(confirm.contains("your email notification settings"));
    let (_, article) = get(&client(), &app, &format!("/articles/{SLUG}")).await;
    assert!(article.contains("Please delete me later."));
    let token = field_value(&confirm, "form_token");
    let res = post(
        &browser,
        &app,
        "/me/delete",
        &[("form_token", &token)],
        "203.0.113.3",
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/me?done=deleted");
    let (_, page) = get(&browser, &app, "/me?done=deleted").await;
    assert!(page.contains("Everything this site held about you is deleted."));
    assert!(page.contains("Send me the link"), "the page is closed");
    let left = db::run(&app.pool, |conn| {
        db::coaching::export_person(conn, "sam@example.com")
    })
    .await
    .unwrap();
    assert!(left.comments.is_empty());
    assert!(left.subscription.is_none());
    assert_eq!(left.emails_queued_or_sent, 0);
    let sessions: i64 = db::run(&app.pool, |conn| {
        db::schema::reader_sessions::table.count().get_result(conn)
    })
    .await
    .unwrap();
    assert_eq!(sessions, 0);
    // The coach's replies went with the comments; Robin's words stay.
    let (_, article) = get(&client(), &app, &format!("/articles/{SLUG}")).await;
    assert!(!article.contains("Please delete me later."));
    assert!(!article.contains("The coach's public answer."));
    assert!(!article.contains("The coach&#x27;s public answer."));
    assert!(article.contains("Robin stays."));
    let coach_left: i64 = db::run(&app.pool, |conn| {
        db::schema::comments::table
            .filter(db::schema::comments::is_coach.eq(true))
            .count()
            .get_result(conn)
    })
    .await
    .unwrap();
    assert_eq!(coach_left, 0);
}

#[actix_web::test]
async fn the_link_and_the_page_survive_a_restart_and_work_on_any_instance() {
    let app = spawn_app().await;
    comment(
        &app,
        "sam@example.com",
        "Written on one.",
        &[],
        "203.0.113.1",
    )
    .await;
    let browser = client();
    ask(&browser, &app, "sam@example.com", "203.0.113.2").await;
    let path = link_path(&app, "sam@example.com").await;
    // A second instance on the same database, with the same key.
    let second = spawn_with(Options {
        database_url: Some(app.database_url.clone()),
        env: vec![(
            "KINTSUGI_SECRET_KEY",
            std::fs::read_to_string(app.data_dir.join("secret.key")).unwrap(),
        )],
        ..Options::default()
    })
    .await;
    let res = open(&browser, &second, &path).await;
    assert_eq!(res.status(), 303);
    let (_, page) = get(&browser, &app, "/me").await;
    assert!(
        page.contains("Written on one."),
        "the first instance knows the session"
    );
}

#[actix_web::test]
async fn the_email_about_a_private_answer_leads_to_the_page_not_the_thread() {
    let app = spawn_with(Options {
        env: vec![("KINTSUGI_BASE_URL", "http://127.0.0.1".to_string())],
        ..Options::default()
    })
    .await;
    let private = comment(
        &app,
        "sam@example.com",
        "A private question, tell me by email.",
        &[("private", "1"), ("notify", "1")],
        "203.0.113.1",
    )
    .await;
    approve(&app, private).await;
    let now = app.state.clock.now_naive();
    db::run(&app.pool, move |conn| {
        let sub = db::mail::subscription_by_email(conn, "sam@example.com")?.unwrap();
        db::mail::confirm(conn, sub.id, now)
    })
    .await
    .unwrap();
    let answer = coach_reply(&app, private, "Here is my private answer.").await;
    kintsugi::notify::after_post(&app.state.mail(), answer, db::comments::APPROVED, false).await;
    let replies = mails(&app, "sam@example.com", "reply").await;
    assert_eq!(replies.len(), 1);
    let mail = &replies[0];
    assert!(mail.contains("Here is my private answer."), "{mail}");
    assert!(mail.contains("http://127.0.0.1/me\n"), "{mail}");
    assert!(
        !mail.contains("#comment-"),
        "a private answer has no place in a thread: {mail}"
    );
}
