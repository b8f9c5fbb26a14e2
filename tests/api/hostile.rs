//! Hostile requests, one test per kind an attacker tried (issue 12): each is answered in
//! bounded time and memory with a bounded answer, and a normal push and a scrape sent while
//! it is in flight answer in normal time.
//!
//! Bounds are generous (debug builds on a loaded 2-core machine): they separate "linear"
//! from "quadratic" or "unbounded" by a wide margin rather than measure speed. Memory is read
//! from the real binary's peak RSS (`VmHWM`), which nothing else in the process inflates.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use flate2::write::GzEncoder;
use flate2::Compression;
use futures_util::future::{join, join_all};

use crate::helpers::{spawn_app, Reply, TestApp};

/// What a normal push or scrape may take while a hostile request is in flight.
const NORMAL: Duration = Duration::from_secs(5);

const PROTOBUF: &str =
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";

/// A client that waits long enough for a hostile request's answer.
fn patient(addr: SocketAddr) -> TestApp {
    TestApp {
        addr,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(300))
            .pool_idle_timeout(Duration::from_secs(2))
            .build()
            .expect("client"),
    }
}

/// Sends `hostile`, and shortly after a normal push and a scrape on other connections;
/// asserts those answer within [`NORMAL`] and returns the hostile request's answer and time.
async fn while_in_flight(
    app: &TestApp,
    hostile: impl std::future::Future<Output = Reply>,
) -> (Reply, Duration) {
    let started = Instant::now();
    let timed = async {
        let reply = hostile.await;
        (reply, started.elapsed())
    };
    let probes = async {
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        let probe = patient(app.addr);
        let t = Instant::now();
        let push = probe.put("/metrics/job/probe", "probe_metric 1\n").await;
        assert_eq!(push.status, 200, "{}", push.body);
        assert!(t.elapsed() < NORMAL, "a normal push took {:?}", t.elapsed());
        let t = Instant::now();
        let scrape = probe.get("/metrics").await;
        assert_eq!(scrape.status, 200);
        assert!(t.elapsed() < NORMAL, "a scrape took {:?}", t.elapsed());
    };
    join(timed, probes).await.0
}

/// A gzip body that inflates to `decoded` zero bytes: concatenated members of one compressed
/// MiB (Go's reader, and ours, read every member), about 1 KiB per MiB.
fn gzip_bomb(decoded: usize) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::best());
    e.write_all(&vec![0u8; 1 << 20]).unwrap();
    let member = e.finish().unwrap();
    member.repeat(decoded >> 20)
}

