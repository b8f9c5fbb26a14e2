//! `pushgateway healthcheck`: asks a running gateway whether it is healthy, for container
//! health checks in images that have no shell and no curl.
//!
//! The probe takes the server's own flags (`--web.listen-address`, `--web.route-prefix`,
//! `--web.external-url`, `--web.config.file`, before or after the subcommand), so a health
//! check repeats the server's command line: it sends one `GET <prefix>/-/healthy` (or
//! `/-/ready` with `--ready`) to the port of the first listen address, on loopback when the
//! gateway listens on every interface. It speaks TLS when the web config file turns TLS on and
//! sends basic-auth credentials when the file lists users: the file only holds bcrypt hashes,
//! so the password comes from `--password-file` (or `PUSHGATEWAY_HEALTHCHECK_PASSWORD`), for
//! `--user` or else the file's only user. Exit status 0 on `200`, 1 with a one-line reason on
//! anything else; connecting, the handshake and the answer together are bounded by `--timeout`.
//!
//! HTTP/1.1 by hand over a `std::net::TcpStream` (and rustls, already used by the server) is
//! enough for one request whose status line is all that matters.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};

use crate::cli::{Cli, HealthcheckArgs};
use crate::config::Config;
use crate::duration::parse_go_duration;
use crate::web_config::file::{self, WebConfigFile};

/// Where the password comes from when `--password-file` is not given.
pub const PASSWORD_ENV: &str = "PUSHGATEWAY_HEALTHCHECK_PASSWORD";

/// The most of an answer read: the status line and the start of the body are all we use.
const MAX_ANSWER_BYTES: usize = 16 * 1024;

/// Runs the subcommand: `0` when the gateway answered `200`, `1` with a reason on stderr.
pub fn main(cli: &Cli, args: &HealthcheckArgs) -> ExitCode {
    let env_password = std::env::var(PASSWORD_ENV).ok();
    let outcome = Probe::from_flags(cli, args, env_password).and_then(|probe| probe.run());
    match outcome {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(reason) => {
            eprintln!("pushgateway healthcheck: {reason}");
            ExitCode::FAILURE
        }
    }
}

/// One prepared request: where to send it, and how.
#[derive(Debug)]
pub struct Probe {
    /// Tried in order until one accepts the connection.
    candidates: Vec<SocketAddr>,
    path: String,
    tls: Option<Arc<ClientConfig>>,
    /// `Basic …`, when credentials are needed or given.
    authorization: Option<String>,
    timeout: Duration,
}

impl Probe {
    /// Resolves the flags the way the server does and reads the web config file for TLS,
    /// client-certificate and basic-auth requirements. `env_password` is
    /// `PUSHGATEWAY_HEALTHCHECK_PASSWORD`, if set.
    pub fn from_flags(
        cli: &Cli,
        args: &HealthcheckArgs,
        env_password: Option<String>,
    ) -> Result<Probe, String> {
        let timeout = parse_go_duration(&args.timeout)
            .filter(|d| !d.is_zero())
            .ok_or_else(|| format!("--timeout: invalid duration {:?}", args.timeout))?;
        let config = Config::try_from(cli.clone()).map_err(|e| e.to_string())?;
        let listen = *config
            .listen
            .first()
            .ok_or("no --web.listen-address to probe")?;
        let web = match &config.web_config_file {
            Some(path) => file::read(path)
                .map_err(|e| format!("--web.config.file {}: {e}", path.display()))?,
            None => WebConfigFile::default(),
        };
        let tls = match &web.tls_server_config {
            Some(section) if section.is_enabled() => {
                let client_cert = match (&args.client_cert_file, &args.client_key_file) {
                    (Some(cert), Some(key)) => Some(load_client_identity(cert, key)?),
                    _ if requires_client_cert(&section.client_auth_type) => {
                        return Err(format!(
                            "the web config file requires client certificates \
                             (client_auth_type {}): pass --client-cert-file and --client-key-file",
                            section.client_auth_type
                        ))
                    }
                    _ => None,
                };
                Some(client_config(client_cert)?)
            }
            _ => None,
        };
        let users = web.basic_auth_users.unwrap_or_default();
        let password_file = match &args.password_file {
            Some(path) => Some(read_password_file(path)?),
            None => None,
        };
        let authorization =
            credentials(&users, args.user.as_deref(), password_file.or(env_password))?
                .map(|(user, password)| basic_authorization(&user, &password));
        let endpoint = if args.ready { "/-/ready" } else { "/-/healthy" };
        Ok(Probe {
            candidates: probe_addresses(listen),
            path: format!("{}{endpoint}", config.route_prefix),
            tls,
            authorization,
            timeout,
        })
    }

