//! Opt-in expiry (`--push.expire-after`, the `Pushgateway-Expire-After` header): a group is gone
//! from `/metrics`, the API and the page within a second of its deadline, also across restarts
//! (real binary, real database file); a renewing push keeps it, a bad header changes nothing,
//! the history records each expiry, and a push that meets an expiry is never lost.

use std::time::{Duration, Instant};

use jiff::Timestamp;
use rusqlite::{Connection, OpenFlags};
use serde_json::Value;

use crate::helpers::{spawn_app, Process, TestApp};

const HEADER: &str = "Pushgateway-Expire-After";

async fn push_expiring(app: &TestApp, path: &str, body: &str, lifetime: &str) -> u16 {
    app.send_with("PUT", path, body.as_bytes().to_vec(), &[(HEADER, lifetime)])
        .await
        .status
}

/// The groups of `/api/v1/metrics`.
async fn api_groups(app: &TestApp) -> Vec<Value> {
    let body: Value = serde_json::from_str(&app.get("/api/v1/metrics").await.body).unwrap();
    body["data"].as_array().unwrap().clone()
}

/// The `expires_at` of the group whose job is `job`, if the API lists one.
async fn expires_at(app: &TestApp, job: &str) -> Option<Timestamp> {
    api_groups(app)
        .await
        .iter()
        .find(|g| g["labels"]["job"] == job)
        .and_then(|g| g["expires_at"].as_str().map(|s| s.parse().unwrap()))
}

