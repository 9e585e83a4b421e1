//! Everything that decides by time reads the application's clock
//! (`AppState::clock`), so these tests move it instead of waiting.
use chrono::Duration;

use crate::helpers::*;

const SLUG: &str = "going-no-contact";

/// Posts a comment on [`SLUG`] as `browser` with `token`.
async fn post_comment(
    app: &TestApp,
    browser: &reqwest::Client,
    token: &str,
    body: &str,
    ip: &str,
) -> reqwest::Response {
    browser
        .post(format!("{}/articles/{SLUG}/comments", app.address))
        .header("X-Forwarded-For", ip)
        .form(&[
            ("name", "Sam"),
            ("email", "sam@example.com"),
            ("body", body),
            ("token", token),
        ])
        .send()
        .await
        .unwrap()
}

#[actix_web::test]
async fn a_comment_form_expires_when_the_clock_passes_its_age_limit() {
    let app = spawn_app().await;
    let browser = client();
    // A form served a day and a minute ago: too old.
    let old = comment_form_token(&app, &browser, SLUG).await;
    app.state
        .clock
        .advance(Duration::hours(24) + Duration::minutes(1));
    let res = post_comment(&app, &browser, &old, "Sent far too late.", "10.9.0.1").await;
    assert_eq!(res.status(), 422);
    let page = res.text().await.unwrap();
    assert!(page.contains("the form expired"), "{page}");
    assert!(
        page.contains("Sent far too late."),
        "the reader's text is kept"
    );
    // The page served now carries a form that is fresh at the moved time.
    let fresh = comment_form_token(&app, &browser, SLUG).await;
    assert_ne!(fresh, old);
    let res = post_comment(&app, &browser, &fresh, "Sent in time.", "10.9.0.1").await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
}

#[actix_web::test]
async fn the_edit_window_of_a_comment_closes_when_the_clock_moves_past_it() {
    let app = spawn_app().await;
    let browser = client();
    let token = comment_form_token(&app, &browser, SLUG).await;
    let res = post_comment(&app, &browser, &token, "First draft.", "10.9.0.2").await;
    let id = posted_id(&res);
    let edit = format!("{}/comments/{id}/edit", app.address);
    let res = browser.get(&edit).send().await.unwrap();
    assert_eq!(res.status(), 200);
    // Fourteen minutes on, the writer may still change it.
    app.state.clock.advance(Duration::minutes(14));
    assert_eq!(browser.get(&edit).send().await.unwrap().status(), 200);
    // Sixteen minutes on, no more.
    app.state.clock.advance(Duration::minutes(2));
    let res = browser.get(&edit).send().await.unwrap();
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("that time has passed"));
    let res = browser
        .post(&edit)
        .form(&[("body", "Second thoughts.")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
}

#[actix_web::test]
async fn a_scheduled_article_is_published_when_the_clock_reaches_its_date() {
    let tomorrow = chrono::Utc::now() + Duration::days(1);
    let stamp = tomorrow.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let app = spawn_with_content(move |dir| {
        write_article(
            dir,
            "tomorrow.md",
            &format!("title = \"Out tomorrow\"\ndate = {stamp}"),
            "Soon.",
        );
    })
    .await;
    assert_eq!(app.page("/articles/tomorrow").await.0, 404);
    assert!(!app.page("/").await.1.contains("Out tomorrow"));
    assert!(!app.page("/feed.xml").await.1.contains("Out tomorrow"));
    app.state
        .clock
        .advance(Duration::days(1) + Duration::minutes(1));
    assert_eq!(app.page("/articles/tomorrow").await.0, 200);
    assert!(app.page("/").await.1.contains("Out tomorrow"));
    assert!(app.page("/feed.xml").await.1.contains("Out tomorrow"));
    assert!(app
        .page("/sitemap.xml")
        .await
        .1
        .contains("/articles/tomorrow"));
}

/// The token of the coaching form served now.
async fn coaching_form_token(app: &TestApp) -> String {
    let (status, page) = app.page("/coaching").await;
    assert_eq!(status, 200);
    page.split("name=\"token\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a coaching form")
        .to_string()
}

/// Sends a complete coaching request with `token`.
async fn send_coaching_request(app: &TestApp, token: &str) -> reqwest::Response {
    let mut fields: Vec<(&str, &str)> = vec![
        ("name", "Sam"),
        ("email", "sam@example.com"),
        ("option", "written-plan"),
        ("ended_by", "they-did"),
        ("together_for", "1-to-3-years"),
        ("ended_ago", "under-a-month"),
        ("contact_now", "no-contact"),
        ("hope", "not-sure"),
        (
            "situation",
            "We were together three years; he left in October.",
        ),
        ("talk_via", "email"),
        ("time_zone", "Europe/Berlin"),
        ("adult", "1"),
        ("consent", "1"),
    ];
    let since = (chrono::Utc::now() - Duration::days(3))
        .format("%Y-%m-%d")
        .to_string();
    fields.push(("no_contact_since", &since));
    fields.push(("token", token));
    client()
        .post(format!("{}/coaching", app.address))
        .header("X-Forwarded-For", "10.9.0.3")
        .form(&fields)
        .send()
        .await
        .unwrap()
}

#[actix_web::test]
async fn a_coaching_form_expires_when_the_clock_passes_its_age_limit() {
    let app = spawn_app().await;
    let old = coaching_form_token(&app).await;
    app.state.clock.advance(Duration::hours(25));
    let res = send_coaching_request(&app, &old).await;
    assert_eq!(res.status(), 422);
    let page = res.text().await.unwrap();
    assert!(page.contains("the form expired"), "{page}");
    assert!(
        page.contains("he left in October"),
        "the reader's text is kept"
    );
    let fresh = coaching_form_token(&app).await;
    let res = send_coaching_request(&app, &fresh).await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
}
