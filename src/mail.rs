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
            .from(from.clone())
            .to(to.clone())
            .subject(mail.subject.clone());
        // Text that looks encoded is sent encoded, so it reads as typed.
        for header in [
            literal_mailbox("From", &from),
            literal_mailbox("To", &to),
            literal_text("Subject", &mail.subject),
        ]
        .into_iter()
        .flatten()
        {
            builder = builder.raw_header(header);
        }
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

/// Whether a mail client would decode `text` in a header: it holds what
/// starts an RFC 2047 encoded-word (`=?utf-8?b?...?=`). lettre encodes only
/// text with characters outside ASCII, and writes this as it is.
fn looks_encoded(text: &str) -> bool {
    text.contains("=?")
}

/// `text` written as RFC 2047 encoded-words, whole, onto `w`.
fn write_encoded_words(
    text: &str,
    w: &mut email_encoding::headers::writer::EmailWriter<'_>,
) -> std::fmt::Result {
    email_encoding::headers::rfc2047::encode(text, w)
}

/// Header `name` with `text` (a subject holding a reader's name) as
/// encoded-words when it looks encoded, so the client shows the literal
/// text; None: lettre's own encoding is right.
fn literal_text(name: &'static str, text: &str) -> Option<lettre::message::header::HeaderValue> {
    use lettre::message::header::{HeaderName, HeaderValue};
    if !looks_encoded(text) {
        return None;
    }
    let mut encoded = String::new();
    {
        let mut w = email_encoding::headers::writer::EmailWriter::new(
            &mut encoded,
            name.len() + 2,
            0,
            false,
        );
        write_encoded_words(text, &mut w).ok()?;
    }
    Some(HeaderValue::dangerous_new_pre_encoded(
        HeaderName::new_from_ascii_str(name),
        text.to_string(),
        encoded,
    ))
}

/// Header `name` (From, To) for `mailbox` with its display name as
/// encoded-words when it looks encoded; None: lettre's own is right.
fn literal_mailbox(
    name: &'static str,
    mailbox: &Mailbox,
) -> Option<lettre::message::header::HeaderValue> {
    use lettre::message::header::{HeaderName, HeaderValue};
    use std::fmt::Write;
    let display_name = mailbox.name.as_deref().filter(|n| looks_encoded(n))?;
    let mut encoded = String::new();
    {
        let mut w = email_encoding::headers::writer::EmailWriter::new(
            &mut encoded,
            name.len() + 2,
            0,
            false,
        );
        write_encoded_words(display_name, &mut w).ok()?;
        w.space();
        write!(w, "<{}>", mailbox.email).ok()?;
    }
    Some(HeaderValue::dangerous_new_pre_encoded(
        HeaderName::new_from_ascii_str(name),
        mailbox.to_string(),
        encoded,
    ))
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
/// when woken through the returned handle. `clock` decides what is due
/// (retries wait longer each time).
pub fn spawn_worker(
    pool: Pool,
    transport: Transport,
    from: String,
    interval: Duration,
    metrics: std::sync::Arc<crate::metrics::Metrics>,
    clock: crate::clock::Clock,
) -> std::sync::Arc<tokio::sync::Notify> {
    let wake = std::sync::Arc::new(tokio::sync::Notify::new());
    let woken = wake.clone();
    actix_web::rt::spawn(async move {
        loop {
            let _ = tokio::time::timeout(interval, woken.notified()).await;
            let now = clock.now_naive();
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
                let now = clock.now_naive();
                let marked = match result {
                    Ok(()) => {
                        metrics.mail_sent();
                        db::run(&pool, move |conn| db::mail::mark_sent(conn, id, now)).await
                    }
                    Err(e) => {
                        metrics.mail_failed();
                        if attempts + 1 >= db::mail::MAX_ATTEMPTS {
                            tracing::error!(mail = id, attempts = attempts + 1, error = %e, "mail not sent; giving up (shown on the dashboard)");
                        } else {
                            tracing::warn!(mail = id, attempts = attempts + 1, error = %e, "mail not sent; will retry");
                        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_that_looks_encoded_is_encoded_whole() {
        assert!(literal_text("Subject", "A reply to Sam").is_none());
        let typed = "New reply to =?utf-8?b?SGFja2Vk?= on your comment";
        let message = Message::builder()
            .from(
                "Site =?utf-8?q?Evil?= <noreply@example.com>"
                    .parse()
                    .unwrap(),
            )
            .to("sam@example.com".parse().unwrap())
            .subject(typed)
            .raw_header(literal_text("Subject", typed).unwrap())
            .raw_header(
                literal_mailbox(
                    "From",
                    &"Site =?utf-8?q?Evil?= <noreply@example.com>"
                        .parse()
                        .unwrap(),
                )
                .unwrap(),
            )
            .body(String::from("Hi"))
            .unwrap();
        let raw = String::from_utf8(message.formatted()).unwrap();
        let headers = raw.split("\r\n\r\n").next().unwrap();
        assert!(!headers.contains("SGFja2Vk"), "{headers}");
        assert!(!headers.contains("=?utf-8?q?Evil"), "{headers}");
        assert!(headers.contains("<noreply@example.com>"), "{headers}");
        // Decoding the encoded-words gives back exactly what was typed.
        let subject: String = headers
            .split("Subject: ")
            .nth(1)
            .unwrap()
            .split("\r\n")
            .take_while(|l| !l.contains(':') || l.starts_with(' '))
            .collect::<Vec<_>>()
            .join("");
        assert!(subject.starts_with("=?utf-8?b?"), "{subject}");
        assert_eq!(decode_words(&subject), typed);
    }

    /// Decodes `=?utf-8?b?...?=` words (what a mail client does).
    fn decode_words(header: &str) -> String {
        let mut bytes = Vec::new();
        for word in header.split_whitespace() {
            let b64 = word
                .strip_prefix("=?utf-8?b?")
                .and_then(|w| w.strip_suffix("?="))
                .unwrap();
            bytes.extend(base64_decode(b64));
        }
        String::from_utf8(bytes).unwrap()
    }

    fn base64_decode(text: &str) -> Vec<u8> {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = Vec::new();
        let (mut acc, mut bits) = (0u32, 0);
        for c in text.bytes().filter(|c| *c != b'=') {
            let v = ALPHABET.iter().position(|a| *a == c).unwrap() as u32;
            acc = (acc << 6) | v;
            bits += 6;
            if bits >= 8 {
                bits -= 8;
                out.push((acc >> bits) as u8);
                acc &= (1 << bits) - 1;
            }
        }
        out
    }
}