    /// Sends the request; `Ok` with a one-line summary when the answer is `200`.
    pub fn run(&self) -> Result<String, String> {
        let deadline = Instant::now() + self.timeout;
        let mut first_error = None;
        for addr in &self.candidates {
            let url = self.url(*addr);
            // Nothing listens there, or the address family is off (an IPv6 wildcard in a
            // container without IPv6): the next candidate may be the one.
            let tcp = match remaining(deadline)
                .and_then(|left| TcpStream::connect_timeout(addr, left))
            {
                Ok(tcp) => tcp,
                Err(e) => {
                    first_error.get_or_insert(format!("{url}: {}", io_reason(&e, self.timeout)));
                    continue;
                }
            };
            let answer = self
                .exchange(tcp, *addr, deadline)
                .map_err(|e| format!("{url}: {}", io_reason(&e, self.timeout)))?;
            let status = status_line(&answer)
                .ok_or_else(|| format!("{url}: {}", not_http(&answer, self.tls.is_some())))?;
            return if status.code == 200 {
                Ok(format!("{url}: {}", status.text))
            } else {
                Err(format!("{url}: {}", describe_refusal(&status, &answer)))
            };
        }
        Err(first_error.unwrap_or_else(|| "no address to probe".to_string()))
    }

    fn url(&self, addr: SocketAddr) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{addr}{}", self.path)
    }

    fn request(&self, addr: SocketAddr) -> String {
        let auth = self
            .authorization
            .as_ref()
            .map(|a| format!("Authorization: {a}\r\n"))
            .unwrap_or_default();
        format!(
            "GET {} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: pushgateway-healthcheck/{}\r\n\
             {auth}Connection: close\r\n\r\n",
            self.path,
            env!("CARGO_PKG_VERSION"),
        )
    }

    /// Sends the request on the connection and reads the answer (up to
    /// [`MAX_ANSWER_BYTES`]).
    fn exchange(
        &self,
        tcp: TcpStream,
        addr: SocketAddr,
        deadline: Instant,
    ) -> std::io::Result<Vec<u8>> {
        let request = self.request(addr);
        match &self.tls {
            None => talk(tcp, request.as_bytes(), deadline, |s| s),
            Some(config) => {
                let name = ServerName::IpAddress(addr.ip().into());
                let conn = rustls::ClientConnection::new(config.clone(), name)
                    .map_err(std::io::Error::other)?;
                let stream = rustls::StreamOwned::new(conn, tcp);
                talk(stream, request.as_bytes(), deadline, |s| &s.sock)
            }
        }
    }
}

/// Writes the request and reads until the server closes, the answer is long enough, or the
/// deadline passes. `tcp` reaches the socket under `stream` to keep its timeouts current.
fn talk<S: Read + Write>(
    mut stream: S,
    request: &[u8],
    deadline: Instant,
    tcp: impl Fn(&S) -> &TcpStream,
) -> std::io::Result<Vec<u8>> {
    let refresh = |s: &S| -> std::io::Result<()> {
        let left = remaining(deadline)?;
        tcp(s).set_read_timeout(Some(left))?;
        tcp(s).set_write_timeout(Some(left))
    };
    refresh(&stream)?;
    stream.write_all(request)?;
    stream.flush()?;
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while answer.len() < MAX_ANSWER_BYTES {
        refresh(&stream)?;
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            // The gateway may close without a TLS close_notify once the answer is out.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !answer.is_empty() => break,
            Err(e) => return Err(e),
        }
    }
    Ok(answer)
}

fn remaining(deadline: Instant) -> std::io::Result<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        Err(std::io::ErrorKind::TimedOut.into())
    } else {
        Ok(left)
    }
}

/// A socket error as a short reason; timeouts name the limit.
fn io_reason(e: &std::io::Error, timeout: Duration) -> String {
    match e.kind() {
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => format!(
            "no answer within {}",
            crate::duration::format_go_duration(timeout)
        ),
        _ => e.to_string(),
    }
}

/// Where to connect for a listen address: an unspecified address (`:9091`, `0.0.0.0`, `[::]`)
/// is reached on loopback, an IPv6 wildcard first over `::1` and then over `127.0.0.1` (the
/// socket may or may not be dual-stack); a specific address is reached as it is.
pub fn probe_addresses(listen: SocketAddr) -> Vec<SocketAddr> {
    let port = listen.port();
    match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            vec![SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port)]
        }
        IpAddr::V6(ip) if ip.is_unspecified() => vec![
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), port),
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port),
        ],
        _ => vec![listen],
    }
}

