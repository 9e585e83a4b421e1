//! The no-contact counter (`/no-contact`) without JavaScript: the coach's
//! milestones, urge steps and the crisis resources; a date sent in the
//! form is counted once and kept nowhere (no database row, no cookie, no
//! log line); dates it cannot use are said on the page. (With JavaScript
//! the date never leaves the browser: tests/browser/e2e.mjs.)
use chrono::{Duration, NaiveDate};
use kintsugi::config::DatabaseUrl;

use crate::helpers::*;

/// The site's today (the test app's clock, UTC).
fn today(app: &TestApp) -> NaiveDate {
    app.state.clock.now().date_naive()
}

fn iso(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

async fn count(app: &TestApp, since: &str) -> reqwest::Response {
    app.client
        .post(format!("{}/no-contact", app.address))
        .form(&[("since", since)])
        .send()
        .await
        .unwrap()
}

/// Every cell of every table, as text.
fn every_cell(app: &TestApp) -> String {
    let rows =
        kintsugi::db::transfer::canonical_rows(&DatabaseUrl::parse(&app.database_url).unwrap())
            .unwrap();
    rows.into_iter()
        .map(|(table, cells)| format!("{table}: {}", cells.join(" | ")))
        .collect::<Vec<_>>()
        .join("\n")
}

#[actix_web::test]
async fn the_page_has_the_coachs_milestones_urge_steps_and_the_crisis_resources() {
    let app = spawn_app().await;
    let res = app.get("/no-contact").await;
    assert_eq!(res.status(), 200);
    let csp = res.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self';"), "{csp}");
    let page = res.text().await.unwrap();
    assert!(page.contains("<h1>Your no-contact counter</h1>"), "{page}");
    // Every milestone with the coach's line, from content/no-contact.md.
    for (day, words) in [
        (7, "The first week is the loudest"),
        (14, "the mornings often get a little quieter"),
        (30, "thinking about something else for a whole afternoon"),
        (60, "Sixty days of choosing yourself"),
        (90, "You have rebuilt a life that does not run through them"),
    ] {
        assert!(page.contains(&format!("id=\"day-{day}\"")), "day {day}");
        assert!(page.contains(&format!("Day {day}</span>")), "day {day}");
        assert!(page.contains(words), "day {day}: {words}");
    }
    // "I want to text them" opens the steps, without JavaScript too.
    assert!(page.contains("<summary class=\"button\">I want to text them</summary>"));
    assert!(page.contains("Put the phone down and out of reach."));
    assert!(page.contains("href=\"/articles/broke-no-contact\""));
    // The crisis resources at the bottom of the steps.
    let steps = page.find("Put the phone down").unwrap();
    let crisis = page
        .find("Samaritans answer on 116 123")
        .expect("crisis resources");
    assert!(crisis > steps);
    // The form: sent by POST (never in an address), the script a static
    // file, deferred, no inline code.
    assert!(page.contains("<form method=\"post\" action=\"/no-contact\" id=\"nc-form\""));
    assert!(page.contains("name=\"since\" type=\"date\""));
    assert!(page.contains("Without JavaScript, this site counts for you once"));
    let script = page
        .split("<script src=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap();
    assert!(script.starts_with("/static/js/no-contact."), "{script}");
    assert!(page.contains(&format!("<script src=\"{script}\" defer></script>")));
    assert_eq!(
        count_occurrences(&page, "<script"),
        1,
        "one script, no inline code"
    );
    let js = app.get(script).await;
    assert_eq!(js.status(), 200);
    let js = js.text().await.unwrap();
    assert!(js.contains("localStorage"));
    assert!(
        !js.contains("fetch(") && !js.contains("XMLHttpRequest") && !js.contains("sendBeacon"),
        "the script sends nothing"
    );
    // Nothing counted yet: the count is empty and hidden.
    assert!(page.contains("id=\"nc-count\" aria-labelledby=\"nc-count-heading\" hidden"));
}

fn count_occurrences(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

#[actix_web::test]
async fn a_date_sent_without_javascript_is_counted_once_and_kept_nowhere() {
    let app = spawn_app().await;
    let before = today(&app);
    let since = iso(before - Duration::days(28));
    let res = count(&app, &since).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert!(res.headers().get("set-cookie").is_none(), "no cookie");
    let page = res.text().await.unwrap();
    // The day may turn while the test runs: 28 days, or 29 after midnight.
    let days = (today(&app) - (before - Duration::days(28))).num_days();
    assert!(
        page.contains(&format!(
            "<p class=\"no-contact__days\" id=\"nc-days\">{days} days without contact</p>"
        )),
        "{page}"
    );
    assert!(page.contains(&format!("Next milestone: day 30, in {} days.", 30 - days)));
    assert!(page.contains("clock (UTC), so it may be a day off where you are."));
    // Days 7 and 14 reached, 30 next; the field keeps the date for this page only.
    assert_eq!(count_occurrences(&page, "milestone milestone--reached"), 2);
    assert_eq!(count_occurrences(&page, "milestone milestone--next"), 1);
    assert!(page.contains(&format!("value=\"{since}\"")));
    assert!(page.contains("<meta name=\"robots\" content=\"noindex\">"));
    // Nothing of it stayed: no row of any table holds the date, and the
    // next visit knows nothing.
    let cells = every_cell(&app);
    assert!(!cells.contains(&since), "the date is stored:\n{cells}");
    let (_, again) = app.page("/no-contact").await;
    assert!(!again.contains(&since));
    assert!(!again.contains("days without contact</p>"));
}

#[actix_web::test]
async fn each_milestone_from_the_first_day_to_past_ninety() {
    let app = spawn_app().await;
    let today = today(&app);
    let page = count(&app, &iso(today)).await.text().await.unwrap();
    assert!(page.contains("Today is your first day."), "{page}");
    assert!(page.contains("Next milestone: day 7, in 7 days."));
    let page = count(&app, &iso(today - Duration::days(13)))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("13 days without contact"));
    assert!(page.contains("Next milestone: day 14, tomorrow."));
    assert!(page.contains("Day 14</span> Two weeks <span class=\"milestone__state\">(Next)</span>"));
    let page = count(&app, &iso(today - Duration::days(120)))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("120 days without contact"));
    assert!(page.contains("You have passed every milestone."));
    assert_eq!(count_occurrences(&page, "milestone milestone--reached"), 5);
    // A reader a time zone ahead, already on tomorrow: their first day.
    let page = count(&app, &iso(today + Duration::days(1)))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Today is your first day."));
}

#[actix_web::test]
async fn a_date_the_counter_cannot_use_is_said_on_the_page_never_an_error() {
    let app = spawn_app().await;
    let future = iso(today(&app) + Duration::days(30));
    for (since, words) in [
        (future.as_str(), "That day has not come yet."),
        ("yesterday", "We could not read that date."),
        ("", "We could not read that date."),
        ("2026-02-30", "We could not read that date."),
        ("<script>alert(1)</script>", "We could not read that date."),
    ] {
        let res = count(&app, since).await;
        assert_eq!(res.status(), 200, "{since}");
        let page = res.text().await.unwrap();
        assert!(page.contains(words), "{since}: {page}");
        assert!(page.contains("aria-invalid=\"true\""), "{since}");
        assert!(!page.contains("<script>alert(1)</script>"));
        assert!(page.contains("id=\"nc-count\" aria-labelledby=\"nc-count-heading\" hidden"));
    }
    // Not a form at all, or broken bytes: the same friendly answer.
    for (content_type, body) in [
        ("text/plain", b"since=2026-01-01".to_vec()),
        (
            "application/x-www-form-urlencoded",
            b"since=%FF%00&since".to_vec(),
        ),
        ("application/x-www-form-urlencoded", vec![b'a'; 60 * 1024]),
    ] {
        let res = app
            .client
            .post(format!("{}/no-contact", app.address))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{content_type}");
        assert!(res
            .text()
            .await
            .unwrap()
            .contains("We could not read that date."));
    }
    // Another site cannot post it (it would count nothing of its own, but
    // the counter answers only its page).
    for (header, value) in [
        ("origin", "https://elsewhere.example"),
        ("sec-fetch-site", "cross-site"),
    ] {
        let res = app
            .client
            .post(format!("{}/no-contact", app.address))
            .header(header, value)
            .form(&[("since", "2026-01-01")])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{header}");
    }
}

#[actix_web::test]
async fn the_no_contact_articles_and_the_footer_link_to_the_counter() {
    let app = spawn_app().await;
    let (_, article) = app.page("/articles/going-no-contact").await;
    assert!(
        article.contains("id=\"no-contact-link-heading\""),
        "{article}"
    );
    assert!(article.contains("<a href=\"/no-contact\">No-contact counter</a>"));
    // Not tagged "no contact": only the footer's link.
    let (_, other) = app.page("/articles/mutual-friends-after-a-breakup").await;
    assert!(!other.contains("id=\"no-contact-link-heading\""));
    assert_eq!(count_occurrences(&other, "href=\"/no-contact\""), 1);
}

#[actix_web::test]
async fn without_the_content_file_there_is_no_counter() {
    let app = spawn_with_content(|dir| {
        copy_dir(&sample_content_dir(), dir);
        std::fs::remove_file(dir.join("no-contact.md")).unwrap();
    })
    .await;
    assert_eq!(app.get("/no-contact").await.status(), 404);
    let (_, article) = app.page("/articles/going-no-contact").await;
    assert!(!article.contains("href=\"/no-contact\""));
}

#[test]
fn the_content_files_problems_name_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&sample_content_dir(), dir.path());
    let file = dir.path().join("no-contact.md");
    let text = std::fs::read_to_string(&file).unwrap();
    let line_of = |needle: &str| text.lines().position(|l| l.contains(needle)).unwrap() + 1;
    let broken = text
        .replace("## Two weeks {#day-14}", "## Two weeks {#day-15}")
        .replace("## Three months {#day-90}", "## Three months")
        .replace(
            "@/articles/broke-no-contact.md",
            "@/articles/no-such-article.md",
        );
    std::fs::write(&file, broken).unwrap();
    let problems = kintsugi::content::Library::load(dir.path()).unwrap_err();
    let shown: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
    let at = |line: usize, words: &str| {
        let prefix = format!("{}:{line}: ", file.display());
        assert!(
            shown
                .iter()
                .any(|s| s.starts_with(&prefix) && s.contains(words)),
            "no `{words}` at line {line}: {shown:#?}"
        );
    };
    at(line_of("{#day-14}"), "unknown section `{#day-15}`");
    at(line_of("## Three months"), "needs its section's id");
    at(line_of("broke-no-contact.md"), "no-such-article");
    assert!(shown
        .iter()
        .any(|s| s.contains("`## ... {#day-14}` is missing")));
}

