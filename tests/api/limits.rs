//! `--push.max-body-bytes`, `--push.max-series-per-push`, `--push.max-series-total`: bodies
//! and pushes just under and just over each limit.

use std::io::Write;

use flate2::write::GzEncoder;
use flate2::Compression;

use crate::helpers::spawn_app;

/// A valid text body of exactly `len` bytes: one sample and a padding comment.
fn body_of_len(len: usize) -> String {
    let body = format!("a 1\n#{}\n", "x".repeat(len - 6));
    assert_eq!(body.len(), len);
    body
}

fn series(n: usize) -> String {
    (0..n).map(|i| format!("s{{i=\"{i}\"}} 1\n")).collect()
}

#[actix_web::test]
async fn a_body_at_the_limit_is_accepted_and_one_byte_more_is_413() {
    let app = spawn_app(&["--push.max-body-bytes=64"]).await;
    let r = app.put("/metrics/job/at", &body_of_len(64)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app.put("/metrics/job/over", &body_of_len(65)).await;
    assert_eq!(r.status, 413);
    assert!(r.body.contains("--push.max-body-bytes"), "{}", r.body);
    assert!(r.body.contains("64 bytes"), "{}", r.body);
    let pushed = app.pushed().await;
    assert!(pushed.contains("job=\"at\""), "{pushed}");
    assert!(!pushed.contains("job=\"over\""), "{pushed}");
}

#[actix_web::test]
async fn the_body_limit_applies_to_the_decoded_body_too() {
    let app = spawn_app(&["--push.max-body-bytes=100"]).await;
    let gzip = |body: &str| {
        let mut e = GzEncoder::new(Vec::new(), Compression::best());
        e.write_all(body.as_bytes()).unwrap();
        e.finish().unwrap()
    };
    let at = gzip(&body_of_len(100));
    let over = gzip(&body_of_len(101));
    assert!(
        over.len() < 100,
        "the compressed body itself is under the limit"
    );
    let headers = [("content-encoding", "gzip")];
    let r = app.send_with("PUT", "/metrics/job/at", at, &headers).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app
        .send_with("PUT", "/metrics/job/over", over, &headers)
        .await;
    assert_eq!(r.status, 413, "{}", r.body);
}

#[actix_web::test]
async fn with_the_flag_at_0_large_bodies_are_accepted() {
    let app = spawn_app(&["--push.max-body-bytes=0"]).await;
    let r = app.put("/metrics/job/big", &body_of_len(1 << 20)).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[actix_web::test]
async fn a_push_at_the_series_limit_is_accepted_and_one_more_is_400() {
    let app = spawn_app(&["--push.max-series-per-push=3"]).await;
    assert_eq!(app.put("/metrics/job/at", &series(3)).await.status, 200);
    let r = app.put("/metrics/job/over", &series(4)).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body,
        "push has more than 3 series, the limit set by --push.max-series-per-push\n"
    );
    // Refused before the store: not even a failed-push record.
    assert!(!app.get("/metrics").await.body.contains("job=\"over\""));
}

#[actix_web::test]
async fn the_total_series_limit_counts_every_stored_series() {
    // Each group also stores push_time_seconds and push_failure_time_seconds.
    let app = spawn_app(&["--push.max-series-total=7"]).await;
    assert_eq!(app.put("/metrics/job/a", &series(1)).await.status, 200); // 3 stored
    assert_eq!(app.put("/metrics/job/b", &series(2)).await.status, 200); // 7: at the limit
    let r = app.put("/metrics/job/c", &series(1)).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body,
        "push would raise the stored series to 10, more than the limit of 7 set by --push.max-series-total\n"
    );
    assert!(!app.get("/metrics").await.body.contains("job=\"c\""));
    // Replacing a group with as many series as it had is fine at the limit; growing it is not.
    assert_eq!(app.put("/metrics/job/a", &series(1)).await.status, 200);
    assert_eq!(app.post("/metrics/job/a", "other 1\n").await.status, 400);
    // Deleting makes room.
    assert_eq!(app.delete("/metrics/job/b").await.status, 202);
    assert_eq!(app.put("/metrics/job/c", &series(1)).await.status, 200);
}
