//! `pushgateway healthcheck` against a real gateway: plain HTTP, a route prefix, TLS with basic
//! auth (password from a file or the environment), and required client certificates.

use std::path::Path;
use std::process::Command;

use crate::helpers::{spawn_app, TestApp};
use crate::tls_auth::{make_pki, spawn_with, write_config, TLS_CLIENT_CERTS, TLS_ONLY};

/// The probe's exit status, stdout and stderr.
struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `pushgateway healthcheck` with `args` (and `env`) on a blocking thread: the gateway
/// under test shares this test's runtime.
async fn healthcheck(app: &TestApp, args: &[&str], env: &[(&str, &str)]) -> Outcome {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pushgateway"));
    cmd.arg("healthcheck")
        .arg(format!("--web.listen-address={}", app.addr))
        .args(args)
        .env_remove("PUSHGATEWAY_HEALTHCHECK_PASSWORD");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = actix_web::rt::task::spawn_blocking(move || cmd.output().expect("run healthcheck"))
        .await
        .expect("healthcheck thread");
    Outcome {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn assert_healthy(o: &Outcome) {
    assert_eq!(o.code, 0, "stdout {:?}, stderr {:?}", o.stdout, o.stderr);
    assert!(o.stdout.trim_end().ends_with(": 200 OK"), "{:?}", o.stdout);
}

/// Exit status 1 and one line on stderr that contains `reason`.
fn assert_unhealthy(o: &Outcome, reason: &str) {
    assert_eq!(o.code, 1, "stdout {:?}, stderr {:?}", o.stdout, o.stderr);
    assert_eq!(o.stderr.lines().count(), 1, "{:?}", o.stderr);
    assert!(
        o.stderr.starts_with("pushgateway healthcheck: "),
        "{:?}",
        o.stderr
    );
    assert!(
        o.stderr.contains(reason),
        "{reason:?} not in {:?}",
        o.stderr
    );
}

#[actix_web::test]
async fn a_running_gateway_is_healthy_and_ready() {
    let app = spawn_app(&[]).await;
    let o = healthcheck(&app, &[], &[]).await;
    assert_healthy(&o);
    assert!(
        o.stdout
            .starts_with(&format!("http://{}/-/healthy: ", app.addr)),
        "{:?}",
        o.stdout
    );
    let o = healthcheck(&app, &["--ready"], &[]).await;
    assert_healthy(&o);
    assert!(o.stdout.contains("/-/ready: "), "{:?}", o.stdout);
}

#[actix_web::test]
async fn the_probe_follows_the_route_prefix() {
    let app = spawn_app(&["--web.route-prefix=/pg"]).await;
    assert_healthy(&healthcheck(&app, &["--web.route-prefix=/pg"], &[]).await);
    // The flags may also come before the command, as in the server's own command line.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pushgateway"));
    cmd.arg(format!("--web.listen-address={}", app.addr))
        .arg("--web.external-url=https://example.com/pg/")
        .arg("healthcheck");
    let out = actix_web::rt::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    // Without the prefix the probe asks for a route the gateway does not have.
    assert_unhealthy(&healthcheck(&app, &[], &[]).await, "/-/healthy: 404");
}

fn password_file(dir: &Path, password: &str) -> String {
    let path = dir.join("healthcheck.password");
    std::fs::write(&path, format!("{password}\n")).unwrap();
    format!("--password-file={}", path.display())
}

#[actix_web::test]
async fn tls_with_basic_auth_needs_the_right_password() {
    let dir = tempfile::tempdir().unwrap();
    let pki = make_pki("healthcheck");
    let hash = bcrypt::hash("wonderland", 4).unwrap();
    let config = write_config(
        dir.path(),
        &pki,
        &format!("{TLS_ONLY}basic_auth_users:\n  alice: {hash}\n"),
    );
    let app = spawn_with(&config, &[]).await;
    let web = format!("--web.config.file={}", config.display());

    let right = password_file(dir.path(), "wonderland");
    let o = healthcheck(&app, &[&web, &right], &[]).await;
    assert_healthy(&o);
    assert!(o.stdout.starts_with("https://"), "{:?}", o.stdout);
    let o = healthcheck(
        &app,
        &[&web, "--user=alice"],
        &[("PUSHGATEWAY_HEALTHCHECK_PASSWORD", "wonderland")],
    )
    .await;
    assert_healthy(&o);

    let wrong = password_file(dir.path(), "looking-glass");
    assert_unhealthy(
        &healthcheck(&app, &[&web, &wrong], &[]).await,
        "401 Unauthorized (basic auth: wrong user or password)",
    );
    assert_unhealthy(
        &healthcheck(&app, &[&web], &[]).await,
        "requires basic auth",
    );
    assert_unhealthy(
        &healthcheck(&app, &[&web, "--user=mallory", &right], &[]).await,
        "\"mallory\" is not one of",
    );
    // Without the web config file the probe speaks plain HTTP to a TLS port.
    assert_unhealthy(
        &healthcheck(&app, &[&right], &[]).await,
        "answers in TLS: pass the gateway's --web.config.file",
    );
}

#[actix_web::test]
async fn required_client_certificates_are_presented_from_the_given_files() {
    let dir = tempfile::tempdir().unwrap();
    let pki = make_pki("healthcheck");
    let config = write_config(dir.path(), &pki, TLS_CLIENT_CERTS);
    std::fs::write(dir.path().join("client.crt"), &pki.client_cert).unwrap();
    std::fs::write(dir.path().join("client.key"), &pki.client_key).unwrap();
    let app = spawn_with(&config, &[]).await;
    let web = format!("--web.config.file={}", config.display());
    let cert = format!(
        "--client-cert-file={}",
        dir.path().join("client.crt").display()
    );
    let key = format!(
        "--client-key-file={}",
        dir.path().join("client.key").display()
    );

    assert_healthy(&healthcheck(&app, &[&web, &cert, &key], &[]).await);
    assert_unhealthy(
        &healthcheck(&app, &[&web], &[]).await,
        "requires client certificates",
    );
    // A certificate the gateway's client CA did not sign is refused in the handshake.
    let other = make_pki("stranger");
    std::fs::write(dir.path().join("client.crt"), &other.client_cert).unwrap();
    std::fs::write(dir.path().join("client.key"), &other.client_key).unwrap();
    assert_unhealthy(
        &healthcheck(&app, &[&web, &cert, &key], &[]).await,
        "https://",
    );
}
