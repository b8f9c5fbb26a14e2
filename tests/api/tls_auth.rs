//! `--web.config.file`: TLS with certificates made in the test, client certificates, basic
//! auth on every route, extra headers, and broken files stopping start-up.
//!
//! The TLS client is rustls (already a dependency, with `ring`) over a `std::net::TcpStream`,
//! speaking HTTP/1.1 by hand: no extra TLS stack to build for the tests.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use crate::helpers::{raw_request, spawn_app, TestApp};

/// A CA, a server certificate for localhost/127.0.0.1 and a client certificate it signed.
pub(crate) struct Pki {
    pub(crate) ca: String,
    pub(crate) server_cert: String,
    pub(crate) server_key: String,
    pub(crate) client_cert: String,
    pub(crate) client_key: String,
}

pub(crate) fn make_pki(name: &str) -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, format!("{name} test CA"));
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();

    let server_key = KeyPair::generate().unwrap();
    let mut server_params =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_cert = server_params.signed_by(&server_key, &ca).unwrap();

    let client_key = KeyPair::generate().unwrap();
    let mut client_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    client_params
        .distinguished_name
        .push(DnType::CommonName, format!("{name} scraper"));
    client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_cert = client_params.signed_by(&client_key, &ca).unwrap();

    Pki {
        ca: ca.pem(),
        server_cert: server_cert.pem(),
        server_key: server_key.serialize_pem(),
        client_cert: client_cert.pem(),
        client_key: client_key.serialize_pem(),
    }
}

/// Writes the certificates and `web.yml` (which names them relative to its own directory).
pub(crate) fn write_config(dir: &Path, pki: &Pki, yaml: &str) -> PathBuf {
    std::fs::write(dir.join("ca.crt"), &pki.ca).unwrap();
    std::fs::write(dir.join("server.crt"), &pki.server_cert).unwrap();
    std::fs::write(dir.join("server.key"), &pki.server_key).unwrap();
    let path = dir.join("web.yml");
    std::fs::write(&path, yaml).unwrap();
    path
}

pub(crate) const TLS_ONLY: &str =
    "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n";

pub(crate) const TLS_CLIENT_CERTS: &str = "tls_server_config:\n  cert_file: server.crt\n  \
     key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n  \
     client_ca_file: ca.crt\n";

pub(crate) async fn spawn_with(config: &Path, extra: &[&str]) -> TestApp {
    let flag = format!("--web.config.file={}", config.display());
    let mut args = vec![flag.as_str()];
    args.extend_from_slice(extra);
    spawn_app(&args).await
}

/// Who the TLS client trusts and which certificate it shows.
pub(crate) struct Client {
    pub(crate) trusted_ca: String,
    pub(crate) identity: Option<(String, String)>,
}

/// One HTTP/1.1 request over TLS; the whole response, or why the connection failed.
async fn https(addr: SocketAddr, client: Client, request: String) -> Result<String, String> {
    actix_web::rt::task::spawn_blocking(move || https_blocking(addr, &client, &request))
        .await
        .expect("TLS client thread")
}

