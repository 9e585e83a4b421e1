//! The coach's admin area: accounts, sign-in, sessions, CSRF, brute-force
//! limits, moderation and its visible effects, replies, edits, the audit log.

use chrono::Duration;
use kintsugi::db;

use crate::helpers::*;

const SLUG: &str = "going-no-contact";
const EMAIL: &str = "coach@example.com";
const PASSWORD: &str = "tide lantern orchard 42";

/// An app whose base URL is plain http (so the test client sends the
/// session cookie back), plus extra settings.
async fn spawn_admin_app(extra: &[(&'static str, &str)]) -> TestApp {
    let mut env = vec![("KINTSUGI_BASE_URL", "http://127.0.0.1".to_string())];
    env.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    spawn_with(Options {
        env,
        ..Options::default()
    })
    .await
}

async fn create_admin(app: &TestApp, email: &str, name: &str, password: &str) -> i64 {
    let hash = kintsugi::passwords::hash(password).unwrap();
    let (email, name) = (email.to_string(), name.to_string());
    db::run(&app.pool, move |conn| {
        Ok(db::admins::create(conn, &email, &name, &hash, chrono::Utc::now().naive_utc()).unwrap())
    })
    .await
    .unwrap()
}

fn set_cookie(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|v| v.contains("kintsugi_admin="))
}

/// `name=value` of a Set-Cookie header.
fn cookie_pair(header: &str) -> String {
    header.split(';').next().unwrap().to_string()
}

impl TestApp {
    async fn sign_in_from(
        &self,
        client: &reqwest::Client,
        email: &str,
        password: &str,
        ip: &str,
        next: &str,
    ) -> reqwest::Response {
        // The sign-in form's token is not tied to a browser; a fresh one
        // gets the form even when `client` is signed in already.
        let page = crate::helpers::client()
            .get(format!("{}/admin/login", self.address))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let token = field_value(&page, "token");
        client
            .post(format!("{}/admin/login", self.address))
            .header("X-Forwarded-For", ip)
            .form(&[
                ("email", email),
                ("password", password),
                ("token", &token),
                ("next", next),
            ])
            .send()
            .await
            .unwrap()
    }

    /// A client signed in as the coach (account created first).
    async fn coach(&self) -> reqwest::Client {
        create_admin(self, EMAIL, "Maya Brennan", PASSWORD).await;
        self.signed_in_client().await
    }

    async fn signed_in_client(&self) -> reqwest::Client {
        let client = client();
        let res = self
            .sign_in_from(&client, EMAIL, PASSWORD, "198.51.100.1", "")
            .await;
        assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
        client
    }

    async fn admin_page(&self, client: &reqwest::Client, path: &str) -> (u16, String) {
        let res = client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), res.text().await.unwrap())
    }

    /// Posts an admin form with the session's CSRF token.
    async fn admin_post(
        &self,
        client: &reqwest::Client,
        path: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let (_, dashboard) = self.admin_page(client, "/admin").await;
        let csrf = field_value(&dashboard, "csrf");
        let mut form: Vec<(&str, &str)> = vec![("csrf", &csrf)];
        form.extend_from_slice(fields);
        client
            .post(format!("{}{path}", self.address))
            .form(&form)
            .send()
            .await
            .unwrap()
    }

    /// A reader's comment through the public form; its id.
    async fn reader_comment(&self, name: &str, email: &str, body: &str, ip: &str) -> i64 {
        self.reader_comment_with(name, email, body, ip, &[]).await
    }

    async fn reader_comment_with(
        &self,
        name: &str,
        email: &str,
        body: &str,
        ip: &str,
        extra: &[(&str, &str)],
    ) -> i64 {
        let reader = client();
        let token = comment_form_token(self, &reader, SLUG).await;
        let mut form = vec![
            ("name", name),
            ("email", email),
            ("body", body),
            ("token", &token),
        ];
        form.extend_from_slice(extra);
        let res = reader
            .post(format!("{}/articles/{SLUG}/comments", self.address))
            .header("X-Forwarded-For", ip)
            .form(&form)
            .send()
            .await
            .unwrap();
        posted_id(&res)
    }

    async fn status_of(&self, id: i64) -> Option<String> {
        db::run(&self.pool, move |conn| db::comments::find(conn, id))
            .await
            .unwrap()
            .map(|(row, _)| row.status)
    }

    async fn public_article(&self) -> String {
        client()
            .get(format!("{}/articles/{SLUG}", self.address))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    async fn outbox_texts(&self) -> Vec<String> {
        let dir = self.data_dir.join("outbox");
        let mut mails: Vec<(String, String)> = std::fs::read_dir(dir)
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
        mails.sort();
        mails.into_iter().map(|(_, text)| text).collect()
    }
}

