//! Load benchmark: prefill a real gateway process with 50k and 500k series, then measure
//! push throughput and latency, `/metrics` time and size, resident memory and restart time.
//!
//! Run: `cargo bench --bench load` (release build). `BENCH_SIZES=1000` limits the runs to
//! the given group counts (comma-separated); each group has 50 series. Loopback only.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SERIES_PER_GROUP: usize = 50;
const CONCURRENT_CLIENTS: usize = 32;
const THROUGHPUT_PUSHES: usize = 4000;
const LATENCY_PUSHES: usize = 500;
const SCRAPES: usize = 5;

struct Gateway {
    child: Child,
    addr: SocketAddr,
}

impl Gateway {
    fn start(db: &Path) -> Gateway {
        Gateway::start_with(db, &[])
    }

    fn start_with(db: &Path, extra: &[&str]) -> Gateway {
        let mut child = Command::new(env!("CARGO_BIN_EXE_pushgateway"))
            .args(["--web.listen-address=127.0.0.1:0", "--log.level=info"])
            .arg(format!("--persistence.file={}", db.display()))
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start pushgateway");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = line.split("msg=\"listening on ").nth(1) {
                    let _ = tx.send(addr.trim_end_matches('"').to_string());
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(120))
            .expect("gateway address")
            .parse()
            .expect("address");
        Gateway { child, addr }
    }

    fn rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
            .unwrap_or(0.0)
    }

    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn group_body(group: usize, round: usize) -> String {
    let mut body =
        String::from("# HELP bench_value A benchmark value.\n# TYPE bench_value gauge\n");
    for s in 0..SERIES_PER_GROUP {
        body.push_str(&format!(
            "bench_value{{series=\"s{s}\",shard=\"{}\"}} {}\n",
            group % 16,
            round * 1000 + s
        ));
    }
    body
}

fn push_url(addr: SocketAddr, group: usize) -> String {
    format!(
        "http://{addr}/metrics/job/bench{}/instance/i{group}",
        group % 100
    )
}

async fn push(client: &reqwest::Client, addr: SocketAddr, group: usize, round: usize) -> Duration {
    let start = Instant::now();
    let r = client
        .put(push_url(addr, group))
        .body(group_body(group, round))
        .send()
        .await
        .expect("push");
    assert!(r.status().is_success(), "push failed: {}", r.status());
    start.elapsed()
}