/// Polls `/metrics` until `needle` is gone; returns when the answer without it arrived.
/// Every answer that arrived before `deadline` must still have it (the group is not removed
/// early), and it must be gone within a second of `deadline`.
async fn wait_until_gone(app: &TestApp, needle: &str, deadline: Timestamp) -> Timestamp {
    let give_up = Instant::now() + Duration::from_secs(30);
    loop {
        let body = app.get("/metrics").await.body;
        let now = Timestamp::now();
        if !body.contains(needle) {
            assert!(
                now >= deadline,
                "removed before its deadline {deadline} ({now})"
            );
            let late = now.duration_since(deadline);
            assert!(
                late < jiff::SignedDuration::from_secs(1),
                "gone {late:?} after its deadline"
            );
            return now;
        }
        assert!(Instant::now() < give_up, "{needle} never expired");
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What a group pushed with a lifetime shows, and that it is gone from `/metrics`, the API and
/// the status page within a second of its deadline.
#[actix_web::test]
async fn a_group_with_a_two_second_lifetime_is_gone_within_a_second_of_its_deadline() {
    let app = spawn_app(&[]).await;
    let before = Timestamp::now();
    assert_eq!(
        push_expiring(&app, "/metrics/job/short/instance/i", "x 1\n", "2s").await,
        200
    );
    let after = Timestamp::now();
    assert_eq!(app.put("/metrics/job/forever", "y 1\n").await.status, 200);
    let deadline = expires_at(&app, "short").await.expect("expires_at listed");
    let two = jiff::SignedDuration::from_secs(2);
    assert!(
        deadline >= before + two && deadline <= after + two,
        "{deadline} is 2 s after the push"
    );
    assert_eq!(expires_at(&app, "forever").await, None);
    let page = app.get("/").await.body;
    assert!(page.contains("expires"), "the page shows the deadline");

    wait_until_gone(&app, "x{instance=\"i\",job=\"short\"} 1", deadline).await;
    let groups = api_groups(&app).await;
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert_eq!(groups[0]["labels"]["job"], "forever");
    assert!(!app.get("/").await.body.contains("short"));
    assert!(app
        .pushed()
        .await
        .contains("y{instance=\"\",job=\"forever\"} 1"));
}

/// Without expiry the API's JSON has no `expires_at` at all (the original's document); the
/// flag gives every push its lifetime, and a header of 0 opts a push out.
#[actix_web::test]
async fn the_flag_sets_a_default_that_a_header_overrides_and_without_it_nothing_expires() {
    let plain = spawn_app(&[]).await;
    assert_eq!(plain.put("/metrics/job/a", "x 1\n").await.status, 200);
    assert!(!plain
        .get("/api/v1/metrics")
        .await
        .body
        .contains("expires_at"));

    let app = spawn_app(&["--push.expire-after=1h"]).await;
    let before = Timestamp::now();
    assert_eq!(app.put("/metrics/job/a", "x 1\n").await.status, 200);
    let deadline = expires_at(&app, "a").await.expect("the flag's lifetime");
    assert!(deadline >= before + jiff::SignedDuration::from_hours(1));
    assert_eq!(
        push_expiring(&app, "/metrics/job/b", "x 1\n", "0").await,
        200
    );
    assert_eq!(expires_at(&app, "b").await, None);
    let status: Value = serde_json::from_str(&app.get("/api/v1/status").await.body).unwrap();
    assert_eq!(status["data"]["flags"]["push.expire-after"], "1h");
}

/// A push before the deadline renews the group with its own lifetime; a failed push leaves the
/// lifetime of the last successful one.
#[actix_web::test]
async fn a_renewing_push_keeps_the_group_and_a_failed_push_does_not_change_its_deadline() {
    let app = spawn_app(&[]).await;
    assert_eq!(
        push_expiring(&app, "/metrics/job/r", "x 1\n", "2s").await,
        200
    );
    let first = expires_at(&app, "r").await.unwrap();
    actix_web::rt::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(
        push_expiring(&app, "/metrics/job/r", "x 2\n", "2s").await,
        200
    );
    let renewed = expires_at(&app, "r").await.unwrap();
    assert!(renewed >= first + jiff::SignedDuration::from_millis(1200));
    // A push the consistency check refuses (a timestamp) with another lifetime.
    assert_eq!(
        push_expiring(&app, "/metrics/job/r", "x 3 5\n", "0").await,
        400
    );
    assert_eq!(expires_at(&app, "r").await, Some(renewed));
    // Past the first deadline, well before the second.
    while Timestamp::now() < first + jiff::SignedDuration::from_millis(600) {
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(app.pushed().await.contains("x{instance=\"\",job=\"r\"} 2"));
    wait_until_gone(&app, "x{instance=\"\",job=\"r\"} 2", renewed).await;
}

/// A bad lifetime is a 400 naming the header and the reason; nothing changes but the history,
/// which records the refusal.
#[actix_web::test]
async fn a_bad_header_is_400_and_changes_nothing() {
    let app = spawn_app(&[]).await;
    assert_eq!(
        push_expiring(&app, "/metrics/job/b", "x 1\n", "1h").await,
        200
    );
    let before = app.get("/api/v1/metrics").await.body;
    for (value, reason) in [
        ("soon", "invalid duration \"soon\""),
        ("-5m", "negative duration"),
        ("5d", "invalid duration"),
    ] {
        let r = app
            .send_with(
                "PUT",
                "/metrics/job/b",
                b"x 2\n".to_vec(),
                &[(HEADER, value)],
            )
            .await;
        assert_eq!(r.status, 400, "{value}");
        assert!(
            r.body.starts_with("Pushgateway-Expire-After: ") && r.body.contains(reason),
            "{value}: {}",
            r.body
        );
        // A new group is not created either.
        let r = app
            .send_with(
                "PUT",
                "/metrics/job/new",
                b"x 2\n".to_vec(),
                &[(HEADER, value)],
            )
            .await;
        assert_eq!(r.status, 400);
    }
    assert_eq!(app.get("/api/v1/metrics").await.body, before);
    let history: Value =
        serde_json::from_str(&app.get("/api/v1/history?outcome=rejected").await.body).unwrap();
    let rejected = history["data"]["pushes"].as_array().unwrap();
    assert_eq!(rejected.len(), 6, "{history}");
    assert!(rejected[0]["error"]
        .as_str()
        .unwrap()
        .starts_with("Pushgateway-Expire-After: "));
}

/// The history records each expiry as method EXPIRE with the group, and the own counter counts
/// it.
#[actix_web::test]
async fn the_history_shows_the_expiry_and_the_counter_counts_it() {
    let app = spawn_app(&[]).await;
    assert!(app
        .get("/metrics")
        .await
        .body
        .contains("pushgateway_groups_expired_total 0\n"));
    assert_eq!(
        push_expiring(&app, "/metrics/job/h/instance/one", "x 1\n", "500ms").await,
        200
    );
    let deadline = expires_at(&app, "h").await.unwrap();
    wait_until_gone(&app, "x{instance=\"one\",job=\"h\"}", deadline).await;
    let history: Value = serde_json::from_str(&app.get("/api/v1/history").await.body).unwrap();
    let newest = &history["data"]["pushes"][0];
    assert_eq!(newest["method"], "EXPIRE", "{history}");
    assert_eq!(newest["outcome"], "accepted");
    assert_eq!(newest["grouping_key"], "{instance=\"one\",job=\"h\"}");
    assert!(newest["time_ns"].as_i64().unwrap() >= deadline.as_nanosecond() as i64);
    assert!(app.get("/metrics").await.body.contains(
        "# TYPE pushgateway_groups_expired_total counter\npushgateway_groups_expired_total 1\n"
    ));
}

/// A push that arrives as its group expires is never lost: right after it is acknowledged its
/// value is there, whether it renewed the group or created it anew.
#[actix_web::test]
async fn a_push_meeting_an_expiry_renews_or_recreates_the_group() {
    let app = spawn_app(&[]).await;
    assert_eq!(
        push_expiring(&app, "/metrics/job/race", "v 0\n", "300ms").await,
        200
    );
    for i in 1..=12 {
        let deadline = expires_at(&app, "race").await;
        // Around the deadline: from 60 ms before to 60 ms after, in steps.
        let offset = jiff::SignedDuration::from_millis(-60 + 10 * (i % 13));
        if let Some(deadline) = deadline {
            while Timestamp::now() < deadline + offset {
                actix_web::rt::time::sleep(Duration::from_millis(2)).await;
            }
        }
        let status = push_expiring(&app, "/metrics/job/race", &format!("v {i}\n"), "300ms").await;
        assert_eq!(status, 200);
        let pushed = app.pushed().await;
        assert!(
            pushed.contains(&format!("v{{instance=\"\",job=\"race\"}} {i}\n")),
            "push {i} lost: {pushed}"
        );
    }
}

fn groups_in_file(db: &std::path::Path) -> i64 {
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    conn.query_row("SELECT count(*) FROM metric_groups", [], |r| r.get(0))
        .unwrap()
}

/// A restart before the deadline keeps the deadline: the group is there after the restart and
/// gone within a second of the deadline.
#[actix_web::test]
async fn a_restart_before_the_deadline_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("pg.db");
    let first = Process::start(&db, &[]);
    let c = first.client();
    assert_eq!(
        push_expiring(&c, "/metrics/job/kept/instance/i", "x 1\n", "2s").await,
        200
    );
    let deadline = expires_at(&c, "kept").await.unwrap();
    assert!(first.terminate().success());

    let second = Process::start(&db, &[]);
    let c = second.client();
    assert!(
        Timestamp::now() < deadline,
        "the restart took longer than the group's lifetime"
    );
    assert_eq!(expires_at(&c, "kept").await, Some(deadline));
    wait_until_gone(&c, "x{instance=\"i\",job=\"kept\"} 1", deadline).await;
    assert_eq!(groups_in_file(&db), 0);
}

/// A group whose deadline passed while the gateway was stopped is gone before anything is
/// served, and its expiry is recorded in the history.
#[actix_web::test]
async fn a_restart_after_the_deadline_expires_it_before_serving() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("pg.db");
    let first = Process::start(&db, &[]);
    let c = first.client();
    assert_eq!(
        push_expiring(&c, "/metrics/job/late/instance/i", "x 1\n", "2s").await,
        200
    );
    assert_eq!(c.put("/metrics/job/stays", "y 1\n").await.status, 200);
    let deadline = expires_at(&c, "late").await.unwrap();
    // Stopped hard, so nothing at shutdown could have removed it.
    first.kill9();
    while Timestamp::now() < deadline + jiff::SignedDuration::from_millis(300) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(groups_in_file(&db), 2, "still stored while stopped");

    let second = Process::start(&db, &[]);
    let c = second.client();
    // The first answer after ready already lacks it.
    let pushed = c.pushed().await;
    assert!(!pushed.contains("late"), "{pushed}");
    assert!(pushed.contains("y{instance=\"\",job=\"stays\"} 1"));
    assert_eq!(groups_in_file(&db), 1);
    let history: Value = serde_json::from_str(&c.get("/api/v1/history").await.body).unwrap();
    let newest = &history["data"]["pushes"][0];
    assert_eq!(newest["method"], "EXPIRE", "{history}");
    assert_eq!(newest["grouping_key"], "{instance=\"i\",job=\"late\"}");
}
