//! The operator's view: `GET /metrics` (who may read it, what it holds)
//! and the request log (one line per request, a request id, JSON).
use crate::helpers::*;

const SLUG: &str = "going-no-contact";
const NAME: &str = "Rosalind Quimby";
const EMAIL: &str = "rosalind.quimby@example.com";

async fn metrics_app(env: &[(&'static str, &str)]) -> TestApp {
    spawn_with(Options {
        env: env.iter().map(|(k, v)| (*k, v.to_string())).collect(),
        ..Options::default()
    })
    .await
}

/// Posts a comment as a browser at 203.0.113.7 would (through the trusted
/// local proxy); returns the status.
async fn post_comment(base: &str, client: &reqwest::Client) -> u16 {
    let page = client
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
        .expect("a comment form")
        .split('"')
        .next()
        .unwrap()
        .to_string();
    client
        .post(format!("{base}/articles/{SLUG}/comments"))
        .header("X-Forwarded-For", "203.0.113.7")
        .form(&[
            ("name", NAME),
            ("email", EMAIL),
            (
                "body",
                "It has been three weeks and I still check his profile.",
            ),
            ("token", &token),
        ])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[actix_web::test]
async fn metrics_are_off_by_default() {
    let app = spawn_app().await;
    let res = app.get("/metrics").await;
    assert_eq!(res.status(), 404);
    assert!(!res.text().await.unwrap().contains("kintsugi_"));
}

#[actix_web::test]
async fn metrics_from_loopback_count_pages_comments_and_the_database() {
    let app = metrics_app(&[("KINTSUGI_METRICS", "on")]).await;
    assert_eq!(app.page(&format!("/articles/{SLUG}")).await.0, 200);
    assert_eq!(post_comment(&app.address, &app.client).await, 303);
    assert_eq!(app.page("/no-such-page/at-all").await.0, 404);

    let res = app.get("/metrics").await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-type"].to_str().unwrap(),
        "text/plain; version=0.0.4"
    );
    assert_eq!(res.headers()["cache-control"].to_str().unwrap(), "no-store");
    let text = res.text().await.unwrap();
    let has = |line: &str| text.lines().any(|l| l.starts_with(line));
    for line in [
        r#"kintsugi_http_requests_total{method="GET",route="/articles/{slug}",status="200"} "#,
        r#"kintsugi_http_requests_total{method="POST",route="/articles/{slug}/comments",status="303"} 1"#,
        r#"kintsugi_http_requests_total{method="GET",route="unmatched",status="404"} 1"#,
        r#"kintsugi_http_request_duration_seconds_bucket{method="GET",route="/articles/{slug}",le="#,
        "kintsugi_page_cache_hits_total ",
        "kintsugi_page_cache_misses_total ",
        "kintsugi_page_cache_bytes ",
        "kintsugi_page_cache_entries ",
        r#"kintsugi_db_pool_connections{state="in_use"} "#,
        r#"kintsugi_db_pool_connections{state="idle"} "#,
        "kintsugi_db_pool_max_connections 4",
        "kintsugi_db_pool_wait_seconds_count ",
        "kintsugi_db_pool_timeouts_total 0",
        // A first comment waits for the coach.
        r#"kintsugi_comments_created_total{status="pending"} 1"#,
        "kintsugi_coaching_requests_created_total 0",
        "kintsugi_mail_sent_total ",
        "kintsugi_mail_failed_total 0",
        "kintsugi_mail_unsent ",
        "kintsugi_db_writer_batch_size_count ",
        r#"kintsugi_build_info{version=""#,
        "kintsugi_process_start_time_seconds ",
    ] {
        assert!(has(line), "no line starting {line:?} in:\n{text}");
    }
    if matches!(backend(), Backend::Sqlite) {
        // The comment went through the SQLite writer, in a batch of one.
        assert!(has("kintsugi_db_writer_batch_size_count 1"), "{text}");
    }
    // The page's misses are counted, and its second view hits the cache.
    assert!(!has("kintsugi_page_cache_misses_total 0"), "{text}");
    // Route patterns only: never a path, a slug, a query, a name or an email.
    for private in [SLUG, "no-such-page", NAME, EMAIL] {
        assert!(!text.contains(private), "{private} in:\n{text}");
    }

    // Never cached: the next scrape counts the scrape before it.
    let again = app.page("/metrics").await.1;
    assert!(
        again.contains(
            r#"kintsugi_http_requests_total{method="GET",route="/metrics",status="200"} 1"#
        ),
        "{again}"
    );
    // Nor listed for search engines.
    assert!(!app.page("/sitemap.xml").await.1.contains("/metrics"));
}

#[actix_web::test]
async fn metrics_outside_the_allow_list_need_the_right_bearer_token() {
    let token = "scrape-me-7f3c1d";
    let app = metrics_app(&[
        ("KINTSUGI_METRICS", "on"),
        ("KINTSUGI_METRICS_ALLOW", "10.0.0.0/8"),
        ("KINTSUGI_METRICS_TOKEN", token),
    ])
    .await;
    let get = |auth: Option<String>| {
        let mut req = app.client.get(format!("{}/metrics", app.address));
        if let Some(auth) = auth {
            req = req.header("Authorization", auth);
        }
        async move { req.send().await.unwrap().status().as_u16() }
    };
    // Loopback is not in the list: refused, as if metrics were off.
    assert_eq!(get(None).await, 404);
    assert_eq!(get(Some(format!("Bearer {token}"))).await, 200);
    assert_eq!(get(Some(format!("bearer {token}"))).await, 200);
    assert_eq!(get(Some("Bearer scrape-me-7f3c1".into())).await, 404);
    assert_eq!(get(Some(format!("Bearer {token}x"))).await, 404);
    assert_eq!(get(Some(format!("Basic {token}"))).await, 404);
}

#[actix_web::test]
async fn metrics_judge_the_forwarded_address_not_the_local_proxy() {
    // Tests connect from 127.0.0.1, a trusted proxy: the address it
    // forwards is the client's.
    let app = metrics_app(&[("KINTSUGI_METRICS", "on")]).await;
    let from = |ip: &'static str| {
        let req = app
            .client
            .get(format!("{}/metrics", app.address))
            .header("X-Forwarded-For", ip);
        async move { req.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(from("203.0.113.9").await, 404);
    assert_eq!(from("127.0.0.1").await, 200);

    // A proxy we were not told about (forwarding headers from an
    // untrusted peer): its visitors are not taken for loopback.
    let app = metrics_app(&[("KINTSUGI_METRICS", "on"), ("KINTSUGI_TRUSTED_PROXIES", "")]).await;
    let res = app
        .client
        .get(format!("{}/metrics", app.address))
        .header("X-Forwarded-For", "203.0.113.9")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(app.get("/metrics").await.status(), 200);
}

#[actix_web::test]
async fn every_answer_carries_a_request_id() {
    let app = spawn_app().await;
    let mut seen = Vec::new();
    for path in ["/", "/static/css/site.css", "/no-such-page/at-all"] {
        let res = app.get(path).await;
        let id = res.headers()["x-request-id"].to_str().unwrap().to_string();
        assert_eq!(id.len(), 16, "{path}: {id}");
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
        seen.push(id);
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 3);

    // The trusted proxy's own id is kept when it looks like one.
    let with = |sent: &'static str| {
        let req = app
            .client
            .get(format!("{}/", app.address))
            .header("X-Request-Id", sent);
        async move {
            let res = req.send().await.unwrap();
            res.headers()["x-request-id"].to_str().unwrap().to_string()
        }
    };
    assert_eq!(with("edge-5f2c-0001").await, "edge-5f2c-0001");
    let forged = with("x\", \"status\": 200").await;
    assert_eq!(forged.len(), 16, "{forged}");
    assert_eq!(with(&*"a".repeat(65).leak()).await.len(), 16);
}

/// The real binary with `KINTSUGI_LOG_FORMAT=json`: its stderr is JSON
/// lines, one per request, with the request id and no personal data.
#[actix_web::test]
async fn json_logs_have_one_line_per_request_and_no_personal_data() {
    let content = tempfile::tempdir().unwrap();
    copy_dir(&sample_content_dir(), content.path());
    let data = tempfile::tempdir().unwrap();
    let log_path = data.path().join("stderr.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_kintsugi"));
    command
        .arg("serve")
        .env("KINTSUGI_BIND", format!("127.0.0.1:{port}"))
        .env("KINTSUGI_CONTENT_DIR", content.path())
        .env("KINTSUGI_DATA_DIR", data.path())
        .env("KINTSUGI_DATABASE_URL", fresh_database_url(data.path()))
        .env("KINTSUGI_WATCH_CONTENT", "false")
        .env("KINTSUGI_COMMENT_MIN_SECONDS", "0")
        .env("KINTSUGI_TRUSTED_PROXIES", "127.0.0.1")
        .env("KINTSUGI_LOG_FORMAT", "json")
        .env_remove("KINTSUGI_LOG")
        .stdout(std::process::Stdio::null())
        .stderr(log);
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _server = Kill(command.spawn().unwrap());
    let base = format!("http://127.0.0.1:{port}");
    let browser = client();
    eventually("the server starts", || async {
        browser.get(format!("{base}/healthz")).send().await.is_ok()
    })
    .await;
    let status = post_comment(&base, &browser).await;
    assert_eq!(status, 303);
    let res = browser
        .get(format!("{base}/search?q=rosalind"))
        .send()
        .await
        .unwrap();
    let search_id = res.headers()["x-request-id"].to_str().unwrap().to_string();

    let mut lines = Vec::new();
    eventually("the search is logged", || {
        let path = log_path.clone();
        let id = search_id.clone();
        async move { std::fs::read_to_string(path).unwrap().contains(&id) }
    })
    .await;
    let text = std::fs::read_to_string(&log_path).unwrap();
    for line in text.lines() {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        lines.push(value);
    }
    let requests: Vec<&serde_json::Value> =
        lines.iter().filter(|l| l["message"] == "request").collect();
    let post = requests
        .iter()
        .find(|l| l["method"] == "POST")
        .expect("the comment post is logged");
    assert_eq!(post["level"], "INFO");
    assert_eq!(post["status"], 303);
    assert_eq!(post["path"], format!("/articles/{SLUG}/comments"));
    assert_eq!(post["route"], "/articles/{slug}/comments");
    assert!(post["ms"].is_number());
    assert!(post["timestamp"].is_string());
    assert_eq!(post["request_id"].as_str().unwrap().len(), 16);
    // What the handler logged while serving it carries the same id.
    let stored = lines
        .iter()
        .find(|l| l["message"] == "comment stored")
        .expect("the comment is logged as stored");
    assert_eq!(stored["span"]["request_id"], post["request_id"]);
    // The page view before it, and the search without its query.
    assert!(requests
        .iter()
        .any(|l| l["method"] == "GET" && l["path"] == format!("/articles/{SLUG}")));
    let search = requests
        .iter()
        .find(|l| l["request_id"] == search_id.as_str())
        .expect("the search's line carries the id sent back");
    assert_eq!(search["path"], "/search");
    // Successful probes are not at info level.
    assert!(!requests.iter().any(|l| l["path"] == "/healthz"));
    // Nothing the reader typed, in any line.
    for private in [NAME, EMAIL, "rosalind", "three weeks"] {
        assert!(!text.contains(private), "{private} logged:\n{text}");
    }
}