pub(crate) fn https_blocking(
    addr: SocketAddr,
    client: &Client,
    request: &str,
) -> Result<String, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(client.trusted_ca.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    let config = match &client.identity {
        Some((cert, key)) => builder
            .with_client_auth_cert(
                CertificateDer::pem_slice_iter(cert.as_bytes())
                    .collect::<Result<Vec<_>, _>>()
                    .unwrap(),
                PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    let name = ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let tcp = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    tls.write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    match tls.read_to_end(&mut response) {
        Ok(_) => {}
        // The server may close without a TLS close_notify once the answer is out.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !response.is_empty() => {}
        Err(e) => return Err(e.to_string()),
    }
    Ok(String::from_utf8_lossy(&response).into_owned())
}

pub(crate) fn get(path: &str, extra_headers: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{extra_headers}Connection: close\r\n\r\n")
}

pub(crate) fn basic(user: &str, password: &str) -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {token}")
}

#[actix_web::test]
async fn a_client_trusting_the_ca_gets_answers_over_tls_and_plain_http_gets_none() {
    let dir = tempfile::tempdir().unwrap();
    let pki = make_pki("main");
    let config = write_config(dir.path(), &pki, TLS_ONLY);
    let app = spawn_with(&config, &[]).await;

    let trusting = Client {
        trusted_ca: pki.ca.clone(),
        identity: None,
    };
    let r = https(app.addr, trusting, get("/-/healthy", ""))
        .await
        .expect("TLS request");
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    assert!(r.ends_with("OK"), "{r}");

    // A client trusting another CA refuses the server's certificate.
    let stranger = Client {
        trusted_ca: make_pki("other").ca,
        identity: None,
    };
    let e = https(app.addr, stranger, get("/-/healthy", "")).await;
    assert!(e.is_err(), "{e:?}");

    // Plain HTTP to the TLS port gets no HTTP answer.
    let (status, response) = raw_request(
        app.addr,
        "GET /-/healthy HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 0, "{response}");
    assert!(!response.starts_with("HTTP/"), "{response}");
}

#[actix_web::test]
async fn required_client_certificates_are_verified_against_the_client_ca() {
    let dir = tempfile::tempdir().unwrap();
    let pki = make_pki("main");
    let config = write_config(dir.path(), &pki, TLS_CLIENT_CERTS);
    let app = spawn_with(&config, &[]).await;

    let with_cert = Client {
        trusted_ca: pki.ca.clone(),
        identity: Some((pki.client_cert.clone(), pki.client_key.clone())),
    };
    let r = https(app.addr, with_cert, get("/metrics", ""))
        .await
        .expect("TLS request with a client certificate");
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");

    let without_cert = Client {
        trusted_ca: pki.ca.clone(),
        identity: None,
    };
    let e = https(app.addr, without_cert, get("/metrics", "")).await;
    assert!(e.is_err(), "served without a client certificate: {e:?}");

    // A certificate from a CA the server does not trust is refused too.
    let other = make_pki("other");
    let foreign_cert = Client {
        trusted_ca: pki.ca.clone(),
        identity: Some((other.client_cert, other.client_key)),
    };
    let e = https(app.addr, foreign_cert, get("/metrics", "")).await;
    assert!(
        e.is_err(),
        "served with a foreign client certificate: {e:?}"
    );
}

#[actix_web::test]
async fn require_any_client_cert_takes_any_certificate_but_needs_one() {
    let dir = tempfile::tempdir().unwrap();
    let pki = make_pki("main");
    let yaml = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  \
                client_auth_type: RequireAnyClientCert\n";
    let config = write_config(dir.path(), &pki, yaml);
    let app = spawn_with(&config, &[]).await;

    // Issued by a CA the server knows nothing about: accepted, as Go's mode does.
    let other = make_pki("other");
    let foreign_cert = Client {
        trusted_ca: pki.ca.clone(),
        identity: Some((other.client_cert, other.client_key)),
    };
    let r = https(app.addr, foreign_cert, get("/-/ready", ""))
        .await
        .expect("TLS request with any client certificate");
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");

    let without_cert = Client {
        trusted_ca: pki.ca.clone(),
        identity: None,
    };
    let e = https(app.addr, without_cert, get("/-/ready", "")).await;
    assert!(e.is_err(), "served without a client certificate: {e:?}");
}

const USERS_AND_HEADERS: &str = "http_server_config:\n  headers:\n    \
     X-Frame-Options: deny\n    Content-Security-Policy: \"default-src 'self'\"\n\
     basic_auth_users:\n  alice: ";

fn users_config(dir: &Path) -> PathBuf {
    let hash = bcrypt::hash("wonderland", 4).unwrap();
    let path = dir.join("web.yml");
    std::fs::write(&path, format!("{USERS_AND_HEADERS}{hash}\n")).unwrap();
    path
}

fn assert_unauthorized(r: &crate::helpers::Reply, what: &str) {
    assert_eq!(r.status, 401, "{what}: {r:?}");
    assert_eq!(r.body, "Unauthorized\n", "{what}");
    assert_eq!(
        r.headers.get("www-authenticate").map(|v| v.as_bytes()),
        Some(&b"Basic"[..]),
        "{what}"
    );
    assert_eq!(
        r.headers.get("x-frame-options").map(|v| v.as_bytes()),
        Some(&b"deny"[..]),
        "{what}: extra headers are on refusals too"
    );
}

#[actix_web::test]
async fn basic_auth_guards_push_scrape_health_and_admin_routes() {
    let dir = tempfile::tempdir().unwrap();
    let config = users_config(dir.path());
    let app = spawn_with(&config, &["--web.enable-admin-api"]).await;
    let right = basic("alice", "wonderland");
    let wrong_password = basic("alice", "looking-glass");
    let unknown_user = basic("mallory", "wonderland");

    let routes: [(&str, &str, &str, u16); 4] = [
        ("PUT", "/metrics/job/backup", "backup_ok 1\n", 200),
        ("GET", "/metrics", "", 200),
        ("GET", "/-/healthy", "", 200),
        ("PUT", "/api/v1/admin/wipe", "", 202),
    ];
    for (method, path, body, ok) in routes {
        let what = format!("{method} {path}");
        let missing = app.send(method, path, body).await;
        assert_unauthorized(&missing, &format!("{what} without credentials"));
        for (label, credentials) in [
            ("wrong password", &wrong_password),
            ("unknown user", &unknown_user),
        ] {
            let r = app
                .send_with(
                    method,
                    path,
                    body.as_bytes().to_vec(),
                    &[("Authorization", credentials)],
                )
                .await;
            assert_unauthorized(&r, &format!("{what} with {label}"));
        }
        let r = app
            .send_with(
                method,
                path,
                body.as_bytes().to_vec(),
                &[("Authorization", &right)],
            )
            .await;
        assert_eq!(r.status, ok, "{what} with the right password: {r:?}");
        assert_eq!(
            r.headers
                .get("content-security-policy")
                .map(|v| v.as_bytes()),
            Some(&b"default-src 'self'"[..]),
            "{what}: extra headers"
        );
    }
}

#[actix_web::test]
async fn a_refused_push_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = users_config(dir.path());
    let app = spawn_with(&config, &[]).await;
    let wrong = basic("alice", "nope");
    let r = app
        .send_with(
            "PUT",
            "/metrics/job/intruder",
            b"intruder_metric 1\n".to_vec(),
            &[("Authorization", &wrong)],
        )
        .await;
    assert_eq!(r.status, 401);
    let right = basic("alice", "wonderland");
    let scrape = app
        .send_with("GET", "/metrics", Vec::new(), &[("Authorization", &right)])
        .await;
    assert_eq!(scrape.status, 200);
    assert!(!scrape.body.contains("intruder"), "{}", scrape.body);
}

#[actix_web::test]
async fn tls_and_basic_auth_work_together() {
    let dir = tempfile::tempdir().unwrap();
    let pki = make_pki("main");
    let hash = bcrypt::hash("wonderland", 4).unwrap();
    let yaml = format!("{TLS_ONLY}basic_auth_users:\n  alice: {hash}\n");
    let config = write_config(dir.path(), &pki, &yaml);
    let app = spawn_with(&config, &[]).await;
    let client = || Client {
        trusted_ca: pki.ca.clone(),
        identity: None,
    };

    let r = https(app.addr, client(), get("/metrics", ""))
        .await
        .unwrap();
    assert!(r.starts_with("HTTP/1.1 401"), "{r}");
    let auth = format!("Authorization: {}\r\n", basic("alice", "wonderland"));
    let r = https(app.addr, client(), get("/metrics", &auth))
        .await
        .unwrap();
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
}

/// Runs the real binary with a web config file; it must exit on its own.
fn start_binary(config: &Path) -> (std::process::ExitStatus, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pushgateway"))
        .arg("--web.listen-address=127.0.0.1:0")
        .arg(format!("--web.config.file={}", config.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn pushgateway");
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("pushgateway kept running with {}", config.display());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .ok();
    (status, stderr)
}

#[test]
fn a_broken_web_config_file_stops_start_up_with_a_one_line_reason() {
    let dir = tempfile::tempdir().unwrap();
    let pki = make_pki("main");
    write_config(dir.path(), &pki, "");
    let cases: [(&str, &str, &str); 6] = [
        ("bad-yaml.yml", "tls_server_config: [unclosed\n", "invalid YAML"),
        ("unknown-key.yml", "tls_server_config:\n  cert_fil: server.crt\n", "cert_fil"),
        (
            "missing-cert.yml",
            "tls_server_config:\n  cert_file: missing.crt\n  key_file: server.key\n",
            "missing.crt",
        ),
        (
            "bad-hash.yml",
            "basic_auth_users:\n  alice: not-a-bcrypt-hash\n",
            "alice",
        ),
        (
            "bad-header.yml",
            "http_server_config:\n  headers:\n    Server: evil\n",
            "Server",
        ),
        (
            "old-tls.yml",
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  max_version: TLS11\n",
            "TLS 1.2 and 1.3 only",
        ),
    ];
    for (file, yaml, expected) in cases {
        let path = dir.path().join(file);
        std::fs::write(&path, yaml).unwrap();
        let (status, stderr) = start_binary(&path);
        assert!(!status.success(), "{file}: {stderr}");
        let line = stderr
            .lines()
            .find(|l| l.contains("pushgateway: error:"))
            .unwrap_or_else(|| panic!("{file}: no error line in {stderr:?}"));
        assert!(line.contains("--web.config.file"), "{file}: {line}");
        assert!(line.contains(expected), "{file}: {line}");
        assert!(
            !line.contains("not-a-bcrypt-hash"),
            "{file}: the hash is not echoed: {line}"
        );
    }
    let (status, stderr) = start_binary(&dir.path().join("absent.yml"));
    assert!(!status.success());
    assert!(stderr.contains("cannot read"), "{stderr}");
}

#[actix_web::test]
async fn the_rate_limit_answers_429_once_the_burst_is_spent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("web.yml");
    std::fs::write(&path, "rate_limit:\n  burst: 2\n  interval: 1h\n").unwrap();
    let app = spawn_with(&path, &[]).await;
    assert_eq!(app.get("/-/healthy").await.status, 200);
    assert_eq!(app.get("/-/healthy").await.status, 200);
    let r = app.get("/-/healthy").await;
    assert_eq!(r.status, 429, "{r:?}");
    assert_eq!(r.body, "Too Many Requests\n");
}
