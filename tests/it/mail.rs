//! Email: the outbox, double opt-in, reply notifications, unsubscribe,
//! approval and coach alerts, retries.
use std::path::Path;

use kintsugi::db;

use crate::helpers::*;

const SLUG: &str = "going-no-contact";

/// The .eml files written so far: (file name, decoded contents).
fn outbox(data_dir: &Path) -> Vec<(String, String)> {
    let mut mails: Vec<(String, String)> = std::fs::read_dir(data_dir.join("outbox"))
        .map(|dir| {
            dir.filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().ends_with(".eml"))
                .map(|e| {
                    (
                        e.file_name().to_string_lossy().to_string(),
                        readable(&std::fs::read_to_string(e.path()).unwrap()),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    mails.sort();
    mails
}

async fn wait_for_mail(app: &TestApp, kind: &str, to: &str) -> String {
    let mut found = None;
    eventually(&format!("a {kind} email to {to}"), || {
        found = outbox(&app.data_dir)
            .into_iter()
            .find(|(name, text)| {
                name.ends_with(&format!("-{kind}.eml")) && text.contains(&format!("To: {to}"))
            })
            .map(|(_, text)| text);
        let ok = found.is_some();
        async move { ok }
    })
    .await;
    found.unwrap()
}

fn link_in(mail: &str, prefix: &str) -> String {
    let start = mail
        .find(prefix)
        .unwrap_or_else(|| panic!("no {prefix} in:\n{mail}"));
    mail[start..]
        .split_whitespace()
        .next()
        .unwrap()
        .trim_end_matches('>')
        .to_string()
}

async fn post(app: &TestApp, client: &reqwest::Client, fields: &[(&str, &str)], ip: &str) -> i64 {
    let token = comment_form_token(app, client, SLUG).await;
    let mut form: Vec<(&str, &str)> = fields.to_vec();
    form.push(("token", &token));
    let res = client
        .post(format!("{}/articles/{SLUG}/comments", app.address))
        .header("X-Forwarded-For", ip)
        .form(&form)
        .send()
        .await
        .unwrap();
    posted_id(&res)
}

fn spawn_with_coach() -> Options {
    Options {
        env: vec![("KINTSUGI_COACH_EMAIL", "coach@example.com".into())],
        ..Options::default()
    }
}

#[actix_web::test]
async fn the_whole_reply_notification_journey() {
    let app = spawn_with(spawn_with_coach()).await;
    let sam = client();
    let question = post(
        &app,
        &sam,
        &[
            ("name", "Sam"),
            ("email", "sam@example.com"),
            ("body", "How long should I wait?"),
            ("notify", "1"),
        ],
        "10.9.0.1",
    )
    .await;

    // The coach hears of the held comment; Sam is asked to confirm.
    let coach = wait_for_mail(&app, "coach", "coach@example.com").await;
    assert!(coach.contains("Subject: Comment to review"));
    assert!(coach.contains("How long should I wait?"));
    // Why it waits, in words (no machine codes).
    assert!(
        coach.contains("It waits because it is the first comment from this email address."),
        "{coach}"
    );
    assert!(!coach.contains("first-comment"));
    let confirm = wait_for_mail(&app, "confirm", "sam@example.com").await;
    let confirm_url = link_in(&confirm, "https://coach.example/notifications/confirm/");
    let confirm_path = confirm_url.trim_start_matches("https://coach.example");

    // The coach approves it: Sam hears it is published.
    assert!(
        kintsugi::web::admin::moderation::approve_comment(&app.state, question, None)
            .await
            .unwrap()
    );
    let approved = wait_for_mail(&app, "approved", "sam@example.com").await;
    assert!(approved.contains(&format!(
        "https://coach.example/articles/{SLUG}#comment-{question}"
    )));

    // A reply before Sam confirmed sends nothing to Sam.
    let ana = client();
    let first_reply = post(
        &app,
        &ana,
        &[
            ("name", "Ana"),
            ("email", "ana@example.com"),
            ("body", "Thirty days helped me."),
            ("parent", &question.to_string()),
        ],
        "10.9.0.2",
    )
    .await;
    assert!(
        kintsugi::web::admin::moderation::approve_comment(&app.state, first_reply, None)
            .await
            .unwrap()
    );
    wait_for_mail(&app, "approved", "ana@example.com").await;
    assert!(
        !outbox(&app.data_dir)
            .iter()
            .any(|(n, _)| n.ends_with("-reply.eml")),
        "not confirmed yet"
    );

    // Sam confirms; Ana (now known, so published at once) replies again.
    let (status, page) = app.page(confirm_path).await;
    assert_eq!(status, 200);
    assert!(page.contains("Your address is confirmed"));
    post(
        &app,
        &ana,
        &[
            ("name", "Ana"),
            ("email", "ana@example.com"),
            ("body", "And be kind to yourself."),
            ("parent", &question.to_string()),
        ],
        "10.9.0.3",
    )
    .await;
    let reply = wait_for_mail(&app, "reply", "sam@example.com").await;
    assert!(reply.contains("Subject: Ana replied to your comment"));
    assert!(reply.contains("And be kind to yourself."));
    assert!(
        !reply.contains("ana@example.com"),
        "the replier's email is not shared"
    );
    let unsubscribe_url = link_in(&reply, "https://coach.example/notifications/unsubscribe/");
    assert!(reply.contains(&format!("List-Unsubscribe: <{unsubscribe_url}>")));
    assert!(reply.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));

    // One click (as a mail program does it): no more reply emails.
    let path = unsubscribe_url.trim_start_matches("https://coach.example");
    let (status, page) = app.page(path).await;
    assert_eq!(status, 200, "the link asks first");
    assert!(page.contains("Stop reply emails?"));
    let res = app
        .client
        .post(format!("{}{path}", app.address))
        .form(&[("List-Unsubscribe", "One-Click")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    post(
        &app,
        &ana,
        &[
            ("name", "Ana"),
            ("email", "ana@example.com"),
            ("body", "One more thought."),
            ("parent", &question.to_string()),
        ],
        "10.9.0.4",
    )
    .await;
    actix_web::rt::time::sleep(std::time::Duration::from_millis(2500)).await;
    let replies = outbox(&app.data_dir)
        .iter()
        .filter(|(n, t)| n.ends_with("-reply.eml") && t.contains("To: sam@example.com"))
        .count();
    assert_eq!(replies, 1, "nothing after unsubscribing");

    // Forged links are refused.
    assert_eq!(app.page("/notifications/confirm/1.deadbeef").await.0, 400);
    assert_eq!(
        app.page("/notifications/unsubscribe/1.deadbeef").await.0,
        400
    );
}

#[actix_web::test]
async fn urgent_and_private_comments_alert_the_coach_with_their_own_subject() {
    let app = spawn_with(spawn_with_coach()).await;
    post(
        &app,
        &client(),
        &[
            ("name", "R"),
            ("email", "r@example.com"),
            ("body", "I want to die some nights."),
        ],
        "10.9.1.1",
    )
    .await;
    let urgent = wait_for_mail(&app, "coach", "coach@example.com").await;
    assert!(urgent.contains("Subject: URGENT comment to review"));
    assert!(urgent.contains("crisis resources"), "{urgent}");
    post(
        &app,
        &client(),
        &[
            ("name", "P"),
            ("email", "p@example.com"),
            ("body", "Only for you."),
            ("private", "1"),
        ],
        "10.9.1.2",
    )
    .await;
    eventually("a private-question alert", || {
        let found = outbox(&app.data_dir)
            .iter()
            .any(|(_, t)| t.contains("Subject: Private question on"));
        async move { found }
    })
    .await;
}

#[actix_web::test]
async fn a_failing_mail_server_never_fails_the_post_and_mail_is_retried() {
    let app = spawn_with(Options {
        env: vec![
            ("KINTSUGI_COACH_EMAIL", "coach@example.com".into()),
            ("KINTSUGI_SMTP_URL", "smtp://127.0.0.1:1".into()),
        ],
        ..Options::default()
    })
    .await;
    let started = std::time::Instant::now();
    post(
        &app,
        &client(),
        &[
            ("name", "S"),
            ("email", "s@example.com"),
            ("body", "Hello."),
        ],
        "10.9.2.1",
    )
    .await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "the reader does not wait for mail"
    );
    eventually("a failed attempt is recorded", || {
        let pool = app.pool.clone();
        async move {
            db::run(&pool, db::mail::attempts_of_unsent)
                .await
                .unwrap()
                .iter()
                .any(|a| *a >= 1)
        }
    })
    .await;
    assert_eq!(
        db::run(&app.pool, db::mail::unsent_count).await.unwrap(),
        1,
        "kept for a retry"
    );
}

#[actix_web::test]
async fn a_comment_changed_into_crisis_words_alerts_the_coach_at_once() {
    let app = spawn_with(spawn_with_coach()).await;
    let reader = client();
    let id = post(
        &app,
        &reader,
        &[
            ("name", "E"),
            ("email", "e@example.com"),
            ("body", "A calm question about sleep."),
        ],
        "10.9.3.1",
    )
    .await;
    let first = wait_for_mail(&app, "coach", "coach@example.com").await;
    assert!(!first.contains("Subject: URGENT"), "{first}");
    let edit = format!("{}/comments/{id}/edit", app.address);
    let res = reader
        .post(&edit)
        .form(&[("body", "Actually, some nights I want to die.")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert!(res.headers()["location"]
        .to_str()
        .unwrap()
        .ends_with("#crisis-help"));
    eventually("an urgent alert after the change", || {
        let found = outbox(&app.data_dir).iter().any(|(_, m)| {
            m.contains("To: coach@example.com") && m.contains("Subject: URGENT comment to review")
        });
        async move { found }
    })
    .await;
}
