//! Group commit: changes that arrive while a COMMIT is in flight share the next transaction,
//! each checked as if alone (but after the ones ahead of it), each in a savepoint of its own.
//!
//! To make a batch happen on purpose, a test takes SQLite's write lock on the database file
//! from outside, as `sqlite3` or a backup tool may: the gateway's writer waits in BEGIN
//! (`busy_timeout`, 5 s) with the first change, and the changes sent meanwhile queue up and
//! are committed together once the lock is released. Whether they were is read from
//! `pushgateway_storage_commit_duration_seconds_count` (one observation per COMMIT).

use std::path::Path;
use std::time::{Duration, Instant};

use actix_web::rt::task::JoinHandle;
use actix_web::rt::time::sleep;

use crate::helpers::{pushed_part, spawn_app, Process, Reply, TestApp};

/// SQLite's write lock on a database file, held by a connection of the test's own.
struct WriteLock(rusqlite::Connection);

impl WriteLock {
    fn take(db: &Path) -> WriteLock {
        let conn = rusqlite::Connection::open(db).expect("open the database");
        conn.execute_batch("BEGIN IMMEDIATE")
            .expect("take the write lock");
        WriteLock(conn)
    }

    fn release(self) {
        self.0.execute_batch("ROLLBACK").expect("release the lock");
    }

    /// Releases the lock, committing what was written under it.
    fn commit(self) {
        self.0
            .execute_batch("COMMIT")
            .expect("commit and release the lock");
    }
}

/// COMMITs the gateway has run so far.
async fn commits(app: &TestApp) -> u64 {
    let m = app.get("/metrics").await.body;
    m.lines()
        .find_map(|l| l.strip_prefix("pushgateway_storage_commit_duration_seconds_count "))
        .unwrap_or_else(|| panic!("no commit count in\n{m}"))
        .parse()
        .expect("count")
}

/// Sends a request on a task of its own.
fn send(app: &TestApp, method: &'static str, path: &str, body: &str) -> JoinHandle<Reply> {
    let app = TestApp {
        addr: app.addr,
        client: app.client.clone(),
    };
    let (path, body) = (path.to_string(), body.to_string());
    actix_web::rt::spawn(async move { app.send(method, &path, &body).await })
}

/// Time for a sent request to reach the writer's queue, generously: requests are sent this
/// far apart so that they arrive in the order sent.
const ARRIVAL: Duration = Duration::from_millis(200);

#[actix_web::test]
async fn a_rejected_push_in_a_batch_changes_nothing_of_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("pg.db");
    let app = spawn_app(&[&format!("--persistence.file={}", db.display())]).await;
    let before = commits(&app).await;

    let lock = WriteLock::take(&db);
    let first = send(&app, "PUT", "/metrics/job/first", "f 1\n");
    sleep(ARRIVAL).await;
    // Each is checked against the ones ahead of it in the batch, in arrival order.
    let batch = [
        ("PUT", "/metrics/job/b1", "# TYPE m gauge\nm 1\n", 200),
        // m is a gauge in b1, pushed just before in the same batch.
        ("PUT", "/metrics/job/b2", "# TYPE m counter\nm 2\n", 400),
        ("POST", "/metrics/job/b3", "# TYPE n gauge\nn 3\n", 200),
        ("DELETE", "/metrics/job/b1", "", 202),
        // With b1 deleted ahead of it, m may be a counter now.
        ("PUT", "/metrics/job/b5", "# TYPE m counter\nm 5\n", 200),
    ];
    let mut replies = Vec::new();
    for (method, path, body, _) in batch {
        replies.push(send(&app, method, path, body));
        sleep(ARRIVAL).await;
    }
    lock.release();

    assert_eq!(first.await.unwrap().status, 200);
    for ((method, path, _, status), reply) in batch.iter().zip(replies) {
        let reply = reply.await.unwrap();
        assert_eq!(reply.status, *status, "{method} {path}: {}", reply.body);
    }
    assert_eq!(
        commits(&app).await - before,
        2,
        "the first change alone, then the five queued behind it in one transaction"
    );
    let m = app.pushed().await;
    assert!(m.contains("f{instance=\"\",job=\"first\"} 1\n"), "{m}");
    assert!(!m.contains("job=\"b1\""), "b1 was deleted\n{m}");
    assert!(m.contains("n{instance=\"\",job=\"b3\"} 3\n"), "{m}");
    assert!(
        m.contains("# TYPE m counter\nm{instance=\"\",job=\"b5\"} 5\n"),
        "{m}"
    );
    // b2's failure is recorded as upstream does: its group holds only its two timestamps.
    assert!(
        m.contains("push_time_seconds{instance=\"\",job=\"b2\"} 0\n"),
        "{m}"
    );
    assert!(
        !m.contains("push_failure_time_seconds{instance=\"\",job=\"b2\"} 0\n"),
        "{m}"
    );
    assert!(!m.contains("m{instance=\"\",job=\"b2\"}"), "{m}");

    let conn = rusqlite::Connection::open(&db).unwrap();
    let outcomes: Vec<(String, String, u16)> = conn
        .prepare("SELECT method, job, status FROM push_history WHERE job LIKE 'b%' ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let expected: Vec<(String, String, u16)> = batch
        .iter()
        .map(|(method, path, _, status)| {
            let job = path.rsplit('/').next().unwrap();
            (method.to_string(), job.to_string(), *status)
        })
        .collect();
    assert_eq!(
        outcomes, expected,
        "one history record each, in arrival order"
    );
}