/// exporter-toolkit's client-auth modes that refuse a client without a certificate.
fn requires_client_cert(client_auth_type: &str) -> bool {
    matches!(
        client_auth_type,
        "RequireAnyClientCert" | "RequireClientCert" | "RequireAndVerifyClientCert"
    )
}

/// The credentials to send: none when the file lists no users and none were given; else the
/// user (given, or the file's only one) and the password, which must be given.
pub fn credentials(
    users: &BTreeMap<String, String>,
    user: Option<&str>,
    password: Option<String>,
) -> Result<Option<(String, String)>, String> {
    let user = match user {
        Some(user) => {
            if !users.is_empty() && !users.contains_key(user) {
                return Err(format!(
                    "--user {user:?} is not one of the web config file's basic_auth_users"
                ));
            }
            user.to_string()
        }
        None if users.is_empty() => return Ok(None),
        None if users.len() == 1 => users.keys().next().cloned().unwrap_or_default(),
        None => {
            return Err(format!(
                "the web config file lists {} basic_auth_users: pass --user",
                users.len()
            ))
        }
    };
    match password {
        Some(password) => Ok(Some((user, password))),
        None if users.is_empty() => Err(format!(
            "--user {user:?} needs a password: pass --password-file or set {PASSWORD_ENV}"
        )),
        None => Err(format!(
            "the web config file requires basic auth: pass --password-file or set {PASSWORD_ENV} \
             (the password of {user:?})"
        )),
    }
}

fn basic_authorization(user: &str, password: &str) -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {token}")
}

/// The file's content without the final line break editors and `echo` add.
fn read_password_file(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("--password-file {}: {e}", path.display()))?;
    let password = text
        .strip_suffix('\n')
        .map(|p| p.strip_suffix('\r').unwrap_or(p))
        .unwrap_or(&text);
    Ok(password.to_string())
}

type Identity = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

fn load_client_identity(cert: &Path, key: &Path) -> Result<Identity, String> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("--client-cert-file {}: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!(
            "--client-cert-file {}: no certificate",
            cert.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("--client-key-file {}: {e}", key.display()))?;
    Ok((chain, key))
}

fn client_config(identity: Option<Identity>) -> Result<Arc<ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyServerCertificate(provider)));
    let config = match identity {
        Some((chain, key)) => builder
            .with_client_auth_cert(chain, key)
            .map_err(|e| format!("--client-cert-file: {e}"))?,
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// Accepts the gateway's certificate without checking who issued it or which names it holds.
///
/// The probe connects only to an address the gateway itself listens on (loopback for a
/// wildcard listen address), inside the same host or container, to the gateway's own
/// certificate, which need not name `127.0.0.1` nor chain to a CA the probe could know. A peer
/// able to answer on that address already runs beside the gateway, so verification would
/// protect nothing there. The handshake's signatures are still checked, so the peer holds the
/// key of the certificate it shows.
#[derive(Debug)]
struct AnyServerCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyServerCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// An answer's status line.
#[derive(Debug, PartialEq, Eq)]
struct Status {
    code: u16,
    /// `200 OK`: the code and its reason phrase.
    text: String,
}

fn status_line(answer: &[u8]) -> Option<Status> {
    let line = answer.split(|b| *b == b'\n').next()?;
    let line = String::from_utf8_lossy(line);
    let mut parts = line.trim_end_matches('\r').splitn(2, ' ');
    if !parts.next()?.starts_with("HTTP/1.") {
        return None;
    }
    let text = parts.next()?.trim().to_string();
    let code = text.split(' ').next()?.parse().ok()?;
    Some(Status { code, text })
}

/// Why an answer without a status line came, when it can be told.
fn not_http(answer: &[u8], tls: bool) -> &'static str {
    // A TLS record (alert or handshake, version 3.x) in answer to plain text.
    if !tls && answer.len() >= 3 && matches!(answer[0], 0x15 | 0x16) && answer[1] == 3 {
        "the gateway answers in TLS: pass the gateway's --web.config.file"
    } else if answer.is_empty() {
        "the connection closed without an answer"
    } else {
        "not an HTTP answer"
    }
}

