//! `basic_auth_users`: HTTP basic authentication against bcrypt hashes.
//!
//! A bcrypt check costs tens of milliseconds of CPU by design, so (as exporter-toolkit does)
//! checks run one at a time, on a blocking thread, and successful (user, password) pairs are
//! remembered so a scraper sending the same credentials every 15 s pays for bcrypt once.
//! Unknown users are checked against a dummy hash of the same cost, so the answer's timing
//! does not tell whether a user exists.

use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;

use base64::Engine;

/// At most this many remembered successful logins; one is dropped to make room.
const CACHE_CAPACITY: usize = 100;

/// The configured users and the memory of successful checks.
pub struct BasicAuth {
    /// User name to bcrypt hash.
    users: BTreeMap<String, String>,
    /// A hash of a password nobody knows, at the users' highest cost.
    dummy_hash: String,
    /// Successful (user, password) pairs.
    verified: Mutex<HashSet<(String, Vec<u8>)>>,
    /// bcrypt is CPU-heavy by design: one check at a time.
    bcrypt_turn: Mutex<()>,
}

impl std::fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Hashes and passwords stay out of logs.
        f.debug_struct("BasicAuth")
            .field("users", &self.users.len())
            .finish_non_exhaustive()
    }
}

/// The user name and password of an `Authorization: Basic …` header.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: Vec<u8>,
    pub password: Vec<u8>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &String::from_utf8_lossy(&self.user))
            .finish_non_exhaustive()
    }
}

impl BasicAuth {
    /// Checks every hash's format and prepares the dummy hash; `None` with no users.
    pub fn new(users: BTreeMap<String, String>) -> Result<Option<BasicAuth>, String> {
        if users.is_empty() {
            return Ok(None);
        }
        let mut cost = 0;
        for (user, hash) in &users {
            // The parser's message may quote the hash: keep it out of the start-up line.
            let parts = hash.parse::<bcrypt::HashParts>().map_err(|_| {
                format!(
                    "basic_auth_users: the hash of user {user:?} is not a bcrypt hash \
                     ($2a$, $2b$ or $2y$, 60 characters)"
                )
            })?;
            cost = cost.max(parts.get_cost());
        }
        let dummy_hash = bcrypt::hash("no user has this password", cost)
            .map_err(|e| format!("basic_auth_users: cannot prepare bcrypt: {e}"))?;
        Ok(Some(BasicAuth {
            users,
            dummy_hash,
            verified: Mutex::new(HashSet::new()),
            bcrypt_turn: Mutex::new(()),
        }))
    }

    /// Number of configured users.
    pub fn user_count(&self) -> usize {
        self.users.len()
    }

    /// True if these credentials were verified before (no bcrypt needed).
    pub fn remembered(&self, c: &Credentials) -> bool {
        let Ok(user) = std::str::from_utf8(&c.user) else {
            return false;
        };
        self.verified
            .lock()
            .map(|set| set.contains(&(user.to_string(), c.password.clone())))
            .unwrap_or(false)
    }

    /// Verifies credentials with bcrypt. Blocking and slow: call it off the async threads.
    pub fn verify(&self, c: &Credentials) -> bool {
        if self.remembered(c) {
            return true;
        }
        let user = std::str::from_utf8(&c.user).ok();
        let known = user.and_then(|u| self.users.get(u));
        let hash = known.unwrap_or(&self.dummy_hash);
        let matches = {
            let _turn = self.bcrypt_turn.lock();
            bcrypt::verify(&c.password, hash).unwrap_or(false)
        };
        let ok = matches && known.is_some();
        if let (true, Some(user)) = (ok, user) {
            if let Ok(mut set) = self.verified.lock() {
                if set.len() >= CACHE_CAPACITY {
                    if let Some(victim) = set.iter().next().cloned() {
                        set.remove(&victim);
                    }
                }
                set.insert((user.to_string(), c.password.clone()));
            }
        }
        ok
    }
}

/// Go's `Request.BasicAuth`: scheme `Basic` (any case), standard base64, split at the first `:`.
pub fn parse_authorization(header: &[u8]) -> Option<Credentials> {
    let header = std::str::from_utf8(header).ok()?;
    let (scheme, encoded) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let colon = decoded.iter().position(|&b| b == b':')?;
    Some(Credentials {
        user: decoded[..colon].to_vec(),
        password: decoded[colon + 1..].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(user: &str, password: &str) -> Credentials {
        Credentials {
            user: user.as_bytes().to_vec(),
            password: password.as_bytes().to_vec(),
        }
    }

    fn auth() -> BasicAuth {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        BasicAuth::new(BTreeMap::from([("alice".to_string(), hash)]))
            .unwrap()
            .unwrap()
    }

    #[test]
    fn the_right_password_passes_and_is_remembered() {
        let a = auth();
        assert!(!a.remembered(&creds("alice", "s3cret")));
        assert!(a.verify(&creds("alice", "s3cret")));
        assert!(a.remembered(&creds("alice", "s3cret")));
    }

    #[test]
    fn wrong_passwords_and_unknown_users_fail_and_are_not_remembered() {
        let a = auth();
        assert!(!a.verify(&creds("alice", "wrong")));
        assert!(!a.verify(&creds("bob", "s3cret")));
        assert!(!a.remembered(&creds("alice", "wrong")));
        // The dummy hash's own password does not log in an unknown user.
        assert!(!a.verify(&creds("bob", "no user has this password")));
    }

    #[test]
    fn the_dummy_hash_has_the_users_cost() {
        let a = auth();
        let dummy: bcrypt::HashParts = a.dummy_hash.parse().unwrap();
        assert_eq!(dummy.get_cost(), 4);
    }

    #[test]
    fn htpasswd_style_2y_hashes_are_accepted() {
        let hash = bcrypt::hash("pw", 4).unwrap().replacen("$2b$", "$2y$", 1);
        let a = BasicAuth::new(BTreeMap::from([("u".to_string(), hash)]))
            .unwrap()
            .unwrap();
        assert!(a.verify(&creds("u", "pw")));
    }

    #[test]
    fn a_malformed_hash_is_an_error_naming_the_user() {
        let e = BasicAuth::new(BTreeMap::from([("carol".to_string(), "plain".to_string())]))
            .unwrap_err();
        assert!(e.contains("carol"), "{e}");
        assert!(!e.contains("plain"), "the hash is not echoed: {e}");
    }

    #[test]
    fn no_users_means_no_authentication() {
        assert!(BasicAuth::new(BTreeMap::new()).unwrap().is_none());
    }

    #[test]
    fn authorization_headers_parse_as_go_does() {
        // "user:pa:ss" — the password may contain colons.
        let c = parse_authorization(b"Basic dXNlcjpwYTpzcw==").unwrap();
        assert_eq!(c, creds("user", "pa:ss"));
        assert!(parse_authorization(b"basic dXNlcjpwYTpzcw==").is_some());
        assert!(parse_authorization(b"Bearer dXNlcjpwYTpzcw==").is_none());
        assert!(parse_authorization(b"Basic !!!").is_none());
        // No colon at all.
        assert!(parse_authorization(b"Basic dXNlcg==").is_none());
    }
}
