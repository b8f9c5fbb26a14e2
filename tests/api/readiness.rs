//! Start-up order: the listeners answer before the cache is warm; until it is, `/-/healthy`
//! is 200 and every other route 503, and nothing pushed in that phase is applied.
//! See: issue #8, "`/-/ready` answers 503 until the cache is warm".

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::helpers::{get_status, Process};

const GROUPS: usize = 24;
const SERIES_PER_GROUP: usize = 10_000;

/// A database with `GROUPS × SERIES_PER_GROUP` series, written by the real server.
async fn large_database(db: &std::path::Path) {
    let p = Process::start(db, &["--history.max-rows=0"]);
    let c = p.client();
    for chunk in (0..GROUPS).collect::<Vec<_>>().chunks(4) {
        let pushes = chunk.iter().map(|g| {
            let mut body = String::from("# TYPE big gauge\n");
            for s in 0..SERIES_PER_GROUP {
                body.push_str(&format!("big{{s=\"{s}\"}} {s}\n"));
            }
            let path = format!("/metrics/job/big/instance/{g}");
            let c = &c;
            async move { c.put(&path, &body).await.status }
        });
        for status in futures_util::future::join_all(pushes).await {
            assert_eq!(status, 200);
        }
    }
    assert!(p.terminate().success());
}

/// A raw request on a blocking connection: the status code, or `None` when nothing answers.
fn request(addr: SocketAddr, method: &str, path: &str, body: &str) -> Option<u16> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response.split_whitespace().nth(1)?.parse().ok()
}

#[actix_web::test]
async fn before_the_cache_is_warm_only_healthy_answers_200_and_no_push_is_applied() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("pg.db");
    large_database(&db).await;

    let started = Instant::now();
    let p = Process::spawn(&db, &[]);
    let addr = p.addr;
    let healthy = get_status(addr, "/-/healthy");
    let ready = get_status(addr, "/-/ready");
    let push = request(addr, "PUT", "/metrics/job/cold", "cold 1\n");
    let delete = request(addr, "DELETE", "/metrics/job/big/instance/0", "");
    let scrape = get_status(addr, "/metrics");
    let still_cold = get_status(addr, "/-/ready");
    let cold_phase = started.elapsed();
    assert_eq!(
        still_cold,
        Some(503),
        "the cache warmed within {cold_phase:?}: make the database larger"
    );
    assert_eq!(
        healthy,
        Some(200),
        "/-/healthy answers as soon as it serves"
    );
    assert_eq!(ready, Some(503), "/-/ready waits for the cache");
    assert_eq!(push, Some(503), "a push is refused while the cache is cold");
    assert_eq!(
        delete,
        Some(503),
        "a delete is refused while the cache is cold"
    );
    assert_eq!(
        scrape,
        Some(503),
        "no incomplete /metrics while the cache is cold"
    );

    assert!(p.wait_ready(Duration::from_secs(120)), "the cache warms");
    println!(
        "cold-phase checks done after {cold_phase:?}, ready after {:?}",
        started.elapsed()
    );
    let metrics = p.client().get("/metrics").await.body;
    assert!(!metrics.contains("cold"), "the cold push was not applied");
    for g in 0..GROUPS {
        assert!(
            metrics.contains(&format!(
                "big{{instance=\"{g}\",job=\"big\",s=\"9999\"}} 9999\n"
            )),
            "group {g} is complete"
        );
    }
    assert_eq!(get_status(addr, "/-/healthy"), Some(200));
}