/// What a non-200 answer means, with the first line of its body (the gateway's reason).
fn describe_refusal(status: &Status, answer: &[u8]) -> String {
    let text = String::from_utf8_lossy(answer);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.lines().next().unwrap_or("").trim())
        .unwrap_or("");
    let body: String = body.chars().take(200).collect();
    let hint = match status.code {
        401 => " (basic auth: wrong user or password)",
        503 => " (still loading the database)",
        _ => "",
    };
    if body.is_empty() || status.text.ends_with(body.as_str()) {
        format!("{}{hint}", status.text)
    } else {
        format!("{}{hint}: {body}", status.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn users(names: &[&str]) -> BTreeMap<String, String> {
        names
            .iter()
            .map(|n| (n.to_string(), "$2y$10$hash".to_string()))
            .collect()
    }

    #[test]
    fn a_wildcard_listen_address_is_probed_on_loopback() {
        assert_eq!(
            probe_addresses("0.0.0.0:9091".parse().unwrap()),
            vec!["127.0.0.1:9091".parse().unwrap()]
        );
        assert_eq!(
            probe_addresses("[::]:9092".parse().unwrap()),
            vec![
                "[::1]:9092".parse().unwrap(),
                "127.0.0.1:9092".parse().unwrap()
            ]
        );
        assert_eq!(
            probe_addresses("10.1.2.3:9091".parse().unwrap()),
            vec!["10.1.2.3:9091".parse().unwrap()]
        );
    }

    #[test]
    fn without_users_no_credentials_are_needed() {
        assert_eq!(credentials(&users(&[]), None, None), Ok(None));
        assert_eq!(
            credentials(&users(&[]), Some("bob"), Some("pw".into())),
            Ok(Some(("bob".into(), "pw".into())))
        );
        let e = credentials(&users(&[]), Some("bob"), None).unwrap_err();
        assert!(e.starts_with("--user \"bob\" needs a password"), "{e}");
    }

    #[test]
    fn the_only_user_is_the_default_user() {
        assert_eq!(
            credentials(&users(&["prometheus"]), None, Some("s3cret".into())),
            Ok(Some(("prometheus".into(), "s3cret".into())))
        );
    }

    #[test]
    fn several_users_need_a_choice_and_a_known_name() {
        let two = users(&["alice", "bob"]);
        let e = credentials(&two, None, Some("pw".into())).unwrap_err();
        assert!(e.contains("pass --user"), "{e}");
        let e = credentials(&two, Some("carol"), Some("pw".into())).unwrap_err();
        assert!(e.contains("\"carol\""), "{e}");
        assert_eq!(
            credentials(&two, Some("bob"), Some("pw".into())),
            Ok(Some(("bob".into(), "pw".into())))
        );
    }

    #[test]
    fn a_missing_password_names_both_sources() {
        let e = credentials(&users(&["alice"]), None, None).unwrap_err();
        assert!(e.contains("--password-file"), "{e}");
        assert!(e.contains(PASSWORD_ENV), "{e}");
    }

    #[test]
    fn a_password_file_loses_only_its_final_line_break() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        for (content, expected) in [
            ("s3cret\n", "s3cret"),
            ("s3cret\r\n", "s3cret"),
            ("s3cret", "s3cret"),
            (" spaced out \n\n", " spaced out \n"),
        ] {
            std::fs::write(&path, content).unwrap();
            assert_eq!(read_password_file(&path).unwrap(), expected, "{content:?}");
        }
        let e = read_password_file(&dir.path().join("absent")).unwrap_err();
        assert!(e.starts_with("--password-file "), "{e}");
    }

    #[test]
    fn basic_authorization_is_base64_of_user_colon_password() {
        assert_eq!(
            basic_authorization("Aladdin", "open sesame"),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
    }

    #[test]
    fn status_lines_are_parsed_and_anything_else_is_not_http() {
        assert_eq!(
            status_line(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nOK"),
            Some(Status {
                code: 200,
                text: "200 OK".into()
            })
        );
        assert_eq!(
            status_line(b"HTTP/1.0 503 Service Unavailable\r\n\r\n").map(|s| s.code),
            Some(503)
        );
        assert_eq!(status_line(b"\x15\x03\x03\x00\x02\x02\x46"), None);
        assert_eq!(status_line(b""), None);
        assert!(not_http(b"\x15\x03\x03\x00\x02\x02\x46", false).contains("TLS"));
        assert!(not_http(b"", true).contains("without an answer"));
    }

    #[test]
    fn a_refusal_carries_the_gateway_reason() {
        let answer = b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 30\r\n\r\n\
                       database not writable: disk I/O error\n";
        let status = status_line(answer).unwrap();
        assert_eq!(
            describe_refusal(&status, answer),
            "500 Internal Server Error: database not writable: disk I/O error"
        );
        let answer = b"HTTP/1.1 401 Unauthorized\r\nwww-authenticate: Basic\r\n\r\nUnauthorized\n";
        let status = status_line(answer).unwrap();
        assert_eq!(
            describe_refusal(&status, answer),
            "401 Unauthorized (basic auth: wrong user or password)"
        );
    }

    fn probe_for(argv: &[&str]) -> Result<Probe, String> {
        let cli = Cli::try_parse_from(argv).expect("flags parse");
        let Some(crate::cli::Command::Healthcheck(args)) = &cli.command else {
            panic!("no healthcheck subcommand in {argv:?}");
        };
        Probe::from_flags(&cli, args, None)
    }

    #[test]
    fn the_request_follows_the_route_prefix_and_the_listen_port() {
        let probe = probe_for(&[
            "pushgateway",
            "--web.listen-address=:9191",
            "healthcheck",
            "--web.route-prefix=/pg/",
            "--ready",
        ])
        .unwrap();
        assert_eq!(probe.candidates, vec!["127.0.0.1:9191".parse().unwrap()]);
        assert_eq!(probe.path, "/pg/-/ready");
        assert!(probe.tls.is_none());
        assert!(probe.authorization.is_none());
        let probe = probe_for(&[
            "pushgateway",
            "healthcheck",
            "--web.external-url=http://example.com/ext",
        ])
        .unwrap();
        assert_eq!(probe.path, "/ext/-/healthy");
        assert_eq!(probe.candidates, vec!["127.0.0.1:9091".parse().unwrap()]);
        assert_eq!(probe.timeout, Duration::from_secs(3));
    }

    #[test]
    fn the_web_config_file_decides_tls_and_credentials() {
        let dir = tempfile::tempdir().unwrap();
        let web = dir.path().join("web.yml");
        std::fs::write(
            &web,
            "tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n\
             basic_auth_users:\n  prometheus: $2y$10$hash\n",
        )
        .unwrap();
        let pw = dir.path().join("pw");
        std::fs::write(&pw, "s3cret\n").unwrap();
        let web_flag = format!("--web.config.file={}", web.display());
        let pw_flag = format!("--password-file={}", pw.display());
        let probe = probe_for(&["pushgateway", &web_flag, "healthcheck", &pw_flag]).unwrap();
        assert!(probe.tls.is_some());
        assert_eq!(
            probe.authorization.as_deref(),
            Some(basic_authorization("prometheus", "s3cret").as_str())
        );
        assert!(probe.request(probe.candidates[0]).contains(&format!(
            "\r\nAuthorization: {}\r\n",
            basic_authorization("prometheus", "s3cret")
        )));

        let e = probe_for(&["pushgateway", "healthcheck", &web_flag]).unwrap_err();
        assert!(e.contains("requires basic auth"), "{e}");
    }

    #[test]
    fn required_client_certificates_need_the_client_flags() {
        let dir = tempfile::tempdir().unwrap();
        let web = dir.path().join("web.yml");
        std::fs::write(
            &web,
            "tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n  \
             client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n",
        )
        .unwrap();
        let web_flag = format!("--web.config.file={}", web.display());
        let e = probe_for(&["pushgateway", "healthcheck", &web_flag]).unwrap_err();
        assert!(e.contains("--client-cert-file"), "{e}");
    }

    #[test]
    fn a_bad_timeout_or_web_config_is_an_error() {
        let e = probe_for(&["pushgateway", "healthcheck", "--timeout=soon"]).unwrap_err();
        assert!(e.contains("--timeout"), "{e}");
        let e = probe_for(&[
            "pushgateway",
            "healthcheck",
            "--web.config.file=/nonexistent/web.yml",
        ])
        .unwrap_err();
        assert!(e.contains("cannot read"), "{e}");
    }

    #[test]
    fn nothing_listening_is_a_one_line_failure() {
        // A port that was free a moment ago.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("--web.listen-address=127.0.0.1:{port}");
        let e = probe_for(&["pushgateway", "healthcheck", &addr])
            .unwrap()
            .run()
            .unwrap_err();
        assert!(
            e.contains(&format!("http://127.0.0.1:{port}/-/healthy")),
            "{e}"
        );
        assert!(!e.contains('\n'), "{e}");
    }

    #[test]
    fn a_silent_server_is_given_up_on_at_the_timeout() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = format!("--web.listen-address={}", listener.local_addr().unwrap());
        let started = Instant::now();
        let e = probe_for(&["pushgateway", "healthcheck", &addr, "--timeout=300ms"])
            .unwrap()
            .run()
            .unwrap_err();
        assert!(e.contains("no answer within 300ms"), "{e}");
        assert!(started.elapsed() < Duration::from_secs(2), "{e}");
        drop(listener);
    }
}
