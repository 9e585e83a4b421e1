//! Password hashing with argon2id. Callers run these on the blocking pool:
//! one hash takes tens of milliseconds on purpose.
use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};

/// The cost every new hash gets: 19 MiB, 2 passes, 1 lane (OWASP's
/// minimum for argon2id). Hashes made with less are upgraded at sign-in.
pub const MEMORY_KIB: u32 = 19_456;
pub const PASSES: u32 = 2;
pub const LANES: u32 = 1;

#[derive(Debug, thiserror::Error)]
#[error("cannot hash the password: {0}")]
pub struct HashError(String);

fn hasher(memory_kib: u32, passes: u32, lanes: u32) -> Result<Argon2<'static>, HashError> {
    let params =
        Params::new(memory_kib, passes, lanes, None).map_err(|e| HashError(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// A PHC string (`$argon2id$v=19$m=...`) with a fresh random salt.
pub fn hash(password: &str) -> Result<String, HashError> {
    hash_with(password, MEMORY_KIB, PASSES, LANES)
}

/// A hash with chosen costs (tests use weaker ones to check upgrades).
pub fn hash_with(
    password: &str,
    memory_kib: u32,
    passes: u32,
    lanes: u32,
) -> Result<String, HashError> {
    hasher(memory_kib, passes, lanes)?
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// What checking a password found.
#[derive(Debug, PartialEq, Eq)]
pub enum Verified {
    No,
    Yes,
    /// Right, but hashed with less than today's cost: store a new hash.
    YesRehash,
}

/// Checks `password` against a stored PHC string. A string that cannot be
/// parsed never matches.
pub fn verify(password: &str, stored: &str) -> Verified {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return Verified::No;
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return Verified::No;
    };
    let Ok(argon) = hasher(params.m_cost(), params.t_cost(), params.p_cost()) else {
        return Verified::No;
    };
    if argon.verify_password(password.as_bytes(), &parsed).is_err() {
        return Verified::No;
    }
    let weaker = params.m_cost() < MEMORY_KIB
        || params.t_cost() < PASSES
        || params.p_cost() < LANES
        || parsed.algorithm.as_str() != "argon2id";
    if weaker {
        Verified::YesRehash
    } else {
        Verified::Yes
    }
}

/// Spends the same time as a real check, for an account that does not
/// exist, so a wrong email and a wrong password cannot be told apart.
pub fn verify_dummy(password: &str) {
    static DUMMY: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    if let Some(stored) = DUMMY.get_or_init(|| hash("not a real account password").ok()) {
        let _ = verify(password, stored);
    }
}

/// The cost parameters inside a stored hash: (memory KiB, passes, lanes).
pub fn cost_of(stored: &str) -> Option<(u32, u32, u32)> {
    let parsed = PasswordHash::new(stored).ok()?;
    let params = Params::try_from(&parsed).ok()?;
    Some((params.m_cost(), params.t_cost(), params.p_cost()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_weak_ones_ask_for_a_rehash() {
        let strong = hash("tide lantern orchard").unwrap();
        assert!(strong.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert_eq!(verify("tide lantern orchard", &strong), Verified::Yes);
        assert_eq!(verify("tide lantern orchid", &strong), Verified::No);
        let weak = hash_with("tide lantern orchard", 8192, 1, 1).unwrap();
        assert_eq!(verify("tide lantern orchard", &weak), Verified::YesRehash);
        assert_eq!(verify("x", "not a hash"), Verified::No);
        assert_eq!(cost_of(&strong), Some((19456, 2, 1)));
    }
}
