//! The site's secret key and what is made with it: signed form tokens,
//! salted hashes of IP addresses, and random tokens.
use std::path::Path;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::config::Secret;

type HmacSha256 = Hmac<Sha256>;

/// The key that signs tokens. From `KINTSUGI_SECRET_KEY`, or generated once
/// and kept in the data folder (`secret.key`) so restarts change nothing.
#[derive(Clone)]
pub struct SiteKey(HmacSha256);

impl std::fmt::Debug for SiteKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SiteKey(***)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("KINTSUGI_SECRET_KEY must be at least 32 characters long")]
    TooShort,
    #[error("cannot read or create the secret key file {path}: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot get random bytes from the system: {0}")]
    Random(String),
}

/// `n` random bytes, hex-encoded.
pub fn random_hex(n: usize) -> Result<String, KeyError> {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).map_err(|e| KeyError::Random(e.to_string()))?;
    Ok(hex(&bytes))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of a token, hex: what is stored instead of the token.
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

impl SiteKey {
    pub fn load(configured: Option<&Secret>, data_dir: &Path) -> Result<Self, KeyError> {
        if let Some(secret) = configured {
            return Self::from_secret(secret);
        }
        let path = data_dir.join("secret.key");
        let file_err = |source| KeyError::File {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read_to_string(&path) {
            Ok(text) if text.trim().len() >= 32 => return Self::from_bytes(text.trim().as_bytes()),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(file_err(e)),
        }
        std::fs::create_dir_all(data_dir).map_err(file_err)?;
        let key = random_hex(32)?;
        let tmp = data_dir.join(".secret.key.tmp");
        write_private(&tmp, key.as_bytes()).map_err(file_err)?;
        std::fs::rename(&tmp, &path).map_err(file_err)?;
        tracing::info!(path = %path.display(), "generated a new secret key");
        Self::from_bytes(key.as_bytes())
    }

    fn from_bytes(key: &[u8]) -> Result<Self, KeyError> {
        HmacSha256::new_from_slice(key)
            .map(Self)
            .map_err(|_| KeyError::TooShort)
    }

    /// A key from a configured secret (at least 32 characters).
    pub fn from_secret(secret: &Secret) -> Result<Self, KeyError> {
        if secret.expose().len() < 32 {
            return Err(KeyError::TooShort);
        }
        Self::from_bytes(secret.expose().as_bytes())
    }

    fn mac(&self, purpose: &str, message: &str) -> HmacSha256 {
        let mut mac = self.0.clone();
        mac.update(purpose.as_bytes());
        mac.update(b"\0");
        mac.update(message.as_bytes());
        mac
    }

    pub fn sign(&self, purpose: &str, message: &str) -> String {
        hex(&self.mac(purpose, message).finalize().into_bytes())
    }

    /// Constant-time check of a signature made by [`SiteKey::sign`].
    pub fn verify(&self, purpose: &str, message: &str, signature_hex: &str) -> bool {
        let Some(bytes) = unhex(signature_hex) else {
            return false;
        };
        self.mac(purpose, message).verify_slice(&bytes).is_ok()
    }

    /// The key that signs the session cookie, derived from the site key.
    pub fn cookie_key(&self) -> actix_web::cookie::Key {
        let seed = format!(
            "{}{}",
            self.sign("session-cookie", "1"),
            self.sign("session-cookie", "2")
        );
        actix_web::cookie::Key::derive_from(seed.as_bytes())
    }

    /// A salted hash of an IP address: enough for rate limits, useless to
    /// anyone who reads the database.
    pub fn ip_hash(&self, ip: &std::net::IpAddr) -> String {
        self.sign("ip", &ip.to_string())[..32].to_string()
    }
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 || text.len() > 128 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

/// A signed form token carrying the time the form was served.
pub struct FormToken;

/// What a posted form token says.
#[derive(Debug, PartialEq, Eq)]
pub enum TokenCheck {
    Valid { age_seconds: i64 },
    Invalid,
}

impl FormToken {
    /// `{issued}.{nonce}.{signature}`: the nonce makes every served form
    /// unique, so a token sent twice is the same form sent twice.
    pub fn issue(key: &SiteKey, scope: &str, now_unix: i64) -> String {
        let nonce = random_hex(8).unwrap_or_else(|_| "0".repeat(16));
        format!(
            "{now_unix}.{nonce}.{}",
            key.sign("form", &format!("{scope}:{now_unix}:{nonce}"))
        )
    }

    pub fn check(key: &SiteKey, scope: &str, token: &str, now_unix: i64) -> TokenCheck {
        let mut parts = token.splitn(3, '.');
        let (Some(issued), Some(nonce), Some(sig)) = (parts.next(), parts.next(), parts.next())
        else {
            return TokenCheck::Invalid;
        };
        let Ok(issued_unix) = issued.parse::<i64>() else {
            return TokenCheck::Invalid;
        };
        if nonce.len() > 32 || !nonce.chars().all(|c| c.is_ascii_hexdigit()) {
            return TokenCheck::Invalid;
        }
        if !key.verify("form", &format!("{scope}:{issued_unix}:{nonce}"), sig) {
            return TokenCheck::Invalid;
        }
        TokenCheck::Valid {
            age_seconds: now_unix - issued_unix,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_tokens_are_signed_and_scoped() {
        let key =
            SiteKey::from_secret(&Secret::new("kintsugi-test-key-kintsugi-test-key")).unwrap();
        let t = FormToken::issue(&key, "comment:a", 1000);
        assert_eq!(
            FormToken::check(&key, "comment:a", &t, 1005),
            TokenCheck::Valid { age_seconds: 5 }
        );
        assert_eq!(
            FormToken::check(&key, "comment:b", &t, 1005),
            TokenCheck::Invalid
        );
        assert_eq!(
            FormToken::check(&key, "comment:a", "999.abcd", 1005),
            TokenCheck::Invalid
        );
        assert_ne!(
            t,
            FormToken::issue(&key, "comment:a", 1000),
            "each form is unique"
        );
        assert_eq!(
            FormToken::check(&key, "comment:a", "garbage", 1005),
            TokenCheck::Invalid
        );
        let forged = t.replacen("1000", "900", 1);
        assert_eq!(
            FormToken::check(&key, "comment:a", &forged, 1005),
            TokenCheck::Invalid
        );
    }

    #[test]
    fn the_key_is_generated_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let a = SiteKey::load(None, dir.path()).unwrap();
        let b = SiteKey::load(None, dir.path()).unwrap();
        assert_eq!(a.sign("x", "y"), b.sign("x", "y"));
        assert!(SiteKey::load(Some(&Secret::new("short")), dir.path()).is_err());
    }
}
