//! `--web.config.file`: TLS, client certificates, extra response headers, a rate limit and
//! basic auth, configured in exporter-toolkit's file format so an existing file works as is.
//!
//! The file is read once at start-up; anything wrong with it (unreadable, bad YAML, an unknown
//! key, a certificate that does not load, a malformed hash) stops start-up with a one-line
//! reason. What it configures ends up in two places: a rustls server configuration for the
//! listeners ([`tls`]) and an [`HttpGuard`] that the [`guard`] middleware applies to every
//! route.

mod auth;
pub(crate) mod file;
mod guard;
mod headers;
mod tls;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub(crate) use guard::AuthenticatedUser;
pub use guard::{guard, HttpGuard};

use crate::duration::parse_go_duration;

/// The loaded configuration: TLS for the listeners, the guard for the routes.
#[derive(Debug, Default)]
pub struct WebConfig {
    /// `None`: plain HTTP.
    pub tls: Option<rustls::ServerConfig>,
    pub guard: HttpGuard,
}

/// The file cannot be used; the message says why, in one line, never quoting a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebConfigError {
    pub path: PathBuf,
    pub message: String,
}

impl std::fmt::Display for WebConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "--web.config.file {}: {}",
            self.path.display(),
            self.message
        )
    }
}

impl std::error::Error for WebConfigError {}

impl WebConfig {
    /// Plain HTTP, no authentication, no extra headers.
    pub fn none() -> WebConfig {
        WebConfig::default()
    }

    /// Reads, checks and prepares the file (certificates and keys are loaded now).
    pub fn load(path: &Path) -> Result<WebConfig, WebConfigError> {
        let error = |message: String| WebConfigError {
            path: path.to_path_buf(),
            message: file::one_line(&message),
        };
        let parsed = file::read(path).map_err(error)?;
        let http = parsed.http_server_config.unwrap_or_default();
        let headers = headers::validate(&http.headers.unwrap_or_default())
            .map_err(|e| error(format!("http_server_config.headers: {e}")))?;
        let http2 = http.http2.unwrap_or(true);
        let tls_section = parsed.tls_server_config.unwrap_or_default();
        let tls = tls::server_config(&tls_section, http2).map_err(error)?;
        let limiter = match parsed.rate_limit {
            Some(r) => rate_limiter(r.interval.as_deref(), r.burst.unwrap_or(0)).map_err(error)?,
            None => None,
        };
        let auth = auth::BasicAuth::new(parsed.basic_auth_users.unwrap_or_default())
            .map_err(error)?
            .map(Arc::new);

        log::info!(
            "web config {} loaded: TLS {}, {} basic-auth users, {} extra headers{}",
            path.display(),
            match &tls {
                Some(_) => format!(
                    "enabled (client_auth_type {}, http2 {http2})",
                    tls::client_auth_name(&tls_section)
                ),
                None => "disabled".to_string(),
            },
            auth.as_ref().map_or(0, |a| a.user_count()),
            headers.len(),
            if limiter.is_some() {
                ", rate limit on"
            } else {
                ""
            },
        );
        Ok(WebConfig {
            tls,
            guard: HttpGuard {
                headers,
                auth,
                limiter,
                ..HttpGuard::default()
            },
        })
    }
}

/// exporter-toolkit turns the limiter on only for a non-zero interval.
fn rate_limiter(interval: Option<&str>, burst: u64) -> Result<Option<guard::RateLimiter>, String> {
    let Some(text) = interval else {
        return Ok(None);
    };
    let interval = parse_go_duration(text)
        .ok_or_else(|| format!("rate_limit.interval: invalid duration {text:?}"))?;
    if interval.is_zero() {
        return Ok(None);
    }
    Ok(Some(guard::RateLimiter::new(interval, burst)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn load(text: &str) -> Result<WebConfig, WebConfigError> {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        WebConfig::load(f.path())
    }

    #[test]
    fn a_file_with_users_and_headers_loads() {
        let hash = bcrypt::hash("pw", 4).unwrap();
        let c = load(&format!(
            "basic_auth_users:\n  alice: {hash}\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\n"
        ))
        .unwrap();
        assert!(c.tls.is_none());
        assert!(c.guard.auth.is_some());
        assert_eq!(c.guard.headers.len(), 1);
    }

    #[test]
    fn errors_name_the_file_and_fit_on_one_line() {
        let e = load("tls_server_config:\n  bogus: 1\n").unwrap_err();
        let text = e.to_string();
        assert!(text.starts_with("--web.config.file "), "{text}");
        assert!(text.contains("bogus"), "{text}");
        assert!(!text.contains('\n'), "{text}");
    }

    #[test]
    fn an_unreadable_file_is_an_error() {
        let e = WebConfig::load(Path::new("/nonexistent/web.yml")).unwrap_err();
        assert!(e.message.contains("cannot read"), "{e}");
    }

    #[test]
    fn a_bad_header_is_an_error() {
        let e = load("http_server_config:\n  headers:\n    Server: x\n").unwrap_err();
        assert!(e.message.contains("Server"), "{e}");
    }

    #[test]
    fn a_rate_limit_needs_a_non_zero_interval() {
        assert!(load("rate_limit:\n  burst: 5\n")
            .unwrap()
            .guard
            .limiter
            .is_none());
        assert!(load("rate_limit:\n  burst: 5\n  interval: 1s\n")
            .unwrap()
            .guard
            .limiter
            .is_some());
        assert!(load("rate_limit:\n  interval: soon\n").is_err());
    }
}
