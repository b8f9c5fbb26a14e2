//! Taking over the original Pushgateway's persistence file: the real binary started on a file
//! the original (Debian's 1.5.1) wrote serves what the original served; the `import` command;
//! files that cannot be imported; a crashed import.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::{get_status, Process, TestApp};

const ORIGINAL: &str = "/usr/bin/prometheus-pushgateway";
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/upstream-1.5.1");
const SQLITE_MAGIC: &[u8] = b"SQLite format 3\0";

fn require_original() {
    assert!(
        Path::new(ORIGINAL).exists(),
        "{ORIGINAL} is missing: run scripts/install-test-deps.sh"
    );
}

/// Runs scripts/make-upstream-snapshot.sh into `out`: the original's file after a varied set
/// of pushes (`groups.bak`) and its `/metrics` and `/api/v1/metrics` answers just before it
/// wrote the file.
fn snapshot_of_the_original(out: &Path) {
    require_original();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scripts/make-upstream-snapshot.sh"
    );
    let result = Command::new(script)
        .arg(out)
        .output()
        .expect("run the script");
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
}

/// The lines of a text exposition that come from pushes (the gateway's own `go_*`, `process_*`
/// and `pushgateway_*` families left out), sorted: the same families, HELP and TYPE lines and
/// samples, whatever their order.
fn pushed_lines(exposition: &str) -> Vec<String> {
    let mut lines: Vec<String> = exposition
        .lines()
        .filter(|line| {
            let name = line
                .trim_start_matches("# HELP ")
                .trim_start_matches("# TYPE ");
            !["go_", "process_", "pushgateway_"]
                .iter()
                .any(|own| name.starts_with(own))
        })
        .map(str::to_string)
        .collect();
    lines.sort();
    lines
}

/// `/api/v1/metrics`' groups by their labels.
fn groups_by_labels(document: &str) -> BTreeMap<String, serde_json::Map<String, Value>> {
    let document: Value = serde_json::from_str(document).expect("JSON");
    assert_eq!(document["status"], "success");
    document["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|group| {
            let group = group.as_object().expect("group").clone();
            (group["labels"].to_string(), group)
        })
        .collect()
}

/// Compares two `/api/v1/metrics` answers group by group and field by field: labels,
/// `last_push_successful`, every family's type, help and time (as an instant, whatever the
/// zone it is written in) and its metrics (in any order).
fn assert_same_groups(ours: &str, theirs: &str) {
    let ours = groups_by_labels(ours);
    let theirs = groups_by_labels(theirs);
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        theirs.keys().collect::<Vec<_>>(),
        "the same groups"
    );
    for (labels, want) in &theirs {
        let got = &ours[labels];
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "{labels}: the same families"
        );
        assert_eq!(
            got["last_push_successful"], want["last_push_successful"],
            "{labels}"
        );
        for (name, family) in want {
            if name == "labels" || name == "last_push_successful" {
                continue;
            }
            let mine = &got[name];
            let at = |f: &Value| {
                f["time_stamp"]
                    .as_str()
                    .expect("time_stamp")
                    .parse::<jiff::Timestamp>()
                    .expect("RFC 3339")
            };
            assert_eq!(at(mine), at(family), "{labels} {name}: time_stamp");
            assert_eq!(mine["type"], family["type"], "{labels} {name}: type");
            assert_eq!(
                mine.get("help"),
                family.get("help"),
                "{labels} {name}: help"
            );
            let sorted = |f: &Value| {
                let mut metrics: Vec<String> = f["metrics"]
                    .as_array()
                    .expect("metrics")
                    .iter()
                    .map(Value::to_string)
                    .collect();
                metrics.sort();
                metrics
            };
            assert_eq!(sorted(mine), sorted(family), "{labels} {name}: metrics");
        }
    }
}

/// Checks that the gateway serves what the original answered (`metrics.txt`,
/// `api-v1-metrics.json` in `answers`).
async fn assert_serves_what_the_original_served(p: &Process, answers: &Path) {
    let client = p.client();
    let theirs = std::fs::read_to_string(answers.join("metrics.txt")).unwrap();
    let ours = client.get("/metrics").await;
    assert_eq!(ours.status, 200);
    assert_eq!(pushed_lines(&ours.body), pushed_lines(&theirs));
    let theirs = std::fs::read_to_string(answers.join("api-v1-metrics.json")).unwrap();
    let ours = client.get("/api/v1/metrics").await;
    assert_eq!(ours.status, 200);
    assert_same_groups(&ours.body, &theirs);
}