#[actix_web::test]
async fn the_setup_link_creates_the_first_account_once_and_expires_after_an_hour() {
    let app = spawn_admin_app(&[]).await;
    let link = app
        .setup_link
        .clone()
        .expect("a setup link when no account exists");
    let path = link.strip_prefix("http://127.0.0.1").unwrap().to_string();
    let token = path.split("token=").nth(1).unwrap().to_string();
    let browser = client();
    let (status, page) = app.admin_page(&browser, &path).await;
    assert_eq!(status, 200);
    assert!(page.contains("create the coach’s account"), "{page}");

    let setup = |email: &'static str, password: &'static str, again: &'static str| {
        let (browser, token, address) = (browser.clone(), token.clone(), app.address.clone());
        async move {
            browser
                .post(format!("{address}/admin/setup"))
                .form(&[
                    ("token", token.as_str()),
                    ("email", email),
                    ("name", "Maya Brennan"),
                    ("password", password),
                    ("password_again", again),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    // The password policy: too short, too common, not repeated the same.
    let res = setup(EMAIL, "short", "short").await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(body.contains("at least 12 characters"), "{body}");
    assert!(
        body.contains("value=\"coach@example.com\""),
        "the email is kept"
    );
    let res = setup(EMAIL, "password1234", "password1234").await;
    assert_eq!(res.status(), 422);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("first ones attackers try"));
    let res = setup(EMAIL, PASSWORD, "something else entirely").await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("not the same"));

    let res = setup(EMAIL, PASSWORD, PASSWORD).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/admin");
    let (status, dashboard) = app.admin_page(&browser, "/admin").await;
    assert_eq!(status, 200, "signed in straight away");
    assert!(dashboard.contains("Signed in as Maya Brennan"));

    // Once only.
    let (status, page) = app.admin_page(&client(), &path).await;
    assert_eq!(status, 410);
    assert!(page.contains("no longer works"));
    let res = setup("other@example.com", PASSWORD, PASSWORD).await;
    assert_eq!(res.status(), 410);
    let admins = db::run(&app.pool, db::admins::count).await.unwrap();
    assert_eq!(admins, 1);

    // Expiry: a fresh app's link is dead after an hour.
    let app = spawn_admin_app(&[]).await;
    let path = app
        .setup_link
        .clone()
        .unwrap()
        .strip_prefix("http://127.0.0.1")
        .unwrap()
        .to_string();
    app.state.clock.advance(Duration::minutes(61));
    let (status, _) = app.admin_page(&client(), &path).await;
    assert_eq!(status, 410);
    let (status, _) = app
        .admin_page(&client(), "/admin/setup?token=made-up")
        .await;
    assert_eq!(status, 410);
}

#[actix_web::test]
async fn no_setup_link_once_an_account_exists() {
    let app = spawn_admin_app(&[]).await;
    create_admin(&app, EMAIL, "Maya", PASSWORD).await;
    let again = kintsugi::startup::Application::build(test_settings_with(
        &app.content_dir,
        &app.data_dir,
        &app.database_url,
        false,
        &[],
    ))
    .await
    .unwrap();
    assert_eq!(again.setup_link(), None);
}

#[actix_web::test]
async fn the_cli_creates_accounts_and_resets_passwords_with_the_policy() {
    let app = spawn_admin_app(&[]).await;
    let create = [
        "admin",
        "create",
        "--email",
        EMAIL,
        "--name",
        "Maya Brennan",
    ];
    let out = cli(&app, &create, "short\n", &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 12 characters"));

    let out = cli(&app, &create, &format!("{PASSWORD}\n"), &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cli(&app, &create, "", &[("KINTSUGI_ADMIN_PASSWORD", PASSWORD)]);
    assert!(
        !out.status.success(),
        "a second account with the same email"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));

    let browser = app.signed_in_client().await;
    let reset = ["admin", "reset-password", "--email", EMAIL];
    let out = cli(
        &app,
        &reset,
        "",
        &[("KINTSUGI_ADMIN_PASSWORD", "letmein12345")],
    );
    assert!(!out.status.success(), "common passwords are refused");
    let out = cli(
        &app,
        &reset,
        "",
        &[("KINTSUGI_ADMIN_PASSWORD", "quiet river morning walk")],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The reset ended the open session, and only the new password works.
    let (status, _) = app.admin_page(&browser, "/admin").await;
    assert_eq!(status, 303);
    let res = app
        .sign_in_from(&client(), EMAIL, PASSWORD, "198.51.100.2", "")
        .await;
    assert_eq!(res.status(), 401);
    let res = app
        .sign_in_from(
            &client(),
            EMAIL,
            "quiet river morning walk",
            "198.51.100.2",
            "",
        )
        .await;
    assert_eq!(res.status(), 303);
    let out = cli(
        &app,
        &["admin", "reset-password", "--email", "nobody@example.com"],
        "",
        &[("KINTSUGI_ADMIN_PASSWORD", "quiet river morning walk")],
    );
    assert!(!out.status.success());
}

#[actix_web::test]
async fn a_session_key_planted_before_sign_in_is_worthless_after_it() {
    let app = spawn_admin_app(&[]).await;
    create_admin(&app, EMAIL, "Maya", PASSWORD).await;
    // First sign-in: key A. Signing in again from the same browser gives
    // key B, and A no longer works anywhere.
    let browser = client();
    let res = app
        .sign_in_from(&browser, EMAIL, PASSWORD, "198.51.100.1", "")
        .await;
    let first = cookie_pair(&set_cookie(&res).unwrap());
    let res = app
        .sign_in_from(&browser, EMAIL, PASSWORD, "198.51.100.1", "")
        .await;
    assert_eq!(res.status(), 303);
    let second = cookie_pair(&set_cookie(&res).unwrap());
    assert_ne!(first, second);
    for (cookie, expected) in [(&first, 303), (&second, 200)] {
        let res = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .get(format!("{}/admin", app.address))
            .header("Cookie", cookie.as_str())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), expected, "{cookie}");
    }
    // A made-up cookie is ignored and replaced at sign-in.
    let planted = "kintsugi_admin=attacker-chosen-value";
    let res = client()
        .post(format!("{}/admin/login", app.address))
        .header("Cookie", planted)
        .form(&[
            ("email", EMAIL),
            ("password", PASSWORD),
            (
                "token",
                &field_value(&app.admin_page(&client(), "/admin/login").await.1, "token"),
            ),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_ne!(cookie_pair(&set_cookie(&res).unwrap()), planted);
}

#[actix_web::test]
async fn signing_out_ends_the_session_for_good() {
    let app = spawn_admin_app(&[]).await;
    create_admin(&app, EMAIL, "Maya", PASSWORD).await;
    let browser = client();
    let res = app
        .sign_in_from(&browser, EMAIL, PASSWORD, "198.51.100.1", "")
        .await;
    let cookie = cookie_pair(&set_cookie(&res).unwrap());
    let res = app.admin_post(&browser, "/admin/logout", &[]).await;
    assert_eq!(res.status(), 303);
    assert!(res.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with("/admin/login"));
    // The old cookie, replayed, is refused: the session is gone server-side.
    let res = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/admin", app.address))
        .header("Cookie", cookie.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert!(res.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with("/admin/login"));
}

#[actix_web::test]
async fn sessions_end_when_idle_for_two_hours_and_after_their_lifetime() {
    let app = spawn_admin_app(&[]).await;
    let browser = app.coach().await;
    // Used every 110 minutes, it stays alive...
    for _ in 0..3 {
        app.state.clock.advance(Duration::minutes(110));
        let (status, _) = app.admin_page(&browser, "/admin").await;
        assert_eq!(status, 200);
    }
    // ...idle for more than two hours, it ends.
    app.state.clock.advance(Duration::minutes(121));
    let (status, _) = app.admin_page(&browser, "/admin").await;
    assert_eq!(status, 303);

    // The absolute lifetime (configurable; here 5 hours) ends even a busy
    // session.
    let app = spawn_admin_app(&[("KINTSUGI_SESSION_MAX_HOURS", "5")]).await;
    let browser = app.coach().await;
    for _ in 0..4 {
        app.state.clock.advance(Duration::minutes(70));
        let (status, _) = app.admin_page(&browser, "/admin").await;
        assert_eq!(status, 200);
    }
    app.state.clock.advance(Duration::minutes(30));
    let (status, _) = app.admin_page(&browser, "/admin").await;
    assert_eq!(status, 303, "5 hours and 10 minutes after sign-in");
}

#[actix_web::test]
async fn the_session_cookie_is_http_only_strict_and_host_prefixed_on_https() {
    let app = spawn_admin_app(&[]).await;
    create_admin(&app, EMAIL, "Maya", PASSWORD).await;
    let res = app
        .sign_in_from(&client(), EMAIL, PASSWORD, "198.51.100.1", "")
        .await;
    let header = set_cookie(&res).unwrap();
    assert!(header.starts_with("kintsugi_admin="), "{header}");
    assert!(header.contains("HttpOnly"));
    assert!(header.contains("SameSite=Strict"));
    assert!(header.contains("Path=/"));
    assert!(!header.contains("Secure"));
    assert_eq!(res.headers()["cache-control"], "no-store");

    // On https the cookie is Secure and __Host- prefixed (no Domain).
    let app = spawn_with(Options::default()).await;
    create_admin(&app, EMAIL, "Maya", PASSWORD).await;
    let res = app
        .sign_in_from(&client(), EMAIL, PASSWORD, "198.51.100.1", "")
        .await;
    assert_eq!(res.status(), 303);
    let header = set_cookie(&res).unwrap();
    assert!(header.starts_with("__Host-kintsugi_admin="), "{header}");
    assert!(header.contains("Secure"));
    assert!(header.contains("HttpOnly"));
    assert!(header.contains("SameSite=Strict"));
    assert!(header.contains("Path=/"));
    assert!(!header.contains("Domain"));
}

#[actix_web::test]
async fn forged_or_cross_site_admin_requests_change_nothing() {
    let app = spawn_admin_app(&[]).await;
    let coach = app.coach().await;
    let id = app
        .reader_comment(
            "Sam",
            "sam@example.com",
            "Is it normal to miss them?",
            "203.0.113.1",
        )
        .await;
    let (_, page) = app.admin_page(&coach, "/admin").await;
    let csrf = field_value(&page, "csrf");
    // Another session's token (a second sign-in in another browser).
    let other = app.signed_in_client().await;
    let (_, page) = app.admin_page(&other, "/admin").await;
    let other_csrf = field_value(&page, "csrf");
    assert_ne!(csrf, other_csrf);
    let approve = format!("approve:{id}");
    type Fields<'a> = Vec<(&'a str, &'a str)>;
    let attempts: Vec<(Fields, Fields)> = vec![
        (vec![("one", &approve)], vec![]),
        (vec![("one", &approve), ("csrf", &other_csrf)], vec![]),
        (
            vec![("one", &approve), ("csrf", &csrf)],
            vec![("Origin", "https://evil.example")],
        ),
        (
            vec![("one", &approve), ("csrf", &csrf)],
            vec![("Sec-Fetch-Site", "cross-site")],
        ),
    ];
    for (form, headers) in attempts {
        let mut req = coach
            .post(format!("{}/admin/comments/bulk", app.address))
            .form(&form);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 403);
        assert!(res.text().await.unwrap().contains("nothing was changed"));
        assert_eq!(app.status_of(id).await.as_deref(), Some("pending"));
    }
    // Signing out needs the token too.
    let res = coach
        .post(format!("{}/admin/logout", app.address))
        .form(&[("csrf", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // The real thing, same-origin, works.
    let res = coach
        .post(format!("{}/admin/comments/bulk", app.address))
        .header("Origin", "http://127.0.0.1")
        .header("Sec-Fetch-Site", "same-origin")
        .form(&[("one", approve.as_str()), ("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(app.status_of(id).await.as_deref(), Some("approved"));
    // Not signed in at all: to the sign-in page, nothing changed.
    let res = client()
        .post(format!("{}/admin/comments/bulk", app.address))
        .form(&[("one", format!("trash:{id}").as_str()), ("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(app.status_of(id).await.as_deref(), Some("approved"));
}

#[actix_web::test]
async fn ten_failures_from_one_address_get_429_and_wrong_email_reads_like_wrong_password() {
    let app = spawn_admin_app(&[]).await;
    create_admin(&app, EMAIL, "Maya", PASSWORD).await;
    let wrong_password = app
        .sign_in_from(
            &client(),
            EMAIL,
            "not the password at all",
            "203.0.113.9",
            "",
        )
        .await;
    assert_eq!(wrong_password.status(), 401);
    let wrong_password = wrong_password.text().await.unwrap();
    let wrong_email = app
        .sign_in_from(&client(), "nobody@example.com", PASSWORD, "203.0.113.9", "")
        .await;
    assert_eq!(wrong_email.status(), 401);
    let wrong_email = wrong_email.text().await.unwrap();
    let problem = |page: &str| {
        page.split("form-problem")
            .nth(1)
            .unwrap()
            .split("</p>")
            .next()
            .unwrap()
            .to_string()
    };
    assert_eq!(problem(&wrong_password), problem(&wrong_email));
    for _ in 0..8 {
        let res = app
            .sign_in_from(&client(), EMAIL, "still not it, sorry", "203.0.113.9", "")
            .await;
        assert_eq!(res.status(), 401);
    }
    // The 11th attempt from that address is refused, even with the right
    // password; another address is not affected.
    let res = app
        .sign_in_from(&client(), EMAIL, PASSWORD, "203.0.113.9", "")
        .await;
    assert_eq!(res.status(), 429);
    let retry: i64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 0 && retry <= 15 * 60, "{retry}");
    assert!(res.text().await.unwrap().contains("try again in"));
    let res = app
        .sign_in_from(&client(), EMAIL, PASSWORD, "203.0.113.10", "")
        .await;
    assert_eq!(res.status(), 303);
    // After the window, the address may try again.
    app.state.clock.advance(Duration::minutes(16));
    let res = app
        .sign_in_from(&client(), EMAIL, PASSWORD, "203.0.113.9", "")
        .await;
    assert_eq!(res.status(), 303);
}

#[actix_web::test]
async fn twenty_failures_for_one_account_bring_growing_waits_never_a_lockout() {
    let app = spawn_admin_app(&[]).await;
    create_admin(&app, EMAIL, "Maya", PASSWORD).await;
    // 20 failures spread over addresses (so no address limit applies).
    for i in 0..20 {
        let ip = format!("203.0.113.{}", 20 + i / 5);
        let res = app
            .sign_in_from(&client(), EMAIL, "wrong guess number x", &ip, "")
            .await;
        assert_eq!(res.status(), 401, "attempt {i}");
    }
    let res = app
        .sign_in_from(&client(), EMAIL, PASSWORD, "203.0.113.20", "")
        .await;
    assert_eq!(
        res.status(),
        429,
        "the account waits, even for the right password from an address that failed"
    );
    assert!(res.text().await.unwrap().contains("waits a little"));
    // Waits grow with more failures.
    let mut waits = Vec::new();
    for i in 0..4 {
        app.state.clock.advance(Duration::hours(1));
        let res = app
            .sign_in_from(
                &client(),
                EMAIL,
                "yet another wrong one",
                &format!("203.0.114.{i}"),
                "",
            )
            .await;
        assert_eq!(res.status(), 401);
        let res = app
            .sign_in_from(&client(), EMAIL, PASSWORD, "203.0.113.20", "")
            .await;
        assert_eq!(res.status(), 429);
        waits.push(
            res.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse::<i64>()
                .unwrap(),
        );
    }
    assert!(waits.windows(2).all(|w| w[1] > w[0]), "{waits:?}");
    // An unknown account gets the same treatment (nothing to tell apart).
    for i in 0..20 {
        app.sign_in_from(
            &client(),
            "ghost@example.com",
            "guess",
            &format!("203.0.115.{}", i / 5),
            "",
        )
        .await;
    }
    let res = app
        .sign_in_from(&client(), "ghost@example.com", "guess", "203.0.115.99", "")
        .await;
    assert_eq!(res.status(), 429);
    // Never locked for good: after the wait, the right password works, and
    // the count starts over.
    app.state.clock.advance(Duration::minutes(16));
    let res = app
        .sign_in_from(&client(), EMAIL, PASSWORD, "203.0.113.99", "")
        .await;
    assert_eq!(res.status(), 303);
    let res = app
        .sign_in_from(&client(), EMAIL, "one more wrong one", "203.0.113.98", "")
        .await;
    assert_eq!(res.status(), 401);
}

#[actix_web::test]
async fn an_attacker_cannot_lock_the_coach_out() {
    let app = spawn_admin_app(&[]).await;
    create_admin(&app, EMAIL, "Maya", PASSWORD).await;
    // The coach's browser signed in before: it keeps a long-lived device cookie.
    let coach = client();
    let res = app
        .sign_in_from(&coach, EMAIL, PASSWORD, "198.51.100.1", "")
        .await;
    assert_eq!(res.status(), 303);
    let device = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|v| v.starts_with("kintsugi_device="))
        .expect("a device cookie");
    assert!(device.contains("HttpOnly"), "{device}");
    assert!(device.contains("Max-Age=31536000"), "{device}");
    // An attacker fails 20 times from a few addresses, then keeps failing
    // every 15 minutes.
    let attack = |round: u32| {
        let app = &app;
        async move {
            for i in 0..20 {
                let ip = format!("203.0.{}.{}", 113 + round, 20 + i / 5);
                app.sign_in_from(&client(), EMAIL, "wrong guess number x", &ip, "")
                    .await;
            }
        }
    };
    attack(0).await;
    for round in 1..4 {
        app.state.clock.advance(Duration::minutes(15));
        app.sign_in_from(
            &client(),
            EMAIL,
            "another wrong guess",
            &format!("203.0.{}.20", 113 + round),
            "",
        )
        .await;
        // The attacker's own addresses wait, even with the right password.
        let res = app
            .sign_in_from(&client(), EMAIL, PASSWORD, "203.0.113.20", "")
            .await;
        assert_eq!(res.status(), 429, "round {round}");
        // The coach's browser gets in, even from an address that failed.
        let res = app
            .sign_in_from(&coach, EMAIL, PASSWORD, "203.0.113.21", "")
            .await;
        assert_eq!(res.status(), 303, "round {round}");
        // So does a new browser with the right password from an address
        // without failures.
        let res = app
            .sign_in_from(&client(), EMAIL, PASSWORD, &format!("192.0.2.{round}"), "")
            .await;
        assert_eq!(res.status(), 303, "round {round}");
        attack(round).await;
    }
    // A wrong password from a clean address still meets the wait, and that
    // address is no longer clean.
    let res = app
        .sign_in_from(&client(), EMAIL, "guessing from afar", "192.0.2.50", "")
        .await;
    assert_eq!(res.status(), 429);
    let res = app
        .sign_in_from(&client(), EMAIL, PASSWORD, "192.0.2.50", "")
        .await;
    assert_eq!(res.status(), 429);
    // A device cookie for another email is no pass.
    let res = app
        .sign_in_from(&coach, "other@example.com", "guess", "203.0.113.22", "")
        .await;
    assert_eq!(res.status(), 401);
    // The device's own failures are limited: after 10, it is an ordinary
    // browser again (and its typos never slowed the account for others).
    for i in 0..10 {
        let res = app
            .sign_in_from(
                &coach,
                EMAIL,
                "coach typo",
                &format!("198.51.100.{}", 10 + i),
                "",
            )
            .await;
        assert_eq!(res.status(), 401, "typo {i}");
    }
    let res = app
        .sign_in_from(&coach, EMAIL, PASSWORD, "203.0.113.21", "")
        .await;
    assert_eq!(res.status(), 429);
    // After the device's window, it is trusted again.
    app.state.clock.advance(Duration::minutes(16));
    let res = app
        .sign_in_from(&coach, EMAIL, PASSWORD, "203.0.113.21", "")
        .await;
    assert_eq!(res.status(), 303);
}

#[actix_web::test]
async fn a_weaker_hash_is_upgraded_at_sign_in() {
    let app = spawn_admin_app(&[]).await;
    let weak = kintsugi::passwords::hash_with(PASSWORD, 8192, 1, 1).unwrap();
    db::run(&app.pool, move |conn| {
        Ok(db::admins::create(conn, EMAIL, "Maya", &weak, chrono::Utc::now().naive_utc()).unwrap())
    })
    .await
    .unwrap();
    app.signed_in_client().await;
    let stored = db::run(&app.pool, |conn| db::admins::find_by_email(conn, EMAIL))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        kintsugi::passwords::cost_of(&stored.password_hash),
        Some((19456, 2, 1))
    );
}

#[actix_web::test]
async fn admin_pages_send_strangers_to_sign_in_and_back_afterwards() {
    let app = spawn_admin_app(&[]).await;
    create_admin(&app, EMAIL, "Maya", PASSWORD).await;
    let browser = client();
    for path in [
        "/admin",
        "/admin/comments",
        "/admin/comments/7",
        "/admin/audit",
    ] {
        let res = browser
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303, "{path}");
        let location = res.headers()["location"].to_str().unwrap();
        assert_eq!(
            location,
            format!("/admin/login?next={}", path.replace('/', "%2F"))
        );
    }
    // The link in the coach's email returns to the comment after sign-in.
    let res = app
        .sign_in_from(
            &browser,
            EMAIL,
            PASSWORD,
            "198.51.100.1",
            "/admin/comments/7",
        )
        .await;
    assert_eq!(res.headers()["location"], "/admin/comments/7");
    // No open redirects.
    let res = app
        .sign_in_from(
            &client(),
            EMAIL,
            PASSWORD,
            "198.51.100.1",
            "//evil.example/x",
        )
        .await;
    assert_eq!(res.headers()["location"], "/admin");
    let (status, page) = app.admin_page(&browser, "/admin/login").await;
    assert_eq!(status, 303, "already signed in: {page}");
}

#[actix_web::test]
async fn moderation_actions_show_on_the_public_page_counts_feeds_and_emails() {
    let app = spawn_admin_app(&[]).await;
    let coach = app.coach().await;
    let first = app
        .reader_comment(
            "Sam",
            "sam@example.com",
            "The mornings are the hardest part.",
            "203.0.113.1",
        )
        .await;
    let second = app
        .reader_comment(
            "Alex",
            "alex@example.com",
            "Buy cheap watches now",
            "203.0.113.2",
        )
        .await;
    let third = app
        .reader_comment(
            "Robin",
            "robin@example.com",
            "Thank you for this piece.",
            "203.0.113.3",
        )
        .await;
    let (_, dashboard) = app.admin_page(&coach, "/admin").await;
    assert!(
        dashboard.contains("<span class=\"admin-count__n\">3</span> awaiting moderation"),
        "{dashboard}"
    );
    let (_, queue) = app.admin_page(&coach, "/admin/comments").await;
    for (id, email) in [(first, "sam@example.com"), (second, "alex@example.com")] {
        assert!(queue.contains(&format!("id=\"comment-{id}\"")));
        assert!(queue.contains(email), "the coach sees emails");
    }
    assert!(!app
        .public_article()
        .await
        .contains("mornings are the hardest"));

    // Approve one: public page, count, feeds, and the writer's email.
    let res = app
        .admin_post(
            &coach,
            "/admin/comments/bulk",
            &[
                ("one", &format!("approve:{first}")),
                ("back", "/admin/comments?tab=pending"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    assert!(
        location.starts_with("/admin/comments?tab=pending&done="),
        "{location}"
    );
    let (_, queue) = app.admin_page(&coach, &location).await;
    assert!(queue.contains("1 comment approved."));
    let page = app.public_article().await;
    assert!(page.contains("The mornings are the hardest part."));
    assert!(
        page.contains("<h2 id=\"comments\">1 comment</h2>"),
        "count on the article"
    );
    let (_, home) = app.page("/").await;
    assert!(home.contains("1 comment"), "count in lists");
    let (_, feed) = app.page(&format!("/articles/{SLUG}/comments.xml")).await;
    assert!(feed.contains("The mornings are the hardest part."));
    let (_, site_feed) = app.page("/comments.xml").await;
    assert!(site_feed.contains("The mornings are the hardest part."));
    eventually("the approval email", || async {
        app.outbox_texts()
            .await
            .iter()
            .any(|m| m.contains("To: sam@example.com") && m.contains("is published"))
    })
    .await;

    // Spam hides it everywhere; restore brings it back to where it was.
    let res = app
        .admin_post(
            &coach,
            "/admin/comments/bulk",
            &[("one", &format!("spam:{first}"))],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(app.status_of(first).await.as_deref(), Some("spam"));
    assert!(!app
        .public_article()
        .await
        .contains("The mornings are the hardest part."));
    let (_, feed) = app.page(&format!("/articles/{SLUG}/comments.xml")).await;
    assert!(!feed.contains("The mornings are the hardest part."));
    let (_, spam) = app.admin_page(&coach, "/admin/comments?tab=spam").await;
    assert!(spam.contains(&format!("id=\"comment-{first}\"")));
    app.admin_post(
        &coach,
        "/admin/comments/bulk",
        &[("one", &format!("restore:{first}"))],
    )
    .await;
    assert_eq!(app.status_of(first).await.as_deref(), Some("approved"));
    assert!(app
        .public_article()
        .await
        .contains("The mornings are the hardest part."));

    // Bulk: trash two at once, restore them (back to pending), then delete
    // one forever after a confirmation.
    let (second_s, third_s) = (second.to_string(), third.to_string());
    let res = app
        .admin_post(
            &coach,
            "/admin/comments/bulk",
            &[("ids", &second_s), ("ids", &third_s), ("action", "trash")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(app.status_of(second).await.as_deref(), Some("trash"));
    assert_eq!(app.status_of(third).await.as_deref(), Some("trash"));
    let (_, trash) = app.admin_page(&coach, "/admin/comments?tab=trash").await;
    assert!(trash.contains("2 comments"));
    app.admin_post(
        &coach,
        "/admin/comments/bulk",
        &[("ids", &third_s), ("action", "restore")],
    )
    .await;
    assert_eq!(app.status_of(third).await.as_deref(), Some("pending"));
    let (status, confirm) = app
        .admin_page(&coach, &format!("/admin/comments/{second}/delete"))
        .await;
    assert_eq!(status, 200);
    assert!(confirm.contains("cannot be undone"));
    let res = app
        .admin_post(
            &coach,
            "/admin/comments/bulk",
            &[("ids", &second_s), ("action", "delete")],
        )
        .await;
    assert_eq!(res.status(), 200, "a bulk delete asks first");
    assert!(app.status_of(second).await.is_some());
    let res = app
        .admin_post(
            &coach,
            "/admin/comments/bulk",
            &[("ids", &second_s), ("action", "delete"), ("confirmed", "1")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(app.status_of(second).await, None);

    // Search, and one email's comments on one page.
    let (_, found) = app
        .admin_page(&coach, "/admin/comments?tab=all&q=MORNINGS")
        .await;
    assert!(found.contains(&format!("id=\"comment-{first}\"")));
    assert!(!found.contains(&format!("id=\"comment-{third}\"")));
    let (_, by_email) = app
        .admin_page(&coach, "/admin/comments?email=robin%40example.com")
        .await;
    assert!(by_email.contains(&format!("id=\"comment-{third}\"")));
    assert!(!by_email.contains(&format!("id=\"comment-{first}\"")));
    let (status, _) = app.admin_page(&coach, "/admin/comments?tab=nonsense").await;
    assert_eq!(status, 400);

    // Every action is in the audit log.
    let (_, audit) = app.admin_page(&coach, "/admin/audit").await;
    for action in [
        "approved a comment",
        "marked a comment as spam",
        "restored a comment",
        "moved a comment to the trash",
        "deleted a comment forever",
    ] {
        assert!(audit.contains(action), "{action} in\n{audit}");
    }
    assert!(audit.contains("Maya Brennan"));
}

#[actix_web::test]
async fn the_coach_replies_with_a_badge_approving_the_question_and_notifying_its_writer() {
    let app = spawn_admin_app(&[("KINTSUGI_COACH_EMAIL", "coach@example.com")]).await;
    let coach = app.coach().await;
    let question = app
        .reader_comment_with(
            "Sam",
            "sam@example.com",
            "Should I block them everywhere?",
            "203.0.113.1",
            &[("notify", "1")],
        )
        .await;
    // Sam confirms replies by email.
    eventually("the confirmation email", || async {
        app.outbox_texts()
            .await
            .iter()
            .any(|m| m.contains("/notifications/confirm/"))
    })
    .await;
    let confirm = app
        .outbox_texts()
        .await
        .iter()
        .find_map(|m| {
            m.split("/notifications/confirm/")
                .nth(1)
                .map(|rest| rest.split_whitespace().next().unwrap().to_string())
        })
        .unwrap();
    let (status, _) = app.page(&format!("/notifications/confirm/{confirm}")).await;
    assert_eq!(status, 200);
    // The coach's alert links to the comment's admin page.
    eventually("the coach's alert", || async {
        app.outbox_texts().await.iter().any(|m| {
            m.contains("To: coach@example.com")
                && m.contains(&format!("/admin/comments/{question}"))
        })
    })
    .await;
    assert!(app
        .admin_page(&coach, "/admin")
        .await
        .1
        .contains("<span class=\"admin-count__n\">0</span> unanswered"));

    let res = app
        .admin_post(
            &coach,
            &format!("/admin/comments/{question}/reply"),
            &[("body", "Muting may be enough. **You decide.**")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(app.status_of(question).await.as_deref(), Some("approved"));
    let page = app.public_article().await;
    let q_at = page.find(&format!("id=\"comment-{question}\"")).unwrap();
    let reply_at = page
        .find("comment--depth-1 comment--coach")
        .expect("a nested coach reply");
    assert!(reply_at > q_at);
    let reply = &page[reply_at..];
    assert!(reply.contains("<span class=\"badge\">Coach</span>"));
    assert!(reply.contains("Maya Brennan"));
    assert!(reply.contains("<strong>You decide.</strong>"));
    eventually("the reply notification", || async {
        app.outbox_texts()
            .await
            .iter()
            .any(|m| m.contains("To: sam@example.com") && m.contains("Maya Brennan replied"))
    })
    .await;

    // An empty reply is refused with the message by the field.
    let res = app
        .admin_post(
            &coach,
            &format!("/admin/comments/{question}/reply"),
            &[("body", "  ")],
        )
        .await;
    assert_eq!(res.status(), 422);
    // Private questions get a private answer: on no public page, only
    // on the asker's "My questions" page.
    let private = app
        .reader_comment_with(
            "Kim",
            "kim@example.com",
            "Just for you.",
            "203.0.113.4",
            &[("private", "1")],
        )
        .await;
    let res = app
        .admin_post(
            &coach,
            &format!("/admin/comments/{private}/reply"),
            &[("body", "Hello privately")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert!(!app.public_article().await.contains("Just for you."));
    assert!(!app.public_article().await.contains("Hello privately"));
    let (_, private_tab) = app.admin_page(&coach, "/admin/comments?tab=private").await;
    assert!(private_tab.contains("Just for you."));
    let (_, audit) = app.admin_page(&coach, "/admin/audit").await;
    assert!(audit.contains("replied as the coach"));
}

#[actix_web::test]
async fn replying_from_the_article_page_while_signed_in() {
    let app = spawn_admin_app(&[]).await;
    let coach = app.coach().await;
    let question = app
        .reader_comment(
            "Sam",
            "sam@example.com",
            "Does it get easier?",
            "203.0.113.1",
        )
        .await;
    app.admin_post(
        &coach,
        "/admin/comments/bulk",
        &[("one", &format!("approve:{question}"))],
    )
    .await;
    let (status, page) = app
        .admin_page(&coach, &format!("/articles/{SLUG}?replyto={question}"))
        .await;
    assert_eq!(status, 200);
    assert!(page.contains("Reply to Sam as the coach"));
    assert!(
        !page.contains("name=\"email\""),
        "no reader form for the coach"
    );
    let res = coach
        .post(format!("{}/admin/comments/{question}/reply", app.address))
        .form(&[
            ("csrf", field_value(&page, "csrf").as_str()),
            ("body", "It does, a little every week."),
            ("back", &format!("/articles/{SLUG}")),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with(&format!("/articles/{SLUG}#comment-")),
        "{location}"
    );
    let public = app.public_article().await;
    assert!(public.contains("It does, a little every week."));
    assert!(
        !public.contains("coach-box"),
        "readers see no coach controls"
    );
}

#[actix_web::test]
async fn the_unanswered_list_keeps_questions_until_the_coach_replies() {
    let app = spawn_admin_app(&[]).await;
    let coach = app.coach().await;
    let older = app
        .reader_comment("Sam", "sam@example.com", "Older question?", "203.0.113.1")
        .await;
    let newer = app
        .reader_comment(
            "Robin",
            "robin@example.com",
            "Newer question?",
            "203.0.113.2",
        )
        .await;
    for id in [older, newer] {
        app.admin_post(
            &coach,
            "/admin/comments/bulk",
            &[("one", &format!("approve:{id}"))],
        )
        .await;
    }
    let (_, list) = app
        .admin_page(&coach, "/admin/comments?tab=unanswered")
        .await;
    let (a, b) = (
        list.find("Older question?").unwrap(),
        list.find("Newer question?").unwrap(),
    );
    assert!(a < b, "oldest first");
    let (_, dashboard) = app.admin_page(&coach, "/admin").await;
    assert!(dashboard.contains("<span class=\"admin-count__n\">2</span> unanswered"));
    app.admin_post(
        &coach,
        &format!("/admin/comments/{older}/reply"),
        &[("body", "Here is my answer.")],
    )
    .await;
    let (_, list) = app
        .admin_page(&coach, "/admin/comments?tab=unanswered")
        .await;
    assert!(!list.contains("Older question?"));
    assert!(list.contains("Newer question?"));
}

#[actix_web::test]
async fn the_coach_edits_a_comment_and_the_original_is_kept_for_admins() {
    let app = spawn_admin_app(&[]).await;
    let coach = app.coach().await;
    let id = app
        .reader_comment(
            "Sam",
            "sam@example.com",
            "My ex Jordan Miller keeps texting me.",
            "203.0.113.1",
        )
        .await;
    app.admin_post(
        &coach,
        "/admin/comments/bulk",
        &[("one", &format!("approve:{id}"))],
    )
    .await;
    let (status, form) = app
        .admin_page(&coach, &format!("/admin/comments/{id}/edit"))
        .await;
    assert_eq!(status, 200);
    assert!(form.contains("My ex Jordan Miller keeps texting me."));
    let res = app
        .admin_post(
            &coach,
            &format!("/admin/comments/{id}/edit"),
            &[("body", "My ex [name removed] keeps texting me.")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let page = app.public_article().await;
    assert!(page.contains("My ex [name removed] keeps texting me."));
    assert!(!page.contains("Jordan Miller"));
    assert!(page.contains("(edited by the coach)"));
    let (_, detail) = app
        .admin_page(&coach, &format!("/admin/comments/{id}"))
        .await;
    assert!(detail.contains("edited a comment"));
    assert!(
        detail.contains("My ex Jordan Miller keeps texting me."),
        "the original, for admins"
    );
    let (_, audit) = app.admin_page(&coach, "/admin/audit").await;
    assert!(audit.contains("Jordan Miller"));
    // Too long: refused, the text kept.
    let long = "a".repeat(5001);
    let res = app
        .admin_post(
            &coach,
            &format!("/admin/comments/{id}/edit"),
            &[("body", &long)],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains(&long));
}

#[actix_web::test]
async fn urgent_comments_come_first_and_have_their_own_tab() {
    let app = spawn_admin_app(&[]).await;
    let coach = app.coach().await;
    let calm = app
        .reader_comment("Sam", "sam@example.com", "A calm question.", "203.0.113.1")
        .await;
    let urgent = app
        .reader_comment(
            "Kim",
            "kim@example.com",
            "I want to kill myself tonight.",
            "203.0.113.2",
        )
        .await;
    let later = app
        .reader_comment(
            "Robin",
            "robin@example.com",
            "A later calm question.",
            "203.0.113.3",
        )
        .await;
    let (_, pending) = app.admin_page(&coach, "/admin/comments?tab=pending").await;
    let pos = |id: i64| pending.find(&format!("id=\"comment-{id}\"")).unwrap();
    assert!(
        pos(urgent) < pos(later) && pos(later) < pos(calm),
        "urgent first, then newest"
    );
    let (_, tab) = app.admin_page(&coach, "/admin/comments?tab=urgent").await;
    assert!(tab.contains(&format!("id=\"comment-{urgent}\"")));
    assert!(!tab.contains(&format!("id=\"comment-{calm}\"")));
    let (_, dashboard) = app.admin_page(&coach, "/admin").await;
    assert!(dashboard.contains("<span class=\"admin-count__n\">1</span> urgent"));
}

#[actix_web::test]
async fn an_urgent_comment_is_answered_first_and_publishing_it_asks() {
    let app = spawn_admin_app(&[]).await;
    let coach = app.coach().await;
    let urgent = app
        .reader_comment(
            "Kim",
            "kim@example.com",
            "Some nights I want to die.",
            "203.0.113.2",
        )
        .await;
    let calm = app
        .reader_comment("Sam", "sam@example.com", "A calm question.", "203.0.113.1")
        .await;
    let (_, queue) = app.admin_page(&coach, "/admin/comments?tab=pending").await;
    // The first action of the urgent item is to reply; of a calm one, to approve.
    let actions = |id: i64| {
        queue
            .split(&format!("id=\"comment-{id}\""))
            .nth(1)
            .unwrap()
            .split("<p class=\"admin-item__actions\">")
            .nth(1)
            .unwrap()
            .trim_start()
            .to_string()
    };
    assert!(
        actions(urgent).starts_with(&format!(
            "<a class=\"button\" href=\"/admin/comments/{urgent}#reply\">Reply"
        )),
        "{}",
        actions(urgent)
    );
    assert!(actions(calm).starts_with("<button type=\"submit\" name=\"one\""));
    // Its own page puts the reply (and the private email address) first.
    let (_, page) = app
        .admin_page(&coach, &format!("/admin/comments/{urgent}"))
        .await;
    assert!(page.find("id=\"reply\"").unwrap() < page.find("class=\"admin-actions\"").unwrap());
    assert!(page.contains("mailto:kim@example.com"));

    // Approving it asks first and changes nothing until confirmed.
    let one = format!("approve:{urgent}");
    let res = app
        .admin_post(&coach, "/admin/comments/bulk", &[("one", &one)])
        .await;
    assert_eq!(res.status(), 200);
    let confirm = res.text().await.unwrap();
    assert!(confirm.contains("Publish this urgent comment?"));
    assert!(confirm.contains("name=\"confirmed\" value=\"1\""));
    assert_eq!(app.status_of(urgent).await.as_deref(), Some("pending"));
    // The same for a selection holding it; a calm one alone needs no asking.
    let (u, c) = (urgent.to_string(), calm.to_string());
    let res = app
        .admin_post(
            &coach,
            "/admin/comments/bulk",
            &[("action", "approve"), ("ids", &u), ("ids", &c)],
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.status_of(calm).await.as_deref(), Some("pending"));
    let uid = urgent.to_string();
    let res = app
        .admin_post(
            &coach,
            "/admin/comments/bulk",
            &[("action", "approve"), ("ids", &uid), ("confirmed", "1")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(app.status_of(urgent).await.as_deref(), Some("approved"));
    let one = format!("approve:{calm}");
    let res = app
        .admin_post(&coach, "/admin/comments/bulk", &[("one", &one)])
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(app.status_of(calm).await.as_deref(), Some("approved"));
}

#[actix_web::test]
async fn admin_pages_lead_with_the_admin_navigation_and_skip_to_the_queue() {
    let app = spawn_admin_app(&[]).await;
    let coach = app.coach().await;
    app.reader_comment("Sam", "sam@example.com", "A question.", "203.0.113.1")
        .await;
    let (_, queue) = app.admin_page(&coach, "/admin/comments").await;
    let skip = queue
        .find("<a class=\"skip-link\" href=\"#admin-content\">")
        .expect("a skip link to the admin content");
    assert!(skip < queue.find("<header").unwrap());
    // No readers' navigation or search before the admin's own.
    assert!(!queue.contains("class=\"site-search\""));
    assert!(!queue.contains("aria-label=\"Main\""));
    // The skip link lands right before the first item of the queue.
    let target = queue.find("id=\"admin-content\"").unwrap();
    assert!(target > queue.find("class=\"admin-tabs\"").unwrap());
    assert!(target < queue.find("class=\"admin-item").unwrap());
    for path in ["/admin", "/admin/requests", "/admin/audit"] {
        let (_, page) = app.admin_page(&coach, path).await;
        assert!(page.contains("id=\"admin-content\""), "{path}");
    }
}

#[actix_web::test]
async fn the_admin_area_speaks_the_sites_language() {
    let app = spawn_admin_app(&[("KINTSUGI_SITE_LANGUAGE", "de")]).await;
    // Signing in, and a failed attempt's problem.
    let (_, sign_in) = app.page("/admin/login").await;
    for text in [
        "<h1 id=\"admin-content\" tabindex=\"-1\">Anmelden</h1>",
        "Leserinnen und Leser brauchen nie ein Konto",
        ">Passwort</label>",
        "Passwort vergessen?",
    ] {
        assert!(sign_in.contains(text), "{text} in\n{sign_in}");
    }
    create_admin(&app, EMAIL, "Maya Brennan", PASSWORD).await;
    let res = app
        .sign_in_from(&client(), EMAIL, "not the password", "198.51.100.9", "")
        .await;
    assert_eq!(res.status(), 401);
    let refused = res.text().await.unwrap();
    assert!(refused.contains("passen zu keinem Konto"), "{refused}");
    let coach = app.signed_in_client().await;

    let first = app
        .reader_comment("Sam", "sam@example.com", "Eine Frage.", "203.0.113.1")
        .await;
    app.reader_comment("Kim", "kim@example.com", "Noch eine.", "203.0.113.2")
        .await;
    let (_, dashboard) = app.admin_page(&coach, "/admin").await;
    let (_, queue) = app.admin_page(&coach, "/admin/comments").await;
    let (_, comment) = app
        .admin_page(&coach, &format!("/admin/comments/{first}"))
        .await;
    let (_, inbox) = app.admin_page(&coach, "/admin/requests").await;
    let (_, audit) = app.admin_page(&coach, "/admin/audit").await;
    for (page, texts) in [
        (
            &dashboard,
            &[
                "<title>Übersicht",
                "Angemeldet als Maya Brennan",
                ">Abmelden</button>",
                "<span class=\"admin-count__n\">2</span> warten auf Freigabe",
                "<span class=\"admin-count__n\">0</span> neue Coaching-Anfragen",
            ][..],
        ),
        (
            &queue,
            &[
                "<h1>Wartende Kommentare</h1>",
                "aria-label=\"Kommentarlisten\"",
                ">Papierkorb</a>",
                ">Freigegeben</a>",
                ">Freigeben</button>",
                ">Papierkorb</button>",
                "<option value=\"spam\">Als Spam markieren</option>",
                "<p class=\"admin-total\">2 Kommentare</p>",
                "Auswählen<span class=\"visually-hidden\"> (Kommentar von Sam)</span>",
                "admin-item__status--pending\">wartend</span>",
                "<span class=\"tag\">erster Kommentar</span>",
            ][..],
        ),
        (
            &comment,
            &[
                "<h1 id=\"admin-content\" tabindex=\"-1\">Kommentar von Sam</h1>",
                "← Zurück zur Liste",
                "<h2>Als Coach antworten</h2>",
                ">Antwort veröffentlichen</button>",
                ">Endgültig löschen</a>",
            ][..],
        ),
        (
            &inbox,
            &[
                "<h1 id=\"admin-content\" tabindex=\"-1\">Coaching-Anfragen</h1>",
                "<option value=\"received\">Eingegangen</option>",
                "<option value=\"plan-ready\">Plan fertig</option>",
                "0 Anfragen",
                "Hier gibt es noch keine Anfragen.",
                "<h2 id=\"stats\">Statistik</h2>",
                "<h3>Pro Angebot</h3>",
            ][..],
        ),
        (&audit, &["Jede Aktion in der Verwaltung"][..]),
    ] {
        for text in texts {
            assert!(page.contains(text), "{text} in\n{page}");
        }
    }

    // An action, its notice, and its line in the audit log.
    let res = app
        .admin_post(
            &coach,
            "/admin/comments/bulk",
            &[
                ("one", &format!("approve:{first}")),
                ("back", "/admin/comments?tab=pending"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    let (_, after) = app.admin_page(&coach, &location).await;
    assert!(after.contains("1 Kommentar freigegeben."), "{after}");
    let (_, audit) = app.admin_page(&coach, "/admin/audit").await;
    assert!(audit.contains("hat einen Kommentar freigegeben"), "{audit}");

    let english = [
        "Sign in",
        "Signed in as",
        "Sign out",
        "Dashboard",
        "awaiting moderation",
        "new coaching request",
        "Pending comments",
        "Comment queues",
        ">Approve",
        ">Trash<",
        "Mark as spam",
        "Delete forever",
        "With the selected comments",
        "the comment by",
        ">pending<",
        "first comment",
        "Back to the queue",
        "Reply as the coach",
        "Publish the reply",
        "Coaching requests",
        "No requests here yet",
        "Statistics",
        "Per option",
        ">Received<",
        "Audit log",
        "comment approved",
        "approved a comment",
        "Readers never need an account",
        "do not match an account",
    ];
    for page in [
        &sign_in, &refused, &dashboard, &queue, &comment, &inbox, &after, &audit,
    ] {
        for text in english {
            assert!(!page.contains(text), "{text} in\n{page}");
        }
    }
}

#[actix_web::test]
async fn mail_that_keeps_failing_stops_and_shows_on_the_dashboard() {
    let app = spawn_admin_app(&[]).await;
    let coach = app.coach().await;
    let (_, dashboard) = app.admin_page(&coach, "/admin").await;
    assert!(!dashboard.contains("could not be sent"));
    let now = chrono::Utc::now().naive_utc() - Duration::hours(1);
    let id = db::run(&app.pool, move |conn| {
        let mail = db::mail::NewMail {
            recipient: "sam@example.com".into(),
            subject: "Please confirm your comment".into(),
            body: "SECRET BODY with a private link".into(),
            kind: "confirm".into(),
            list_unsubscribe: None,
        };
        let id = db::mail::enqueue_due(conn, &mail, now, now + Duration::days(30))?;
        for attempt in 0..db::mail::MAX_ATTEMPTS {
            db::mail::mark_failed(conn, id, attempt, "550 mailbox unavailable", now)?;
        }
        Ok(id)
    })
    .await
    .unwrap();
    // No more tries, however late it gets.
    let due = db::run(&app.pool, move |conn| {
        db::mail::claim_due(conn, now + Duration::days(365), 20, 120)
    })
    .await
    .unwrap();
    assert!(due.iter().all(|m| m.id != id), "{due:?}");
    let (_, dashboard) = app.admin_page(&coach, "/admin").await;
    assert!(
        dashboard.contains("1</span> email could not be sent"),
        "{dashboard}"
    );
    assert!(dashboard.contains("To a reader"));
    assert!(dashboard.contains("Please confirm your comment"));
    assert!(dashboard.contains("550 mailbox unavailable"));
    assert!(!dashboard.contains("SECRET BODY"));
}

#[actix_web::test]
async fn addresses_the_mailer_refuses_are_refused_by_the_comment_form() {
    let app = spawn_admin_app(&[]).await;
    for (i, bad) in [
        "Bcc:evil@example.com",
        ".hi@example.com",
        "hi..dots@example.com",
        "x?cc=...@example.com",
    ]
    .into_iter()
    .enumerate()
    {
        let reader = client();
        let token = comment_form_token(&app, &reader, SLUG).await;
        let res = reader
            .post(format!("{}/articles/{SLUG}/comments", app.address))
            .header("X-Forwarded-For", format!("10.7.0.{i}"))
            .form(&[
                ("name", "Sam"),
                ("email", bad),
                ("body", "A question."),
                ("token", &token),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 422, "{bad}");
    }
}

#[actix_web::test]
async fn every_admin_route_but_sign_in_and_setup_needs_a_session() {
    let app = spawn_admin_app(&[]).await;
    create_admin(&app, EMAIL, "Maya", PASSWORD).await;
    let public = kintsugi::web::admin::session::PUBLIC;
    let routes = kintsugi::startup::ADMIN_ROUTES;
    assert!(routes.len() > 20, "the table lists the admin routes");
    // Each route of the app's own table, asked without a session (and a
    // path under /admin that no handler serves: the scope's guard answers
    // before any handler could forget to).
    let unserved = [
        ("get", "/admin/no-handler-here"),
        ("post", "/admin/no-handler-here"),
    ];
    for &(method, route) in routes.iter().chain(unserved.iter()) {
        if public.contains(&route) {
            continue;
        }
        let path = route.replace("{id}", "7").replace("{format}", "csv");
        let url = format!("{}{path}", app.address);
        let stranger = client();
        let res = match method {
            "get" => stranger.get(&url).send().await.unwrap(),
            "post" => stranger
                .post(&url)
                .header("content-type", "application/x-www-form-urlencoded")
                .header("origin", &app.address)
                .body("csrf=forged&status=closed&body=hello")
                .send()
                .await
                .unwrap(),
            other => panic!("an admin route with method {other}"),
        };
        assert_eq!(res.status(), 303, "{method} {path}");
        let next = if method == "get" {
            path.as_str()
        } else {
            "/admin"
        };
        assert_eq!(
            res.headers()["location"].to_str().unwrap(),
            format!(
                "/admin/login?{}",
                serde_urlencoded::to_string([("next", next)]).unwrap()
            ),
            "{method} {path}"
        );
        assert_eq!(res.headers()["cache-control"], "no-store", "{path}");
    }
    // The public ones stay reachable without a session.
    for path in public {
        assert!(routes.contains(&("get", *path)), "{path} is an admin route");
        let res = client()
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        assert_ne!(res.status(), 303, "{path} must be public");
    }
    // Signed in, the unserved path is a plain 404.
    let coach = app.signed_in_client().await;
    let (status, _) = app.admin_page(&coach, "/admin/no-handler-here").await;
    assert_eq!(status, 404);
}
