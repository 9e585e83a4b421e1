//! Sending queued mail: SMTP through lettre when `KINTSUGI_SMTP_URL` is
//! set, otherwise `.eml` files under `<data_dir>/outbox` (and a log line).
//! A worker sends what is due, retrying failures with growing waits; a
//! reader's request never waits for mail.
use std::path::PathBuf;
use std::time::Duration;

use chrono::Utc;
use lettre::message::header::ContentType;
use lettre::message::{Body, Mailbox, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::MailSettings;
use crate::db::{self, mail::QueuedMail, Pool};

pub enum Transport {
    Outbox(PathBuf),
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("invalid address: {0}")]
    Address(String),
    #[error("cannot build the message: {0}")]
    Build(String),
    #[error("cannot write to the outbox: {0}")]
    Outbox(#[from] std::io::Error),
    #[error("SMTP: {0}")]
    Smtp(String),
}

impl Transport {
    pub fn from_settings(
        settings: &MailSettings,
        data_dir: &std::path::Path,
    ) -> Result<Self, MailError> {
        match &settings.smtp_url {
            Some(url) => AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose())
                .map(|b| Self::Smtp(b.timeout(Some(Duration::from_secs(20))).build()))
                .map_err(|e| MailError::Smtp(e.to_string())),
            None => Ok(Self::Outbox(data_dir.join("outbox"))),
        }
    }

    pub fn describe(&self) -> &'static str {
        match self {
            Self::Outbox(_) => "outbox folder (.eml files; set KINTSUGI_SMTP_URL to send)",
            Self::Smtp(_) => "SMTP",
        }
    }

    async fn send(&self, from: &str, mail: &QueuedMail) -> Result<(), MailError> {
        let from: Mailbox = from
            .parse()
            .map_err(|e| MailError::Address(format!("{from}: {e}")))?;
        let to: Mailbox = mail
            .recipient
            .parse()
            .map_err(|e| MailError::Address(format!("{e}")))?;
        let mut builder = Message::builder()
            .from(from)
            .to(to)
            .subject(mail.subject.clone());
        if let Some(url) = &mail.list_unsubscribe {
            builder = builder
                .header(ListUnsubscribe(format!("<{url}>")))
                .header(ListUnsubscribePost);
        }
        // lettre picks the transfer encoding (quoted-printable for long
        // lines such as links).
        let part = SinglePart::builder()
            .header(ContentType::TEXT_PLAIN)
            .body(Body::new(mail.body.clone()));
        let message = builder
            .singlepart(part)
            .map_err(|e| MailError::Build(e.to_string()))?;
        match self {
            Self::Outbox(dir) => {
                std::fs::create_dir_all(dir)?;
                let name = format!(
                    "{}-{:06}-{}.eml",
                    Utc::now().format("%Y%m%dT%H%M%S"),
                    mail.id,
                    // The kind without its details (`request-update:42:status`).
                    mail.kind.split(':').next().unwrap_or_default()
                );
                let tmp = dir.join(format!(".{name}.tmp"));
                std::fs::write(&tmp, message.formatted())?;
                std::fs::rename(&tmp, dir.join(&name))?;
                tracing::info!(mail = mail.id, kind = %mail.kind, file = %name, "mail written to the outbox");
                Ok(())
            }
            Self::Smtp(transport) => transport
                .send(message)
                .await
                .map(|_| tracing::info!(mail = mail.id, kind = %mail.kind, "mail sent"))
                .map_err(|e| MailError::Smtp(e.to_string())),
        }
    }
}

/// `List-Unsubscribe` (RFC 2369).
#[derive(Clone)]
struct ListUnsubscribe(String);

impl lettre::message::header::Header for ListUnsubscribe {
    fn name() -> lettre::message::header::HeaderName {
        lettre::message::header::HeaderName::new_from_ascii_str("List-Unsubscribe")
    }
    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self(s.to_string()))
    }
    fn display(&self) -> lettre::message::header::HeaderValue {
        lettre::message::header::HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058).
#[derive(Clone)]
struct ListUnsubscribePost;

impl lettre::message::header::Header for ListUnsubscribePost {
    fn name() -> lettre::message::header::HeaderName {
        lettre::message::header::HeaderName::new_from_ascii_str("List-Unsubscribe-Post")
    }
    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self)
    }
    fn display(&self) -> lettre::message::header::HeaderValue {
        lettre::message::header::HeaderValue::new(
            Self::name(),
            "List-Unsubscribe=One-Click".to_string(),
        )
    }
}

/// Sends due mail until the process ends: every `interval`, or at once
/// when woken through the returned handle.
pub fn spawn_worker(
    pool: Pool,
    transport: Transport,
    from: String,
    interval: Duration,
) -> std::sync::Arc<tokio::sync::Notify> {
    let wake = std::sync::Arc::new(tokio::sync::Notify::new());
    let woken = wake.clone();
    actix_web::rt::spawn(async move {
        loop {
            let _ = tokio::time::timeout(interval, woken.notified()).await;
            let now = Utc::now().naive_utc();
            let due =
                match db::run(&pool, move |conn| db::mail::claim_due(conn, now, 20, 120)).await {
                    Ok(due) => due,
                    Err(e) => {
                        tracing::warn!(error = %e, "mail queue unavailable; will retry");
                        continue;
                    }
                };
            for mail in due {
                let result = transport.send(&from, &mail).await;
                let (id, attempts) = (mail.id, mail.attempts);
                let now = Utc::now().naive_utc();
                let marked = match result {
                    Ok(()) => db::run(&pool, move |conn| db::mail::mark_sent(conn, id, now)).await,
                    Err(e) => {
                        tracing::warn!(mail = id, attempts = attempts + 1, error = %e, "mail not sent; will retry");
                        let error = e.to_string();
                        db::run(&pool, move |conn| {
                            db::mail::mark_failed(conn, id, attempts, &error, now)
                        })
                        .await
                    }
                };
                if let Err(e) = marked {
                    tracing::warn!(mail = id, error = %e, "cannot record the mail's state");
                }
            }
        }
    });
    wake
}