/// The real binary with its log lines kept, for peak memory and logs.
struct Binary {
    child: Child,
    addr: SocketAddr,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Binary {
    /// Starts the binary with `args` (plus a loopback port) and waits until it is ready.
    fn start(args: &[&str]) -> Binary {
        let mut command = Command::new(env!("CARGO_BIN_EXE_pushgateway"));
        command.arg("--web.listen-address=127.0.0.1:0").args(args);
        Binary::start_with(command)
    }

    /// Runs `command`, which runs the binary, and waits until the gateway is ready.
    fn start_with(mut command: Command) -> Binary {
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn pushgateway");
        let stderr = child.stderr.take().expect("stderr");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let kept = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                kept.lock().unwrap().push(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let addr = loop {
            assert!(Instant::now() < deadline, "the gateway reported no address");
            let found = lines.lock().unwrap().iter().find_map(|l| {
                l.split("listening on ")
                    .nth(1)
                    .map(|rest| rest.trim_end_matches('"').parse().expect("address"))
            });
            if let Some(addr) = found {
                break addr;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        while !lines
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("msg=ready"))
        {
            assert!(Instant::now() < deadline, "the gateway did not get ready");
            std::thread::sleep(Duration::from_millis(10));
        }
        Binary { child, addr, lines }
    }

    fn app(&self) -> TestApp {
        patient(self.addr)
    }

    /// The process's peak resident memory so far, in MiB.
    fn peak_rss_mib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("/proc status");
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .expect("VmHWM");
        kib / 1024
    }

    fn log(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[actix_web::test]
async fn thousands_of_identical_lines_are_refused_at_once_naming_the_first_ten() {
    // Each duplicate used to decode the whole family again, under the writer lock:
    // quadratic, 10.9 s for this body in a release build, every other push waiting.
    let app = spawn_app(&[]).await;
    let body = "some_metric 1\n".repeat(8_000);
    let (reply, took) = while_in_flight(&app, app.put("/metrics/job/dup", &body)).await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert!(took < Duration::from_secs(20), "took {took:?}");
    assert!(
        reply.body.contains("7999 error(s) occurred:"),
        "{}",
        &reply.body[..200]
    );
    assert_eq!(reply.body.matches("\n* collected metric").count(), 10);
    assert!(
        reply.body.ends_with("\n* ... and 7989 more not shown\n"),
        "{}",
        reply.body
    );
    assert!(reply.body.len() < 8 * 1024, "{} bytes", reply.body.len());
}

#[actix_web::test]
async fn a_line_of_a_hundred_thousand_labels_is_parsed_in_linear_time_off_the_workers() {
    // Each label name was compared with every earlier one, on an async worker: 9.3 s in a
    // release build, a concurrent scrape stalled 8.5 s.
    let app = spawn_app(&[]).await;
    let labels: Vec<String> = (0..100_000).map(|i| format!("l{i}=\"v\"")).collect();
    let body = format!("m{{{}}} 1\n", labels.join(","));
    let (reply, took) = while_in_flight(&app, app.put("/metrics/job/labels", &body)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(took < Duration::from_secs(30), "took {took:?}");
}

#[actix_web::test]
async fn thousands_of_grouping_labels_are_refused_or_merged_into_each_series() {
    // Each grouping label was found by a linear search through each series' labels: 6.1 s
    // in a release build for a 23 KB URL and a 10 KB body. Every series gets every grouping
    // label, so the push stores 2.4 million labels (800 series × 3,003): by default a key of
    // more than 64 labels is refused before the body is read.
    let path: String = std::iter::once("/metrics/job/j".to_string())
        .chain((0..3_000).map(|i| format!("/l{i}/v")))
        .collect();
    let body: String = (0..800).map(|i| format!("m{{s=\"{i}\"}} 1\n")).collect();
    let app = spawn_app(&[]).await;
    let started = Instant::now();
    let r = app.put(&path, &body).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        r.body,
        "grouping key has 3001 labels, more than the limit of 64 set by --push.max-grouping-labels\n"
    );
    assert!(started.elapsed() < NORMAL);
    // Without the limit the labels are merged, not searched: what is left is writing out the
    // 2.4 million labels; `family::tests` times the merge alone.
    let app = spawn_app(&["--push.max-grouping-labels=0"]).await;
    let (reply, took) = while_in_flight(&app, app.put(&path, &body)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(took < Duration::from_secs(90), "took {took:?}");
}

/// A protobuf body of one gauge family with `count` empty metrics (2 bytes each).
fn empty_metrics(count: usize) -> Vec<u8> {
    let mut family = vec![0x0a, 0x01, b'm', 0x18, 0x01];
    for _ in 0..count {
        family.extend([0x22, 0x00]);
    }
    let mut body = Vec::new();
    prost::encoding::encode_varint(family.len() as u64, &mut body);
    body.extend(family);
    body
}

#[actix_web::test]
async fn a_million_empty_metrics_get_a_short_answer_history_record_log_line_and_page() {
    // The error named every metric: a 112 MB answer, history record, log line and WAL, and a
    // 152 MB status fragment.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("pg.db");
    let gateway = Binary::start(&[&format!("--persistence.file={}", db.display())]);
    let app = gateway.app();
    let body = empty_metrics(1_000_000);
    let (reply, took) = while_in_flight(
        &app,
        app.send_with(
            "PUT",
            "/metrics/job/empty",
            body,
            &[("content-type", PROTOBUF)],
        ),
    )
    .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert!(took < Duration::from_secs(120), "took {took:?}");
    assert!(reply.body.len() < 4 * 1024, "{} bytes", reply.body.len());
    assert!(
        reply.body.contains("1000000 error(s) occurred:"),
        "{}",
        reply.body
    );
    assert!(reply.body.contains("... and 999990 more not shown"));

    let history = app.get("/api/v1/history").await;
    assert_eq!(history.status, 200);
    assert!(history.body.contains("999990 more not shown"));
    assert!(
        history.body.len() < 16 * 1024,
        "{} bytes",
        history.body.len()
    );
    let fragment = app.get("/status/group/job@base64/ZW1wdHk").await;
    assert_eq!(fragment.status, 200, "{}", fragment.body);
    assert!(
        fragment.body.len() < 64 * 1024,
        "{} bytes",
        fragment.body.len()
    );
    let longest = gateway.log().iter().map(String::len).max().unwrap_or(0);
    assert!(longest < 8 * 1024, "a log line of {longest} bytes");
    let wal = std::fs::metadata(dir.path().join("pg.db-wal")).map_or(0, |m| m.len());
    assert!(wal < 4 << 20, "a WAL of {wal} bytes");
    // Each empty metric decoded into 576 bytes while its value messages were inline (772 MiB
    // at the peak); boxed, 96 bytes and the grouping labels every metric gets (about 315 MiB).
    assert!(
        gateway.peak_rss_mib() < 600,
        "{} MiB",
        gateway.peak_rss_mib()
    );
}

#[actix_web::test]
async fn more_series_than_the_default_limit_are_refused_while_parsing() {
    // Empty metrics are 2 bytes of protobuf and hundreds in memory: the default
    // --push.max-series-per-push stops the decoder before it builds them.
    let gateway = Binary::start(&["--persistence.file="]);
    let app = gateway.app();
    let started = Instant::now();
    let r = app
        .send_with(
            "PUT",
            "/metrics/job/many",
            empty_metrics(4_000_000),
            &[("content-type", PROTOBUF)],
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        r.body,
        "push has more than 1000000 series, the limit set by --push.max-series-per-push\n"
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(
        gateway.peak_rss_mib() < 200,
        "{} MiB",
        gateway.peak_rss_mib()
    );
    let lines: String = "a 1\n".repeat(1_500_000);
    let r = app.put("/metrics/job/many", &lines).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("more than 1000000 series"), "{}", r.body);
}

#[actix_web::test]
async fn a_gzip_bomb_is_inflated_only_to_the_body_limit_and_never_on_routes_without_a_body() {
    // A 1 MiB gzip of 1 GiB was inflated in full (1.1 GB RSS) on every route, /-/healthy
    // and 404s included.
    let gateway = Binary::start(&["--persistence.file="]);
    let app = gateway.app();
    let bomb = gzip_bomb(1 << 30);
    assert!(bomb.len() < 2 << 20, "{} bytes", bomb.len());
    let gzip = [("content-encoding", "gzip")];
    let started = Instant::now();
    let r = app
        .send_with("PUT", "/metrics/job/bomb", bomb.clone(), &gzip)
        .await;
    assert_eq!(r.status, 413, "{}", r.body);
    assert!(r.body.contains("67108864 bytes"), "{}", r.body);
    for (method, path, status) in [
        ("GET", "/-/healthy", 200),
        ("GET", "/metrics", 200),
        ("GET", "/no/such/path", 404),
    ] {
        let r = app.send_with(method, path, bomb.clone(), &gzip).await;
        assert_eq!(r.status, status, "{method} {path}: {}", r.body);
    }
    assert!(started.elapsed() < Duration::from_secs(60));
    // The decoded body stops one byte past 64 MiB; nothing near a GiB.
    assert!(
        gateway.peak_rss_mib() < 400,
        "{} MiB",
        gateway.peak_rss_mib()
    );
    // A short broken body still gets upstream's 400, on a route without a body too.
    let r = app
        .send_with("GET", "/-/healthy", b"not gzip at all".to_vec(), &gzip)
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body, "gzip: invalid header\n");
}

#[actix_web::test]
async fn four_gzip_bombs_at_once_stay_bounded_and_leave_scrapes_alone() {
    // Four at once took 2.1 GB, and decompression on the async workers stalled a scrape
    // 5.6 s; now pushes are prepared a core at a time on the blocking pool.
    let gateway = Binary::start(&["--persistence.file="]);
    let app = gateway.app();
    let bomb = gzip_bomb(256 << 20);
    let paths: Vec<String> = (0..4).map(|i| format!("/metrics/job/bomb{i}")).collect();
    let bombs = join_all(
        paths
            .iter()
            .map(|path| app.send_with("PUT", path, bomb.clone(), &[("content-encoding", "gzip")])),
    );
    let (replies, took) = while_in_flight(&app, async {
        let replies = bombs.await;
        for r in &replies {
            assert_eq!(r.status, 413, "{}", r.body);
        }
        replies.into_iter().next().unwrap()
    })
    .await;
    assert_eq!(replies.status, 413);
    assert!(took < Duration::from_secs(120), "took {took:?}");
    assert!(
        gateway.peak_rss_mib() < 700,
        "{} MiB",
        gateway.peak_rss_mib()
    );
}

/// Sends `head` and then one body byte every `every` until an answer arrives or `give_up`
/// passes; returns the answer (empty if none) and when it came.
fn trickle(addr: SocketAddr, head: &str, every: Duration, give_up: Duration) -> (String, Duration) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(every)).unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while started.elapsed() < give_up {
        if stream.write_all(b"a").is_err() {
            break;
        }
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                answer.extend_from_slice(&buf[..n]);
                if answer.windows(4).any(|w| w == b"\r\n\r\n") {
                    // The head is in; the short body follows at once.
                    std::thread::sleep(Duration::from_millis(100));
                    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
                    while let Ok(n) = stream.read(&mut buf) {
                        if n == 0 {
                            break;
                        }
                        answer.extend_from_slice(&buf[..n]);
                    }
                    break;
                }
            }
            Err(_) => {}
        }
    }
    (
        String::from_utf8_lossy(&answer).into_owned(),
        started.elapsed(),
    )
}

