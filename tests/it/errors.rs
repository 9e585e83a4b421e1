//! Error pages: a 404 that helps, a 5xx that tells nothing away.
use std::time::Duration;

use actix_web::{web, App, HttpResponse, HttpServer};
use kintsugi::assets::Assets;
use kintsugi::config::{DatabaseUrl, Secret};
use kintsugi::content::ContentStore;
use kintsugi::error::AppError;
use kintsugi::web::AppState;

use crate::helpers::*;

#[actix_web::test]
async fn not_found_helps_with_search_and_latest_articles() {
    let app = spawn_app().await;
    for path in [
        "/no/such/thing",
        "/articles/no-such-article",
        "/tags/nothing-here",
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 404, "{path}");
        assert_eq!(res.headers()["content-type"], "text/html; charset=utf-8");
        let body = res.text().await.unwrap();
        assert!(body.contains("We could not find that page"), "{path}");
        assert!(body.contains("role=\"search\"") && body.contains("name=\"q\""));
        assert!(body.contains("Latest articles"));
        assert!(body.contains("href=\"/articles/"));
    }
    let res = app
        .client
        .post(format!("{}/", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        404,
        "unknown method and path combinations are not found"
    );
}

/// An app whose database is unreachable, served for real on port 0.
async fn app_with(pool_url: &str, extra: fn(&mut web::ServiceConfig)) -> String {
    let content = ContentStore::load(&sample_content_dir()).unwrap();
    let settings = test_settings(
        &sample_content_dir(),
        &std::env::temp_dir(),
        "sqlite://unused.sqlite3",
        false,
    );
    let pool = kintsugi::db::pool(
        &DatabaseUrl::Postgres(Secret::new(pool_url)),
        1,
        Duration::from_millis(300),
    )
    .unwrap();
    let state = web::Data::new(AppState {
        settings,
        content: std::sync::Arc::new(content),
        pool,
        assets: Assets::load(),
        key: kintsugi::keys::SiteKey::from_secret(&Secret::new(
            "kintsugi-test-key-kintsugi-test-key",
        ))
        .unwrap(),
        mail_wake: Default::default(),
        clock: Default::default(),
        page_cache: Default::default(),
        writer: kintsugi::db::writer::Writer::direct(),
        strings: std::sync::Arc::new(kintsugi::i18n::Strings::english()),
        metrics: Default::default(),
    });
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .wrap(actix_web::middleware::from_fn(
                kintsugi::web::errors::error_pages,
            ))
            .configure(extra)
            .route("/readyz", web::get().to(kintsugi::web::health::readyz))
    })
    .listen(listener)
    .unwrap()
    .run();
    actix_web::rt::spawn(server);
    format!("http://127.0.0.1:{port}")
}

#[actix_web::test]
async fn a_server_error_shows_a_friendly_page_without_internals() {
    let address = app_with("postgres://nobody@127.0.0.1:1/none", |cfg| {
        cfg.route(
            "/boom",
            web::get().to(|| async {
                Err::<HttpResponse, _>(AppError::internal(anyhow::anyhow!(
                    "SECRET-DETAIL: connection string postgres://admin:hunter2@db"
                )))
            }),
        );
    })
    .await;
    let res = reqwest::get(format!("{address}/boom")).await.unwrap();
    assert_eq!(res.status(), 500);
    let body = res.text().await.unwrap();
    assert!(body.contains("Something went wrong on our side"));
    assert!(!body.contains("SECRET-DETAIL") && !body.contains("hunter2"));
    assert!(body.contains("<main"), "a whole page, in the site's frame");
}

#[actix_web::test]
async fn readiness_fails_fast_when_the_database_is_unreachable() {
    let address = app_with("postgres://nobody@127.0.0.1:1/none", |_| {}).await;
    let started = std::time::Instant::now();
    let res = reqwest::get(format!("{address}/readyz")).await.unwrap();
    assert_eq!(res.status(), 503);
    assert!(started.elapsed() < Duration::from_secs(5), "answers fast");
    let body = res.text().await.unwrap();
    assert!(body.contains("database: unreachable"));
    assert!(!body.contains("nobody@"), "no connection details");
}
