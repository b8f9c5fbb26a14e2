//! Start-up failures exit non-zero with a one-line reason.

use std::process::Command;

fn run(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pushgateway"))
        .args(args)
        .output()
        .expect("run pushgateway");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn an_unknown_flag_exits_1_with_one_line() {
    let (code, err) = run(&["--bogus"]);
    assert_eq!(code, 1);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("--bogus"), "{err}");
}

#[test]
fn a_bad_flag_value_exits_1() {
    let (code, err) = run(&["--log.level=trace"]);
    assert_eq!(code, 1);
    assert!(err.contains("trace"), "{err}");
}

#[test]
fn a_port_in_use_exits_non_zero() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = format!("--web.listen-address={}", taken.local_addr().unwrap());
    let (code, err) = run(&[&addr]);
    assert_ne!(code, 0);
    assert!(err.contains("cannot listen on"), "{err}");
}

#[test]
fn an_unreadable_database_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("not-a-db");
    // SQLite's header, then garbage: SQLite itself refuses it.
    let mut bytes = b"SQLite format 3\0".to_vec();
    bytes.resize(4096, b'x');
    std::fs::write(&bad, bytes).unwrap();
    let (code, err) = run(&[
        "--web.listen-address=127.0.0.1:0",
        &format!("--persistence.file={}", bad.display()),
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("not a database"), "{err}");
}

#[test]
fn version_and_help_go_to_stdout() {
    let out = Command::new(env!("CARGO_BIN_EXE_pushgateway"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("pushgateway"));
    let out = Command::new(env!("CARGO_BIN_EXE_pushgateway"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("--persistence.file"));
}

#[actix_web::test]
async fn a_database_that_cannot_be_loaded_stops_the_gateway_with_one_line() {
    // Opening and migrating succeed, so the listener is bound; loading the cache then fails
    // in the background and must still end the process with a reason and a non-zero status.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("pg.db");
    let p = crate::helpers::Process::start(&db, &[]);
    assert_eq!(p.client().put("/metrics/job/a", "x 1\n").await.status, 200);
    assert!(p.terminate().success());
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute("UPDATE metric_families SET family = x'ffffffff'", [])
        .unwrap();
    drop(conn);

    let (code, err) = run(&[
        "--web.listen-address=127.0.0.1:0",
        "--log.level=error",
        &format!("--persistence.file={}", db.display()),
    ]);
    assert_ne!(code, 0);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("unreadable row in database"), "{err}");
}
