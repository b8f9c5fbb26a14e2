//! The web configuration file as written on disk, in exporter-toolkit's YAML format.
//!
//! Every key exporter-toolkit knows is declared here so that an existing file parses; unknown
//! keys are an error, as exporter-toolkit's strict unmarshalling makes them. Values are only
//! typed here; [`super::tls`], [`super::auth`] and [`super::headers`] give them meaning.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The whole file. Every section may be absent or empty.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebConfigFile {
    #[serde(default)]
    pub tls_server_config: Option<TlsSection>,
    #[serde(default)]
    pub http_server_config: Option<HttpSection>,
    #[serde(default)]
    pub rate_limit: Option<RateLimitSection>,
    /// User name to bcrypt hash.
    #[serde(default)]
    pub basic_auth_users: Option<BTreeMap<String, String>>,
}

/// `tls_server_config`. Empty strings mean "not set", as in exporter-toolkit.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSection {
    /// PEM certificate chain inline.
    #[serde(default)]
    pub cert: String,
    /// PEM private key inline.
    #[serde(default)]
    pub key: String,
    /// PEM client CA certificates inline.
    #[serde(default)]
    pub client_ca: String,
    #[serde(default)]
    pub cert_file: String,
    #[serde(default)]
    pub key_file: String,
    #[serde(default)]
    pub client_auth_type: String,
    #[serde(default)]
    pub client_ca_file: String,
    /// Go cipher-suite names (TLS 1.2 suites; TLS 1.3 ones are accepted and always on).
    #[serde(default)]
    pub cipher_suites: Vec<String>,
    /// Go curve names.
    #[serde(default)]
    pub curve_preferences: Vec<String>,
    #[serde(default)]
    pub min_version: Option<String>,
    #[serde(default)]
    pub max_version: Option<String>,
    #[serde(default)]
    pub prefer_server_cipher_suites: Option<bool>,
    #[serde(default)]
    pub client_allowed_sans: Option<Vec<String>>,
}

impl TlsSection {
    /// exporter-toolkit's rule: TLS is on as soon as any certificate or client-auth key is set.
    pub fn is_enabled(&self) -> bool {
        [
            &self.cert,
            &self.key,
            &self.client_ca,
            &self.cert_file,
            &self.key_file,
            &self.client_ca_file,
            &self.client_auth_type,
        ]
        .iter()
        .any(|s| !s.is_empty())
    }

    /// Relative file paths are relative to the configuration file's directory.
    pub fn resolve_paths(&mut self, dir: &Path) {
        for path in [
            &mut self.cert_file,
            &mut self.key_file,
            &mut self.client_ca_file,
        ] {
            if !path.is_empty() && Path::new(path.as_str()).is_relative() {
                *path = dir.join(path.as_str()).to_string_lossy().into_owned();
            }
        }
    }
}

/// `http_server_config`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSection {
    /// HTTP/2 over TLS; exporter-toolkit's default is on.
    #[serde(default)]
    pub http2: Option<bool>,
    /// Extra response headers, restricted to a few security headers.
    #[serde(default)]
    pub headers: Option<BTreeMap<String, String>>,
}

/// `rate_limit` (exporter-toolkit 0.11 and later).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSection {
    #[serde(default)]
    pub burst: Option<u64>,
    #[serde(default)]
    pub interval: Option<String>,
}

/// Reads and parses the file; relative paths in it are resolved against its directory.
pub fn read(path: &Path) -> Result<WebConfigFile, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    let mut file = parse(&text)?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    if let Some(tls) = &mut file.tls_server_config {
        tls.resolve_paths(&dir_or_dot(dir));
    }
    Ok(file)
}

fn dir_or_dot(dir: PathBuf) -> PathBuf {
    if dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        dir
    }
}

/// Parses YAML text; an empty document is an empty configuration.
pub fn parse(text: &str) -> Result<WebConfigFile, String> {
    if text
        .lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        return Ok(WebConfigFile::default());
    }
    serde_norway::from_str::<Option<WebConfigFile>>(text)
        .map(Option::unwrap_or_default)
        .map_err(|e| format!("invalid YAML: {}", one_line(&e.to_string())))
}

/// Error texts end up in a one-line start-up message.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exporter_toolkit_example_file_parses() {
        let f = parse(
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  \
             client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n  \
             min_version: TLS12\n  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]\n  \
             prefer_server_cipher_suites: true\n\
             http_server_config:\n  http2: true\n  headers:\n    X-Frame-Options: deny\n\
             basic_auth_users:\n  alice: $2y$10$abc\n",
        )
        .unwrap();
        let tls = f.tls_server_config.unwrap();
        assert_eq!(tls.cert_file, "server.crt");
        assert_eq!(tls.min_version.as_deref(), Some("TLS12"));
        assert_eq!(f.basic_auth_users.unwrap()["alice"], "$2y$10$abc");
        let http = f.http_server_config.unwrap();
        assert_eq!(http.headers.unwrap()["X-Frame-Options"], "deny");
    }

    #[test]
    fn unknown_keys_are_rejected_with_their_name() {
        let e = parse("tls_server_config:\n  certfile: x\n").unwrap_err();
        assert!(e.contains("certfile"), "{e}");
        let e = parse("basic_auth: {}\n").unwrap_err();
        assert!(e.contains("basic_auth"), "{e}");
    }

    #[test]
    fn empty_file_and_empty_sections_are_an_empty_configuration() {
        assert!(parse("").unwrap().tls_server_config.is_none());
        assert!(parse("# nothing\n").unwrap().basic_auth_users.is_none());
        let f = parse("tls_server_config:\nbasic_auth_users:\n").unwrap();
        assert!(f.tls_server_config.is_none());
    }

    #[test]
    fn relative_paths_resolve_against_the_file_directory() {
        let mut tls = TlsSection {
            cert_file: "server.crt".into(),
            key_file: "/abs/server.key".into(),
            ..TlsSection::default()
        };
        tls.resolve_paths(Path::new("/etc/pg"));
        assert_eq!(tls.cert_file, "/etc/pg/server.crt");
        assert_eq!(tls.key_file, "/abs/server.key");
        assert_eq!(tls.client_ca_file, "");
    }

    #[test]
    fn tls_is_enabled_by_any_certificate_or_client_auth_key() {
        assert!(!TlsSection::default().is_enabled());
        let tls = TlsSection {
            client_auth_type: "NoClientCert".into(),
            ..TlsSection::default()
        };
        assert!(tls.is_enabled());
    }
}