/// The real binary with its log at debug level: a count sent without
/// JavaScript is logged as a request (its path) and nothing of the date.
#[actix_web::test]
async fn the_date_is_in_no_log_line() {
    let data = tempfile::tempdir().unwrap();
    let log_path = data.path().join("server.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _server = Kill(
        std::process::Command::new(env!("CARGO_BIN_EXE_kintsugi"))
            .arg("serve")
            .env("KINTSUGI_BIND", format!("127.0.0.1:{port}"))
            .env("KINTSUGI_CONTENT_DIR", sample_content_dir())
            .env("KINTSUGI_DATA_DIR", data.path())
            .env("KINTSUGI_DATABASE_URL", fresh_database_url(data.path()))
            .env("KINTSUGI_WATCH_CONTENT", "false")
            .env("KINTSUGI_LOG", "trace")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    let browser = client();
    eventually("the server starts", || async {
        browser.get(format!("{base}/healthz")).send().await.is_ok()
    })
    .await;
    // A day long ago, so no timestamp of the log can hold it.
    let since = "2019-03-17";
    let res = browser
        .post(format!("{base}/no-contact"))
        .form(&[("since", since)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("Since March 17, 2019."));
    let bad = browser
        .post(format!("{base}/no-contact"))
        .form(&[("since", "1x9x-0y-1z")])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 200);
    eventually("the count is logged", || {
        let path = log_path.clone();
        async move {
            std::fs::read_to_string(path)
                .unwrap()
                .matches("/no-contact")
                .count()
                >= 2
        }
    })
    .await;
    let text = std::fs::read_to_string(&log_path).unwrap();
    for private in [since, "2019", "March 17", "1x9x"] {
        assert!(!text.contains(private), "{private} logged:\n{text}");
    }
}