#[actix_web::test]
async fn a_body_that_trickles_in_is_answered_408_after_the_read_timeout() {
    // Without a read timeout a body sent at 1 byte/s held its connection forever.
    let app = spawn_app(&["--web.read-timeout=1s"]).await;
    let addr = app.addr;
    let (answer, took) = actix_web::rt::task::spawn_blocking(move || {
        trickle(
            addr,
            "PUT /metrics/job/slow HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n",
            Duration::from_millis(200),
            Duration::from_secs(30),
        )
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");
    assert!(
        answer.contains("request body did not arrive within 1s set by --web.read-timeout"),
        "{answer:?}"
    );
    assert!(answer.to_ascii_lowercase().contains("connection: close"));
    assert!(took < Duration::from_secs(10), "took {took:?}");
    // Nothing was stored, and the gateway serves on.
    assert!(!app.pushed().await.contains("slow"));
}

#[actix_web::test]
async fn a_flood_of_wrong_passwords_is_queued_boundedly_and_scrapes_pass() {
    // Failed bcrypt checks queued on the blocking pool scrapes render on: a logged-in scrape
    // took 4.6 s. Now they wait for one bcrypt thread behind a short queue; past it, 429.
    let dir = tempfile::tempdir().unwrap();
    let hash = bcrypt::hash("s3cret", 10).unwrap();
    let config = dir.path().join("web.yml");
    std::fs::write(&config, format!("basic_auth_users:\n  alice: {hash}\n")).unwrap();
    let app = spawn_app(&[&format!("--web.config.file={}", config.display())]).await;
    let good = [("authorization", "Basic YWxpY2U6czNjcmV0")]; // alice:s3cret
    let bad = [("authorization", "Basic YWxpY2U6d3Jvbmc=")]; // alice:wrong
    let first = patient(app.addr)
        .send_with("GET", "/metrics", Vec::new(), &good)
        .await;
    assert_eq!(first.status, 200, "the first login is checked once");
    let attackers: Vec<TestApp> = (0..96).map(|_| patient(app.addr)).collect();
    let flood = join_all(
        attackers
            .iter()
            .map(|a| a.send_with("GET", "/metrics", Vec::new(), &bad)),
    );
    let logged_in = async {
        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
        let probe = patient(app.addr);
        let t = Instant::now();
        let scrape = probe.send_with("GET", "/metrics", Vec::new(), &good).await;
        assert_eq!(scrape.status, 200);
        assert!(
            t.elapsed() < NORMAL,
            "a logged-in scrape took {:?}",
            t.elapsed()
        );
        let t = Instant::now();
        let push = probe
            .send_with("PUT", "/metrics/job/p", b"p 1\n".to_vec(), &good)
            .await;
        assert_eq!(push.status, 200);
        assert!(
            t.elapsed() < NORMAL,
            "a logged-in push took {:?}",
            t.elapsed()
        );
    };
    let started = Instant::now();
    let (replies, ()) = join(flood, logged_in).await;
    let refused = replies.iter().filter(|r| r.status == 429).count();
    assert!(
        replies.iter().all(|r| r.status == 401 || r.status == 429),
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert!(refused > 0, "the queue refused none of 96");
    let busy = replies.iter().find(|r| r.status == 429).unwrap();
    assert_eq!(busy.headers["retry-after"], "1");
    // At most the queue's worth of bcrypt checks ran, one at a time.
    assert!(started.elapsed() < Duration::from_secs(60));
}

#[actix_web::test]
async fn failed_pushes_create_groups_only_within_the_series_total() {
    // A failed push created its group (two timestamp series) without the limit check: 20
    // invalid pushes to new jobs stored 49 series under a limit of 10.
    let app = spawn_app(&["--push.max-series-total=10"]).await;
    for i in 0..20 {
        let r = app
            .put(&format!("/metrics/job/bad{i}"), "m{__x=\"1\"} 1\n")
            .await;
        assert_eq!(r.status, 400, "{}", r.body);
    }
    let stored = app
        .pushed()
        .await
        .lines()
        .filter(|l| !l.starts_with('#'))
        .count();
    assert!(stored <= 10, "{stored} series stored");
    // Every failure is still in the history.
    let history = app.get("/api/v1/history?limit=100").await;
    assert_eq!(history.body.matches("\"outcome\":\"rejected\"").count(), 20);
}

/// A self-signed certificate for 127.0.0.1 and `web.yml` with TLS and basic auth.
fn tls_with_basic_auth(dir: &Path) -> std::path::PathBuf {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    std::fs::write(dir.join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
    let hash = bcrypt::hash("s3cret", 4).unwrap();
    let config = dir.join("web.yml");
    std::fs::write(
        &config,
        format!(
            "tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n\
             basic_auth_users:\n  alice: {hash}\n"
        ),
    )
    .unwrap();
    config
}

/// `curl` over TLS (certificate not checked) with `--http2` or `--http1.1`: its exit code,
/// the status and protocol version it reports, and what it printed on stderr.
fn curl(args: &[&str], url: &str) -> (i32, String, String) {
    let out = Command::new("curl")
        .args([
            "-sSk",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{http_version}",
        ])
        .args(args)
        .arg(url)
        .output()
        .expect("curl is missing: run scripts/install-test-deps.sh");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[actix_web::test]
async fn refusals_over_http2_are_complete_answers() {
    // A push over HTTP/2 without credentials failed in curl with "Stream error in the HTTP/2
    // framing layer": the 401 went out before the body was read, then the stream was reset.
    let dir = tempfile::tempdir().unwrap();
    let config = tls_with_basic_auth(dir.path());
    let app = spawn_app(&[
        &format!("--web.config.file={}", config.display()),
        "--push.max-body-bytes=50000",
    ])
    .await;
    let body = dir.path().join("body");
    let series = |n: usize| -> String { (0..n).map(|i| format!("m{{i=\"{i}\"}} 1\n")).collect() };
    std::fs::write(&body, series(3_000)).unwrap();
    let big = dir.path().join("big");
    std::fs::write(&big, series(10_000)).unwrap();
    let url = format!("https://{}/metrics/job/h2", app.addr);
    let data = format!("@{}", body.display());
    let big_data = format!("@{}", big.display());
    let cases: [(&[&str], &str); 6] = [
        (&["--http2", "-X", "PUT", "--data-binary", &data], "401 2"),
        (
            &["--http1.1", "-X", "PUT", "--data-binary", &data],
            "401 1.1",
        ),
        (
            &[
                "--http2",
                "-u",
                "alice:wrong",
                "-X",
                "PUT",
                "--data-binary",
                &data,
            ],
            "401 2",
        ),
        (
            &[
                "--http2",
                "-u",
                "alice:s3cret",
                "-X",
                "PUT",
                "--data-binary",
                &big_data,
            ],
            "413 2",
        ),
        (
            &[
                "--http2",
                "-u",
                "alice:s3cret",
                "-X",
                "PUT",
                "--data-binary",
                &data,
            ],
            "200 2",
        ),
        (
            &[
                "--http2",
                "-u",
                "alice:s3cret",
                "-X",
                "POST",
                "--data-binary",
                &data,
            ],
            "200 2",
        ),
    ];
    for (args, expected) in cases {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let url = url.clone();
        let shown = args.join(" ");
        let (code, answer, stderr) = actix_web::rt::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            curl(&args, &url)
        })
        .await
        .unwrap();
        assert_eq!(
            (code, answer.as_str()),
            (0, expected),
            "curl {shown}: {stderr}"
        );
    }
    // A body on a route that takes none, and an API route, over HTTP/2.
    for path in ["/-/healthy", "/api/v1/status"] {
        let url = format!("https://{}{path}", app.addr);
        let data = data.clone();
        let (code, answer, stderr) = actix_web::rt::task::spawn_blocking(move || {
            curl(
                &[
                    "--http2",
                    "-u",
                    "alice:s3cret",
                    "-X",
                    "POST",
                    "--data-binary",
                    &data,
                ],
                &url,
            )
        })
        .await
        .unwrap();
        assert_eq!(code, 0, "{path}: {stderr}");
        assert!(answer.ends_with(" 2"), "{path}: {answer}");
    }
}

#[actix_web::test]
async fn a_database_locked_by_another_process_is_named_and_nothing_is_acknowledged() {
    // Every push answered "500 Internal Server Error" with no reason.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("pg.db");
    let gateway = Binary::start(&[&format!("--persistence.file={}", db.display())]);
    let app = gateway.app();
    assert_eq!(app.put("/metrics/job/before", "m 1\n").await.status, 200);
    // Another process's write transaction, held past the gateway's 5 s busy timeout.
    let holder = rusqlite::Connection::open(&db).unwrap();
    holder
        .execute_batch("BEGIN IMMEDIATE; UPDATE metric_groups SET created_ns = created_ns;")
        .unwrap();
    let (push, healthy) = join(
        app.put("/metrics/job/locked", "m 2\n"),
        app.get("/-/healthy"),
    )
    .await;
    let second = app.put("/metrics/job/locked", "m 3\n").await;
    holder.execute_batch("ROLLBACK").unwrap();
    for r in [&push, &second] {
        assert_eq!(r.status, 503, "{}", r.body);
        assert_eq!(r.body, "database is locked\n");
        assert_eq!(r.headers["retry-after"], "1");
    }
    assert_eq!(healthy.status, 503, "{}", healthy.body);
    assert_eq!(healthy.body, "database is locked\n");
    // Nothing refused was stored; the gateway recovers by itself.
    assert!(!app.pushed().await.contains("locked"));
    assert_eq!(app.get("/-/healthy").await.status, 200);
    assert_eq!(app.put("/metrics/job/locked", "m 4\n").await.status, 200);
    assert!(app
        .pushed()
        .await
        .contains("m{instance=\"\",job=\"locked\"} 4"));
    // One line for the outage, one for the recovery.
    let log = gateway.log();
    let outage: Vec<_> = log
        .iter()
        .filter(|l| l.contains("database unavailable"))
        .collect();
    assert_eq!(outage.len(), 1, "{log:#?}");
    assert!(outage[0].contains("database is locked"), "{}", outage[0]);
    assert_eq!(
        log.iter()
            .filter(|l| l.contains("database available again"))
            .count(),
        1,
        "{log:#?}"
    );
}

#[actix_web::test]
async fn a_full_disk_is_named_and_nothing_is_acknowledged() {
    // Every push answered "500 Internal Server Error" with no reason. The database lives on a
    // 2 MiB tmpfs mounted in a mount namespace of its own (no root needed).
    let dir = tempfile::tempdir().unwrap();
    let script = format!(
        "mount -t tmpfs -o size=2m tmpfs '{dir}' && exec '{bin}' \
         --web.listen-address=127.0.0.1:0 --persistence.file='{dir}/pg.db' --history.max-rows=0",
        dir = dir.path().display(),
        bin = env!("CARGO_BIN_EXE_pushgateway"),
    );
    Command::new("unshare")
        .arg("--version")
        .output()
        .expect("unshare (util-linux) is missing: run scripts/install-test-deps.sh");
    let mut unshare = Command::new("unshare");
    unshare.args(["--user", "--map-root-user", "--mount", "sh", "-c", &script]);
    let gateway = Binary::start_with(unshare);
    let app = gateway.app();
    let body: String = (0..2_000)
        .map(|i| format!("m{{i=\"{i}\",pad=\"{}\"}} 1\n", "x".repeat(200)))
        .collect();
    let mut full = Vec::new();
    for i in 0..40 {
        let r = app.put(&format!("/metrics/job/full{i}"), &body).await;
        if r.status == 200 {
            assert!(full.is_empty(), "a push passed after the disk was full");
            continue;
        }
        full.push((i, r));
        if full.len() == 2 {
            break;
        }
    }
    assert_eq!(full.len(), 2, "the disk never filled up");
    for (_, r) in &full {
        assert_eq!(r.status, 507, "{}", r.body);
        assert_eq!(r.body, "disk full\n");
    }
    let healthy = app.get("/-/healthy").await;
    assert_eq!(
        (healthy.status, healthy.body.as_str()),
        (507, "disk full\n")
    );
    // Nothing refused was stored, and what was acknowledged is there.
    let pushed = app.pushed().await;
    let (first_refused, _) = &full[0];
    assert!(!pushed.contains(&format!("job=\"full{first_refused}\"")));
    assert!(pushed.contains("job=\"full0\""));
    let log = gateway.log();
    assert_eq!(
        log.iter()
            .filter(|l| l.contains("database unavailable: disk full"))
            .count(),
        1,
        "{log:#?}"
    );
}

#[actix_web::test]
async fn a_redirect_location_is_escaped_so_it_names_no_other_host() {
    let app = spawn_app(&[]).await;
    let (status, response) = crate::helpers::raw_request(
        app.addr,
        "GET /\\evil.com/./ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 307, "{response}");
    let location = response
        .lines()
        .find_map(|l| l.strip_prefix("location: "))
        .expect("a location");
    assert_eq!(location, "/%5Cevil.com/");
}

#[actix_web::test]
async fn the_history_is_not_readable_by_other_sites() {
    let app = spawn_app(&[]).await;
    app.put("/metrics/job/a", "m 1\n").await;
    let r = app
        .send_with(
            "GET",
            "/api/v1/history",
            Vec::new(),
            &[("origin", "http://evil.example")],
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(
        !r.headers
            .keys()
            .any(|h| h.as_str().starts_with("access-control-")),
        "{:?}",
        r.headers
    );
    let bad = app.get("/api/v1/history?limit=x").await;
    assert_eq!(bad.status, 400);
    assert!(!bad.headers.contains_key("access-control-allow-origin"));
    // The rest of the API keeps upstream's CORS headers.
    let status = app.get("/api/v1/status").await;
    assert_eq!(status.headers["access-control-allow-origin"], "*");
}
