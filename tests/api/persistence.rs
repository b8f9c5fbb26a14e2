//! Durability with a real database file and the real binary: graceful restart and `kill -9`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::helpers::{pushed_part, Process};

/// Pushed lines without the timestamp families' values (which are stable across restarts,
/// but comparing everything else is what matters here).
async fn pushed_lines(p: &Process) -> String {
    pushed_part(&p.client().get("/metrics").await.body)
}

#[actix_web::test]
async fn metrics_are_identical_after_a_graceful_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("pg.db");
    let first = Process::start(&db, &[]);
    let c = first.client();
    assert_eq!(
        c.put(
            "/metrics/job/a/instance/i",
            "# HELP x an x\n# TYPE x gauge\nx{k=\"v\"} 1.5\n"
        )
        .await
        .status,
        200
    );
    assert_eq!(
        c.put(
            "/metrics/job/b",
            "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n"
        )
        .await
        .status,
        200
    );
    assert_eq!(c.put("/metrics/job/c", "a 1 123\n").await.status, 400);
    let before = pushed_lines(&first).await;
    assert!(before.contains("x{instance=\"i\",job=\"a\",k=\"v\"} 1.5\n"));
    let status = first.terminate();
    assert!(status.success(), "graceful stop exits 0, got {status:?}");

    let second = Process::start(&db, &[]);
    assert_eq!(pushed_lines(&second).await, before);
}

#[actix_web::test]
async fn every_acknowledged_push_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("pg.db");
    let p = Process::start(&db, &[]);
    let c = p.client();
    let mut acknowledged = Vec::new();
    for i in 0..200 {
        let r = c
            .put(
                &format!("/metrics/job/k{}/instance/n{i}", i % 7),
                &format!("v {i}\n"),
            )
            .await;
        assert_eq!(r.status, 200);
        acknowledged.push(format!("v{{instance=\"n{i}\",job=\"k{}\"}} {i}\n", i % 7));
    }
    let r = c.delete("/metrics/job/k0/instance/n0").await;
    assert_eq!(r.status, 202);
    p.kill9();

    let p = Process::start(&db, &[]);
    let m = pushed_lines(&p).await;
    for line in &acknowledged[1..] {
        assert!(m.contains(line.as_str()), "lost {line}");
    }
    assert!(
        !m.contains(&acknowledged[0]),
        "delete was acknowledged but undone"
    );
}

#[actix_web::test]
async fn every_push_acknowledged_by_32_concurrent_pushers_survives_kill_9() {
    const PUSHERS: usize = 32;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("pg.db");
    let p = Process::start(&db, &[]);
    let acknowledged = Arc::new(AtomicUsize::new(0));
    // Each pusher, one request at a time: a new group per push, and the same group (its
    // counter) replaced by every push, so that both new rows and updates are in flight.
    let pushers: Vec<_> = (0..PUSHERS)
        .map(|t| {
            let app = p.client();
            let acknowledged = acknowledged.clone();
            actix_web::rt::spawn(async move {
                let mut acked = Vec::new();
                for i in 0.. {
                    let body = format!("v {i}\n");
                    let Ok(r) = app
                        .client
                        .put(app.url(&format!("/metrics/job/t{t}/instance/n{i}")))
                        .body(body.clone())
                        .send()
                        .await
                    else {
                        break;
                    };
                    if r.status() != 200 {
                        break;
                    }
                    let Ok(r) = app
                        .client
                        .put(app.url(&format!("/metrics/job/counter/instance/t{t}")))
                        .body(body)
                        .send()
                        .await
                    else {
                        break;
                    };
                    if r.status() != 200 {
                        break;
                    }
                    acked.push(i);
                    acknowledged.fetch_add(2, Ordering::Relaxed);
                }
                acked
            })
        })
        .collect();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while acknowledged.load(Ordering::Relaxed) < 3000 && std::time::Instant::now() < deadline {
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    let m = p.client().get("/metrics").await.body;
    let commits: usize = m
        .lines()
        .find_map(|l| l.strip_prefix("pushgateway_storage_commit_duration_seconds_count "))
        .and_then(|n| n.parse().ok())
        .expect("commit count");
    let before_kill = acknowledged.load(Ordering::Relaxed);
    p.kill9();
    let mut acked = Vec::new();
    for pusher in pushers {
        acked.push(pusher.await.unwrap());
    }
    assert!(before_kill >= 3000, "only {before_kill} pushes in a minute");
    assert!(
        commits < before_kill,
        "{commits} COMMITs for {before_kill} pushes: concurrent pushes shared transactions"
    );

    let p = Process::start(&db, &[]);
    let m = pushed_lines(&p).await;
    for (t, acked) in acked.iter().enumerate() {
        for i in acked {
            let line = format!("v{{instance=\"n{i}\",job=\"t{t}\"}} {i}\n");
            assert!(m.contains(&line), "lost {line}");
        }
        // The counter holds the last acknowledged value, or the one in flight at the kill.
        let last = acked.last().copied().unwrap_or(0);
        let counter = format!("v{{instance=\"t{t}\",job=\"counter\"}} ");
        let value: u64 = m
            .lines()
            .find_map(|l| l.strip_prefix(counter.as_str()))
            .unwrap_or_else(|| panic!("lost {counter}"))
            .parse()
            .unwrap();
        assert!(
            value == last || value == last + 1,
            "{counter}{value}, acknowledged {last}"
        );
    }
}