#[actix_web::test]
async fn a_change_the_database_refuses_fails_alone_and_the_rest_of_its_batch_commits() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("pg.db");
    let app = spawn_app(&[&format!("--persistence.file={}", db.display())]).await;
    assert_eq!(app.put("/metrics/job/ghost", "g 1\n").await.status, 200);
    let last_push = |conn: &rusqlite::Connection| -> i64 {
        conn.query_row(
            "SELECT last_push_ns FROM metric_groups WHERE job = 'ghost'",
            [],
            |r| r.get(0),
        )
        .unwrap()
    };
    let ghost_pushed = last_push(&rusqlite::Connection::open(&db).unwrap());
    let before = commits(&app).await;

    // A trigger added behind the gateway's back refuses ghost's history record: its push
    // fails after it has already updated the group's row, inside the batch.
    let lock = WriteLock::take(&db);
    lock.0
        .execute_batch(
            "CREATE TRIGGER refuse_ghost BEFORE INSERT ON push_history WHEN NEW.job = 'ghost'
             BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;",
        )
        .unwrap();
    let first = send(&app, "PUT", "/metrics/job/first", "f 1\n");
    sleep(ARRIVAL).await;
    let batch = [
        ("/metrics/job/before", "b 1\n", 200),
        ("/metrics/job/ghost", "g 2\n", 500),
        ("/metrics/job/after", "a 1\n", 200),
    ];
    let mut replies = Vec::new();
    for (path, body, _) in batch {
        replies.push(send(&app, "PUT", path, body));
        sleep(ARRIVAL).await;
    }
    lock.commit();

    assert_eq!(first.await.unwrap().status, 200);
    for ((path, _, status), reply) in batch.iter().zip(replies) {
        let reply = reply.await.unwrap();
        assert_eq!(reply.status, *status, "{path}: {}", reply.body);
    }
    assert_eq!(
        commits(&app).await - before,
        2,
        "one batch behind the first"
    );
    let m = app.pushed().await;
    assert!(m.contains("b{instance=\"\",job=\"before\"} 1\n"), "{m}");
    assert!(m.contains("a{instance=\"\",job=\"after\"} 1\n"), "{m}");
    assert!(m.contains("g{instance=\"\",job=\"ghost\"} 1\n"), "{m}");
    // Nothing of the failed push stayed: not its group row's update, not its record.
    let conn = rusqlite::Connection::open(&db).unwrap();
    assert_eq!(last_push(&conn), ghost_pushed);
    let jobs: Vec<String> = conn
        .prepare("SELECT job FROM push_history ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(jobs, ["ghost", "first", "before", "after"]);
}