async fn run_concurrently(
    client: &reqwest::Client,
    addr: SocketAddr,
    groups: usize,
    pushes: usize,
    round: usize,
) -> Vec<Duration> {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENT_CLIENTS {
        let (client, next) = (client.clone(), next.clone());
        tasks.push(actix_web::rt::spawn(async move {
            let mut times = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= pushes {
                    break;
                }
                times.push(push(&client, addr, i % groups, round).await);
            }
            times
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("task"));
    }
    all
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// How a scrape asks for `/metrics`.
#[derive(Clone, Copy)]
enum Scrape {
    Text,
    TextGzip,
    OpenMetrics,
    Protobuf,
}

impl Scrape {
    fn label(self) -> &'static str {
        match self {
            Scrape::Text => "text",
            Scrape::TextGzip => "text, gzip",
            Scrape::OpenMetrics => "OpenMetrics",
            Scrape::Protobuf => "protobuf",
        }
    }
}

async fn scrape(client: &reqwest::Client, addr: SocketAddr, how: Scrape) -> (Duration, usize) {
    let start = Instant::now();
    let req = client.get(format!("http://{addr}/metrics"));
    let req = match how {
        Scrape::Text => req,
        Scrape::TextGzip => req.header("Accept-Encoding", "gzip"),
        Scrape::OpenMetrics => req.header("Accept", "application/openmetrics-text;version=1.0.0"),
        Scrape::Protobuf => req.header(
            "Accept",
            "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited",
        ),
    };
    let body = req
        .send()
        .await
        .expect("scrape")
        .bytes()
        .await
        .expect("body");
    (start.elapsed(), body.len())
}

async fn bench(groups: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("bench.db");
    let gw = Gateway::start(&db);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .expect("client");
    let series = groups * SERIES_PER_GROUP;
    println!("\n== {groups} groups x {SERIES_PER_GROUP} series = {series} series ==");

    let start = Instant::now();
    run_concurrently(&client, gw.addr, groups, groups, 0).await;
    println!("prefill: {:.1} s", start.elapsed().as_secs_f64());

    let start = Instant::now();
    let mut times = run_concurrently(&client, gw.addr, groups, THROUGHPUT_PUSHES, 1).await;
    let elapsed = start.elapsed();
    times.sort();
    println!(
        "push throughput, {CONCURRENT_CLIENTS} clients: {:.0} pushes/s ({:.0} series/s); latency p50 {:.2} ms, p99 {:.2} ms",
        THROUGHPUT_PUSHES as f64 / elapsed.as_secs_f64(),
        (THROUGHPUT_PUSHES * SERIES_PER_GROUP) as f64 / elapsed.as_secs_f64(),
        percentile(&times, 0.5).as_secs_f64() * 1e3,
        percentile(&times, 0.99).as_secs_f64() * 1e3,
    );

    let mut times = Vec::new();
    for i in 0..LATENCY_PUSHES {
        times.push(push(&client, gw.addr, (i * 7919) % groups, 2).await);
    }
    times.sort();
    println!(
        "single push (one client): p50 {:.2} ms, p99 {:.2} ms",
        percentile(&times, 0.5).as_secs_f64() * 1e3,
        percentile(&times, 0.99).as_secs_f64() * 1e3
    );

    for how in [
        Scrape::Text,
        Scrape::TextGzip,
        Scrape::OpenMetrics,
        Scrape::Protobuf,
    ] {
        let mut results = Vec::new();
        for _ in 0..SCRAPES {
            results.push(scrape(&client, gw.addr, how).await);
        }
        results.sort();
        let (median, size) = results[SCRAPES / 2];
        println!(
            "/metrics ({}): median {:.1} ms, {:.1} MiB",
            how.label(),
            median.as_secs_f64() * 1e3,
            size as f64 / 1048576.0
        );
    }
    println!("RSS after scrapes: {:.1} MiB", gw.rss_mib());
    let db_size = std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0)
        + std::fs::metadata(dir.path().join("bench.db-wal"))
            .map(|m| m.len())
            .unwrap_or(0);
    println!("database size: {:.1} MiB", db_size as f64 / 1048576.0);

    let (_, full_size) = scrape(&client, gw.addr, Scrape::Text).await;
    gw.kill();
    let start = Instant::now();
    let gw = Gateway::start(&db);
    let (_, size) = scrape(&client, gw.addr, Scrape::Text).await;
    let restart = start.elapsed();
    println!(
        "restart to a full /metrics: {:.0} ms ({} of {} bytes)",
        restart.as_secs_f64() * 1e3,
        size,
        full_size
    );
    println!("RSS after restart: {:.1} MiB", gw.rss_mib());
    gw.kill();
}

fn db_bytes(dir: &Path) -> u64 {
    ["bench.db", "bench.db-wal"]
        .iter()
        .map(|f| std::fs::metadata(dir.join(f)).map(|m| m.len()).unwrap_or(0))
        .sum()
}

/// Push throughput and p99 with the pushed history on and off, and its database cost.
async fn history_cost(groups: usize) {
    println!("\n== pushed history: on vs off ({groups} groups x {SERIES_PER_GROUP} series) ==");
    for (label, extra) in [
        ("history on", &[][..]),
        ("history off", &["--history.max-rows=0"][..]),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("bench.db");
        let gw = Gateway::start_with(&db, extra);
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .build()
            .expect("client");
        run_concurrently(&client, gw.addr, groups, groups, 0).await;
        let before = db_bytes(dir.path());
        let start = Instant::now();
        let mut times = run_concurrently(&client, gw.addr, groups, THROUGHPUT_PUSHES, 1).await;
        let elapsed = start.elapsed();
        times.sort();
        let per_push =
            db_bytes(dir.path()).saturating_sub(before) as f64 / THROUGHPUT_PUSHES as f64;
        println!(
            "{label}: {:.0} pushes/s, p50 {:.2} ms, p99 {:.2} ms; database growth {:.0} bytes/push ({:.2} GiB per 1M pushes of {SERIES_PER_GROUP} series)",
            THROUGHPUT_PUSHES as f64 / elapsed.as_secs_f64(),
            percentile(&times, 0.5).as_secs_f64() * 1e3,
            percentile(&times, 0.99).as_secs_f64() * 1e3,
            per_push,
            per_push * 1e6 / 1073741824.0,
        );
        gw.kill();
    }
}

fn main() {
    // `cargo bench` passes --bench; nothing else is accepted.
    let sizes: Vec<usize> = std::env::var("BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1_000, 10_000]);
    actix_web::rt::System::new().block_on(async {
        for groups in sizes {
            bench(groups).await;
        }
        if std::env::var("BENCH_HISTORY").map_or(true, |v| v != "0") {
            history_cost(1_000).await;
        }
    });
}
