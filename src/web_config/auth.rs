//! `basic_auth_users`: HTTP basic authentication against bcrypt hashes.
//!
//! A bcrypt check costs tens of milliseconds of CPU by design, so (as exporter-toolkit does)
//! checks run one at a time, and successful (user, password) pairs are remembered so a
//! scraper sending the same credentials every 15 s pays for bcrypt once. Unknown users are
//! checked against a dummy hash of the same cost, so the answer's timing does not tell
//! whether a user exists.
//!
//! The checks run on a thread of their own, behind a queue of [`MAX_WAITING_CHECKS`]: a flood
//! of wrong passwords costs one core at most, never the blocking threads that scrapes and
//! pushes run on, and a check that finds the queue full is refused at once ([`Verdict::Busy`],
//! answered 429) instead of waiting behind thousands of others.

use std::collections::{BTreeMap, HashSet};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use base64::Engine;
use tokio::sync::oneshot;

/// At most this many remembered successful logins; one is dropped to make room.
const CACHE_CAPACITY: usize = 100;

/// Checks that may wait for the bcrypt thread; one more is refused with 429.
pub const MAX_WAITING_CHECKS: usize = 8;

/// The configured users, the memory of successful checks, and the bcrypt thread's queue.
pub struct BasicAuth {
    users: Arc<Users>,
    queue: SyncSender<Check>,
}

/// What the bcrypt thread needs.
struct Users {
    /// User name to bcrypt hash.
    hashes: BTreeMap<String, String>,
    /// A hash of a password nobody knows, at the users' highest cost.
    dummy_hash: String,
    /// Successful (user, password) pairs.
    verified: Mutex<HashSet<(String, Vec<u8>)>>,
}

/// One check waiting for the bcrypt thread, and where its answer goes.
struct Check {
    credentials: Credentials,
    answer: oneshot::Sender<bool>,
}

/// The outcome of [`BasicAuth::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Valid,
    Invalid,
    /// Too many checks are waiting for bcrypt: try again later (429).
    Busy,
}

impl std::fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Hashes and passwords stay out of logs.
        f.debug_struct("BasicAuth")
            .field("users", &self.users.hashes.len())
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
    /// Checks every hash's format, prepares the dummy hash and starts the bcrypt thread;
    /// `None` with no users.
    pub fn new(hashes: BTreeMap<String, String>) -> Result<Option<BasicAuth>, String> {
        if hashes.is_empty() {
            return Ok(None);
        }
        let mut cost = 0;
        for (user, hash) in &hashes {
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
        let users = Arc::new(Users {
            hashes,
            dummy_hash,
            verified: Mutex::new(HashSet::new()),
        });
        let (queue, checks) = sync_channel::<Check>(MAX_WAITING_CHECKS);
        let checker = users.clone();
        // Ends when the last sender, this BasicAuth's queue, is dropped.
        std::thread::Builder::new()
            .name("bcrypt".into())
            .spawn(move || {
                for check in checks {
                    let _ = check.answer.send(checker.verify(&check.credentials));
                }
            })
            .map_err(|e| format!("basic_auth_users: cannot start the bcrypt thread: {e}"))?;
        Ok(Some(BasicAuth { users, queue }))
    }

    /// Number of configured users.
    pub fn user_count(&self) -> usize {
        self.users.hashes.len()
    }

    /// Checks credentials: at once when remembered, else on the bcrypt thread, or
    /// [`Verdict::Busy`] when [`MAX_WAITING_CHECKS`] checks are already waiting.
    pub async fn check(&self, credentials: Credentials) -> Verdict {
        if self.users.remembered(&credentials) {
            return Verdict::Valid;
        }
        let (answer, verdict) = oneshot::channel();
        match self.queue.try_send(Check {
            credentials,
            answer,
        }) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Verdict::Busy,
            Err(TrySendError::Disconnected(_)) => return Verdict::Invalid,
        }
        match verdict.await {
            Ok(true) => Verdict::Valid,
            _ => Verdict::Invalid,
        }
    }
}

impl Users {
    /// True if these credentials were verified before (no bcrypt needed).
    fn remembered(&self, c: &Credentials) -> bool {
        let Ok(user) = std::str::from_utf8(&c.user) else {
            return false;
        };
        self.verified
            .lock()
            .map(|set| set.contains(&(user.to_string(), c.password.clone())))
            .unwrap_or(false)
    }

    /// Verifies credentials with bcrypt (slow, blocking: the bcrypt thread's work).
    fn verify(&self, c: &Credentials) -> bool {
        if self.remembered(c) {
            return true;
        }
        let user = std::str::from_utf8(&c.user).ok();
        let known = user.and_then(|u| self.hashes.get(u));
        let hash = known.unwrap_or(&self.dummy_hash);
        let matches = bcrypt::verify(&c.password, hash).unwrap_or(false);
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
        assert!(!a.users.remembered(&creds("alice", "s3cret")));
        assert!(a.users.verify(&creds("alice", "s3cret")));
        assert!(a.users.remembered(&creds("alice", "s3cret")));
    }

    #[test]
    fn wrong_passwords_and_unknown_users_fail_and_are_not_remembered() {
        let a = auth();
        assert!(!a.users.verify(&creds("alice", "wrong")));
        assert!(!a.users.verify(&creds("bob", "s3cret")));
        assert!(!a.users.remembered(&creds("alice", "wrong")));
        // The dummy hash's own password does not log in an unknown user.
        assert!(!a.users.verify(&creds("bob", "no user has this password")));
    }

    #[test]
    fn the_dummy_hash_has_the_users_cost() {
        let a = auth();
        let dummy: bcrypt::HashParts = a.users.dummy_hash.parse().unwrap();
        assert_eq!(dummy.get_cost(), 4);
    }

    #[test]
    fn htpasswd_style_2y_hashes_are_accepted() {
        let hash = bcrypt::hash("pw", 4).unwrap().replacen("$2b$", "$2y$", 1);
        let a = BasicAuth::new(BTreeMap::from([("u".to_string(), hash)]))
            .unwrap()
            .unwrap();
        assert!(a.users.verify(&creds("u", "pw")));
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

    #[actix_web::test]
    async fn checks_run_on_the_bcrypt_thread_and_a_full_queue_is_busy() {
        let a = auth();
        assert_eq!(a.check(creds("alice", "s3cret")).await, Verdict::Valid);
        assert_eq!(a.check(creds("alice", "wrong")).await, Verdict::Invalid);
        // Many at once: some wait, the ones past the queue are refused at once.
        let checks: Vec<_> = (0..64)
            .map(|i| a.check(creds("alice", &format!("w{i}"))))
            .collect();
        let verdicts = futures_util::future::join_all(checks).await;
        assert!(verdicts.contains(&Verdict::Busy), "{verdicts:?}");
        assert!(verdicts.contains(&Verdict::Invalid), "{verdicts:?}");
        assert!(!verdicts.contains(&Verdict::Valid));
        // A remembered login never waits for the queue.
        assert_eq!(a.check(creds("alice", "s3cret")).await, Verdict::Valid);
    }
}
