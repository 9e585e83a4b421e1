//! OWASP's device cookie: a browser that has signed in before carries a
//! signed, long-lived cookie naming the account (by its keyed hash), so an
//! attacker's failures for the coach's email cannot lock the coach out.
use crate::keys::SiteKey;

/// Plain-http name; on https the cookie is Secure and `__Host-` prefixed.
pub const COOKIE: &str = "kintsugi_device";
pub const SECURE_COOKIE: &str = "__Host-kintsugi_device";
/// How long a browser stays trusted after a successful sign-in.
pub const VALID_SECONDS: i64 = 365 * 24 * 3600;
const PURPOSE: &str = "device-cookie";

pub fn cookie_name(https: bool) -> &'static str {
    if https {
        SECURE_COOKIE
    } else {
        COOKIE
    }
}

/// The cookie's value: `account.nonce.issued.signature`.
pub fn value(key: &SiteKey, account_key: &str, nonce: &str, issued_unix: i64) -> String {
    let message = format!("{account_key}.{nonce}.{issued_unix}");
    format!("{message}.{}", key.sign(PURPOSE, &message))
}

/// The device's own failure key when `value` is a genuine, unexpired
/// device cookie for `account_key`; None otherwise.
pub fn trusted_for(key: &SiteKey, value: &str, account_key: &str, now_unix: i64) -> Option<String> {
    let (message, signature) = value.rsplit_once('.')?;
    if !key.verify(PURPOSE, message, signature) {
        return None;
    }
    let mut parts = message.split('.');
    let (account, nonce, issued) = (parts.next()?, parts.next()?, parts.next()?);
    let issued: i64 = issued.parse().ok()?;
    if account != account_key || now_unix < issued || now_unix - issued > VALID_SECONDS {
        return None;
    }
    Some(key.sign("device-failures", nonce)[..32].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn key(secret: &str) -> SiteKey {
        SiteKey::from_secret(&Secret::new(secret.repeat(8))).unwrap()
    }

    #[test]
    fn only_a_genuine_unexpired_cookie_for_the_same_account_is_trusted() {
        let k = key("abcd");
        let v = value(&k, "acct1", "n0nce", 1000);
        let device = trusted_for(&k, &v, "acct1", 2000).expect("trusted");
        assert_eq!(device.len(), 32);
        // Another nonce is another device.
        let other = value(&k, "acct1", "other", 1000);
        assert_ne!(trusted_for(&k, &other, "acct1", 2000), Some(device));
        assert_eq!(trusted_for(&k, &v, "acct2", 2000), None);
        assert_eq!(trusted_for(&k, &v, "acct1", 1000 + VALID_SECONDS + 1), None);
        assert_eq!(trusted_for(&key("efgh"), &v, "acct1", 2000), None);
        let forged = v.replace("acct1", "acct2");
        assert_eq!(trusted_for(&k, &forged, "acct2", 2000), None);
        assert_eq!(trusted_for(&k, "garbage", "acct1", 2000), None);
    }
}
