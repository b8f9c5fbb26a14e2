//! Durability with a real database file and the real binary: graceful restart and `kill -9`.

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