#[actix_web::test]
async fn a_scrape_during_a_batch_sees_all_of_it_or_none() {
    const PUSHES: usize = 40;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("pg.db");
    let app = spawn_app(&[&format!("--persistence.file={}", db.display())]).await;
    let before = commits(&app).await;

    let lock = WriteLock::take(&db);
    let first = send(&app, "PUT", "/metrics/job/first", "f 1\n");
    sleep(ARRIVAL).await;
    let pushes: Vec<_> = (0..PUSHES)
        .map(|i| {
            let body = format!("# TYPE s gauge\ns{{k=\"{i}\"}} {i}\n");
            send(&app, "PUT", &format!("/metrics/job/s{i}"), &body)
        })
        .collect();
    sleep(ARRIVAL * 3).await;
    let seen = |m: &str| m.lines().filter(|l| l.starts_with("s{")).count();
    assert_eq!(seen(&app.pushed().await), 0, "nothing before COMMIT");

    // Scrapers run while the batch commits and is applied to the cache.
    let scrapers: Vec<_> = (0..3)
        .map(|_| {
            let app = TestApp {
                addr: app.addr,
                client: app.client.clone(),
            };
            actix_web::rt::spawn(async move {
                let mut counts = Vec::new();
                let deadline = Instant::now() + Duration::from_secs(20);
                while Instant::now() < deadline {
                    let n = seen(&pushed_part(&app.get("/metrics").await.body));
                    counts.push(n);
                    if n == PUSHES {
                        break;
                    }
                }
                counts
            })
        })
        .collect();
    lock.release();
    assert_eq!(first.await.unwrap().status, 200);
    for push in pushes {
        let reply = push.await.unwrap();
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    for scraper in scrapers {
        let counts = scraper.await.unwrap();
        assert!(
            counts.iter().all(|n| *n == 0 || *n == PUSHES),
            "a scrape saw part of a batch: {counts:?}"
        );
        assert_eq!(counts.last(), Some(&PUSHES));
    }
    assert_eq!(
        commits(&app).await - before,
        2,
        "the {PUSHES} pushes formed one batch"
    );
}

#[actix_web::test]
async fn sequential_pushes_on_an_idle_gateway_commit_one_by_one_without_waiting() {
    let app = spawn_app(&[]).await;
    let before = commits(&app).await;
    let mut took = Vec::new();
    for i in 0..20 {
        let started = Instant::now();
        let r = app.put(&format!("/metrics/job/idle{i}"), "a 1\n").await;
        took.push(started.elapsed());
        assert_eq!(r.status, 200, "{}", r.body);
    }
    // Each push was committed on its own as soon as it arrived: the writer does not wait for
    // company (a timer would show as a floor under every push, not only as a count).
    assert_eq!(commits(&app).await - before, 20);
    took.sort();
    assert!(
        took[10] < Duration::from_millis(250),
        "median single push {:?} (all: {took:?})",
        took[10]
    );
}

#[actix_web::test]
async fn a_failed_commit_answers_every_change_of_its_batch_with_500_and_changes_nothing() {
    let prlimit = "/usr/bin/prlimit";
    assert!(
        Path::new(prlimit).is_file(),
        "{prlimit} is missing: run `scripts/install-test-deps.sh` as root (package util-linux)"
    );
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("pg.db");
    {
        let p = Process::start(&db, &[]);
        assert_eq!(
            p.client().put("/metrics/job/kept", "k 1\n").await.status,
            200
        );
        assert!(p.terminate().success());
    }
    // The gateway may not make any file larger than the database is now: as on a full disk,
    // writing the write-ahead log fails once it has reached that size, and it is written at
    // COMMIT. (SIGXFSZ ignored, so the write fails instead of killing the process.)
    let limit = std::fs::metadata(&db).unwrap().len().to_string();
    let mut command = std::process::Command::new("sh");
    command.args([
        "-c",
        "trap '' XFSZ; exec \"$0\" --fsize=\"$1\" -- \"$2\" --web.listen-address=127.0.0.1:0 \
         --persistence.file=\"$3\"",
        prlimit,
        &limit,
        env!("CARGO_BIN_EXE_pushgateway"),
        db.to_str().unwrap(),
    ]);
    let p = Process::spawn_command(command);
    assert!(
        p.wait_ready(Duration::from_secs(60)),
        "gateway became ready"
    );
    let app = p.client();
    // Fill the log until a COMMIT fails.
    let mut filled = false;
    for i in 0..500 {
        let r = app.put(&format!("/metrics/job/fill{i}"), "x 1\n").await;
        if r.status == 500 {
            filled = true;
            break;
        }
        assert_eq!(r.status, 200, "{}", r.body);
    }
    assert!(filled, "the write-ahead log never filled up");
    let metrics_before = app.pushed().await;
    let commits_before = commits(&app).await;

    let lock = WriteLock::take(&db);
    let first = send(&app, "PUT", "/metrics/job/first", "f 1\n");
    sleep(ARRIVAL).await;
    let batch = [
        ("PUT", "/metrics/job/kept", "k 2\n"),
        ("POST", "/metrics/job/new", "n 1\n"),
        ("DELETE", "/metrics/job/fill0", ""),
        // Rejected by the consistency check: its failure record is lost with the batch too.
        ("PUT", "/metrics/job/bad", "# TYPE k counter\nk 1\n"),
    ];
    let replies: Vec<_> = batch
        .iter()
        .map(|(method, path, body)| send(&app, method, path, body))
        .collect();
    sleep(ARRIVAL * 3).await;
    lock.release();

    assert_eq!(first.await.unwrap().status, 500);
    for ((method, path, _), reply) in batch.iter().zip(replies) {
        let reply = reply.await.unwrap();
        assert_eq!(reply.status, 500, "{method} {path}: {}", reply.body);
        // The cause is named (prlimit makes the write fail with EFBIG: an I/O error).
        assert_eq!(reply.body, "database I/O error\n");
    }
    assert_eq!(commits(&app).await - commits_before, 2, "two batches");
    assert_eq!(app.pushed().await, metrics_before, "the cache is as it was");
    drop(p);

    // And so is the database.
    let conn = rusqlite::Connection::open(&db).unwrap();
    let records: Vec<(String, String)> = conn
        .prepare("SELECT method, job FROM push_history WHERE job NOT LIKE 'fill%' ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(records, [("PUT".to_string(), "kept".to_string())]);
    let deletes: i64 = conn
        .query_row(
            "SELECT count(*) FROM push_history WHERE method = 'DELETE'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(deletes, 0);
}