/// The history's `IMPORT` records: (grouping labels as JSON, path, families, series).
async fn import_records(client: &TestApp) -> Vec<(String, String, i64, i64)> {
    let answer = client.get("/api/v1/history?limit=1000").await;
    assert_eq!(answer.status, 200);
    let document: Value = serde_json::from_str(&answer.body).unwrap();
    let mut records: Vec<_> = document["data"]["pushes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["method"] == "IMPORT")
        .map(|r| {
            assert_eq!(r["outcome"], "accepted");
            (
                r["labels"].to_string(),
                r["path"].as_str().unwrap().to_string(),
                r["families"].as_i64().unwrap(),
                r["series"].as_i64().unwrap(),
            )
        })
        .collect();
    records.sort();
    records
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[actix_web::test]
async fn a_file_the_original_wrote_is_imported_at_start_up_and_served_as_the_original_served_it() {
    let dir = tempfile::tempdir().unwrap();
    let original = dir.path().join("original");
    snapshot_of_the_original(&original);
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    let file = state.join("metrics.bak");
    let bytes = std::fs::read(original.join("groups.bak")).unwrap();
    std::fs::write(&file, &bytes).unwrap();

    let first = Process::start(&file, &[]);
    assert_serves_what_the_original_served(&first, &original).await;
    let kept = state.join("metrics.bak.original");
    assert_eq!(
        std::fs::read(&kept).unwrap(),
        bytes,
        "the original file is kept"
    );
    assert!(std::fs::read(&file).unwrap().starts_with(SQLITE_MAGIC));
    let log = first.log().join("\n");
    assert!(
        log.contains(&format!(
            "imported 7 groups with 11 metric families and 14 series from {}, the original \
             Pushgateway's persistence file, into the database {}",
            file.display(),
            file.display()
        )) && log.contains(&format!("the original file is kept as {}", kept.display())),
        "{log}"
    );
    assert!(!log.contains("difference"), "{log}");

    // One history record per group, naming the kept file.
    let records = import_records(&first.client()).await;
    let origin = kept.display().to_string();
    let labels: Vec<&str> = records.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(
        labels,
        [
            r#"{"dc":"eu-west","instance":"i2","job":"multi","rack":"zürich ö/7"}"#,
            r#"{"empty":"","job":"b64/job","path":"/var/tmp"}"#,
            r#"{"instance":"i1","job":"all_types"}"#,
            r#"{"job":"empty_body"}"#,
            r#"{"job":"failed_new"}"#,
            r#"{"job":"failing"}"#,
            r#"{"job":"merge"}"#,
        ]
    );
    assert!(records.iter().all(|r| r.1 == origin), "{records:?}");
    let all_types = &records[2];
    assert_eq!((all_types.2, all_types.3), (5, 8));
    let status = first.terminate();
    assert!(status.success(), "{status:?}");

    // The second start finds SQLite: nothing is imported again, and it serves the same.
    let second = Process::start(&file, &[]);
    assert_serves_what_the_original_served(&second, &original).await;
    assert_eq!(import_records(&second.client()).await, records);
    let log = second.log().join("\n");
    assert!(!log.contains("import"), "{log}");
    assert_eq!(
        names_in(&state),
        [
            "metrics.bak",
            "metrics.bak-shm",
            "metrics.bak-wal",
            "metrics.bak.original"
        ]
    );
}

/// Runs the binary to completion (bounded), returning (exit code, stdout, stderr).
fn run(args: &[&str]) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pushgateway"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run pushgateway");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "pushgateway {args:?} did not exit"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn fixture(dir: &Path, name: &str) -> PathBuf {
    let file = dir.join(name);
    std::fs::copy(Path::new(FIXTURES).join("groups.bak"), &file).unwrap();
    file
}

#[actix_web::test]
async fn the_import_command_converts_the_file_in_place_as_start_up_does() {
    let dir = tempfile::tempdir().unwrap();
    let file = fixture(dir.path(), "metrics.bak");
    let (code, out, err) = run(&["import", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("imported 7 groups with 11 metric families and 14 series from ")
            && out.ends_with(&format!(
                "; the original file is kept as {}.original\n",
                file.display()
            )),
        "{out}"
    );
    assert_eq!(err, "");
    assert_eq!(
        std::fs::read(dir.path().join("metrics.bak.original")).unwrap(),
        std::fs::read(Path::new(FIXTURES).join("groups.bak")).unwrap()
    );

    // Converted: a second run has nothing to do.
    let (code, _, err) = run(&["import", file.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        format!(
            "pushgateway import: {} is already a SQLite database: nothing to import\n",
            file.display()
        )
    );

    let p = Process::start(&file, &[]);
    assert_serves_what_the_original_served(&p, Path::new(FIXTURES)).await;
    assert_eq!(import_records(&p.client()).await.len(), 7);
}

#[actix_web::test]
async fn the_import_command_into_another_database_leaves_the_file_alone() {
    let dir = tempfile::tempdir().unwrap();
    let file = fixture(dir.path(), "metrics.bak");
    let db = dir.path().join("pg.db");
    let db_flag = format!("--persistence.file={}", db.display());
    // The flag goes before or after the command.
    let (code, out, err) = run(&["import", file.to_str().unwrap(), &db_flag]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!("into the database {} in ", db.display()))
            && out.ends_with(&format!("; {} is left as it is\n", file.display())),
        "{out}"
    );
    assert_eq!(
        std::fs::read(&file).unwrap(),
        std::fs::read(Path::new(FIXTURES).join("groups.bak")).unwrap()
    );
    assert_eq!(names_in(dir.path()), ["metrics.bak", "pg.db"]);

    // A database that holds anything is never replaced.
    let (code, _, err) = run(&[&db_flag, "import", file.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with(&format!(
            "pushgateway import: {} already exists and is not empty",
            db.display()
        )),
        "{err}"
    );

    let p = Process::start(&db, &[]);
    assert_serves_what_the_original_served(&p, Path::new(FIXTURES)).await;
    let records = import_records(&p.client()).await;
    assert_eq!(records.len(), 7);
    assert!(records.iter().all(|r| r.1 == file.display().to_string()));
}

#[test]
fn a_file_that_is_neither_stops_start_up_before_binding_and_says_what_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("metrics.bak");
    std::fs::write(&file, "groups:\n  - job: backup\n").unwrap();
    let (code, _, err) = run(&[
        "--web.listen-address=127.0.0.1:0",
        &format!("--persistence.file={}", file.display()),
    ]);
    assert_ne!(code, 0);
    assert!(
        err.contains(&format!(
            "pushgateway: error: --persistence.file: {} is neither a SQLite database nor the \
             original Pushgateway's persistence file: found text starting with \"groups:\\n  - \
             job: backup\\n\"",
            file.display()
        )),
        "{err}"
    );
    assert!(!err.contains("listening on"), "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), b"groups:\n  - job: backup\n");
    assert_eq!(names_in(dir.path()), ["metrics.bak"]);

    let (code, _, err) = run(&["import", file.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("found text starting with"), "{err}");
}

#[test]
fn a_file_over_the_series_limit_is_refused_at_start_up_and_by_the_import_command() {
    let dir = tempfile::tempdir().unwrap();
    let file = fixture(dir.path(), "metrics.bak");
    let original = std::fs::read(&file).unwrap();
    // 14 pushed series and each of the 7 groups' two timestamp series.
    let refusal = format!(
        "cannot import {}, the original Pushgateway's persistence file: its groups would hold \
         28 series (each group's two timestamp series included), more than the limit of 27 set \
         by --push.max-series-total, so nothing was imported",
        file.display()
    );
    let (code, _, err) = run(&[
        "--web.listen-address=127.0.0.1:0",
        "--push.max-series-total=27",
        &format!("--persistence.file={}", file.display()),
    ]);
    assert_ne!(code, 0);
    assert!(err.contains(&refusal), "{err}");
    assert!(!err.contains("listening on"), "{err}");

    let (code, _, err) = run(&[
        "--push.max-series-total=27",
        "import",
        file.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(err.contains(&refusal), "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), original);
    assert_eq!(names_in(dir.path()), ["metrics.bak"]);

    let (code, out, err) = run(&[
        "--push.max-series-total=28",
        "import",
        file.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("imported 7 groups "), "{out}");
}

#[actix_web::test]
async fn an_empty_file_becomes_a_new_database() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("metrics.bak");
    std::fs::write(&file, b"").unwrap();
    let p = Process::start(&file, &[]);
    assert_eq!(p.client().put("/metrics/job/a", "x 1\n").await.status, 200);
    assert!(std::fs::read(&file).unwrap().starts_with(SQLITE_MAGIC));
    assert!(!dir.path().join("metrics.bak.original").exists());
}

#[actix_web::test]
async fn a_crashed_import_is_done_again_and_reuses_the_kept_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = fixture(dir.path(), "metrics.bak");
    // What a crash after step 2 and during step 3 leaves: the original kept under its new
    // name, a half-built database with a hot journal.
    std::fs::hard_link(&file, dir.path().join("metrics.bak.original")).unwrap();
    std::fs::write(
        dir.path().join("metrics.bak.importing"),
        b"SQLite format 3\0half",
    )
    .unwrap();
    std::fs::write(dir.path().join("metrics.bak.importing-journal"), b"hot").unwrap();

    let p = Process::start(&file, &[]);
    assert_serves_what_the_original_served(&p, Path::new(FIXTURES)).await;
    assert_eq!(
        names_in(dir.path()),
        [
            "metrics.bak",
            "metrics.bak-shm",
            "metrics.bak-wal",
            "metrics.bak.original"
        ]
    );
}

/// Runs the original on loopback with `file` as its persistence file, sends `requests`
/// (method, path, body, expected status) and quits it, which writes the file.
async fn with_the_original(file: &Path, requests: &[(&str, &str, &str, u16)]) {
    require_original();
    struct Running(std::process::Child);
    impl Drop for Running {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut started = None;
    for _ in 0..5 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
        let mut child = Running(
            Command::new(ORIGINAL)
                .arg(format!("--web.listen-address={addr}"))
                .arg(format!("--persistence.file={}", file.display()))
                .args(["--web.enable-lifecycle", "--log.level=error"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start the original"),
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline && child.0.try_wait().unwrap().is_none() {
            if get_status(addr, "/-/ready") == Some(200) {
                started = Some((child, addr));
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if started.is_some() {
            break;
        }
    }
    let (mut child, addr) = started.expect("the original started");
    let client = TestApp {
        addr,
        client: reqwest::Client::new(),
    };
    for (method, path, body, status) in requests {
        let answer = client.send(method, path, body).await;
        assert_eq!(answer.status, *status, "{method} {path}: {}", answer.body);
    }
    assert_eq!(client.put("/-/quit", "").await.status, 200);
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.0.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the original did not quit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[actix_web::test]
async fn groups_this_gateway_cannot_serve_stop_the_import_and_are_named_with_their_delete() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("metrics.bak");
    // Upstream's store poisoning (each push is refused, but its group is created): a job that
    // is not UTF-8, and a group exposing the same push_time_seconds series as another.
    with_the_original(
        &file,
        &[
            ("PUT", "/metrics/job/inst", "x 1\n", 200),
            ("PUT", "/metrics/job/inst/instance@base64/=", "y 1\n", 400),
            ("PUT", "/metrics/job/%FF", "z 1\n", 400),
        ],
    )
    .await;
    let bytes = std::fs::read(&file).unwrap();
    let (code, _, err) = run(&[
        "--web.listen-address=127.0.0.1:0",
        &format!("--persistence.file={}", file.display()),
    ]);
    assert_ne!(code, 0);
    assert!(
        err.contains(&format!(
            "cannot import {}, the original Pushgateway's persistence file: this gateway cannot \
             serve 2 of its groups, so nothing was imported and the file is left as it is:\n  \
             group {{job=\"\\xff\"}} (deleted from the original by DELETE \
             /metrics/job@base64/_w): a grouping label is not UTF-8, which no exposition format \
             can carry (the original created this group from a push it refused, and has failed \
             every scrape since)\n  \
             group {{job=\"inst\"}} (deleted from the original by DELETE \
             /metrics/job@base64/aW5zdA): it is inconsistent with the groups before it: 2 \
             error(s) occurred:\n    * collected metric \"push_failure_time_seconds\" ",
            file.display()
        )) && err.contains(
            "was collected before with the same name and label values\nDelete these groups with \
             the original Pushgateway running on this file (it writes the file when it stops), \
             then start again.\n"
        ),
        "{err}"
    );
    assert!(!err.contains("listening on"), "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), bytes);
    assert_eq!(names_in(dir.path()), ["metrics.bak"]);

    // Doing what the message says makes the file importable.
    let deletes: Vec<String> = err
        .split("(deleted from the original by DELETE ")
        .skip(1)
        .map(|rest| rest.split(')').next().unwrap().to_string())
        .collect();
    assert_eq!(deletes.len(), 2);
    let requests: Vec<(&str, &str, &str, u16)> = deletes
        .iter()
        .map(|path| ("DELETE", path.as_str(), "", 202))
        .collect();
    with_the_original(&file, &requests).await;
    let p = Process::start(&file, &[]);
    let groups = groups_by_labels(&p.client().get("/api/v1/metrics").await.body);
    assert_eq!(
        groups.keys().collect::<Vec<_>>(),
        [r#"{"instance":"","job":"inst"}"#]
    );
}
