//! Load benchmark: prefill a real gateway process with 50k and 500k series, then measure
//! push throughput and latency, `/metrics` time and size, resident memory and restart time.
//!
//! Run: `cargo bench --bench load` (release build). `BENCH_SIZES=1000` limits the runs to
//! the given group counts (comma-separated); each group has 50 series. Loopback only.
//! Then the cost and data-loss window of Litestream replication (`BENCH_LITESTREAM=0` skips it;
//! Litestream comes from `scripts/install-ha-deps.sh`).

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
            // As contrib/systemd/pushgateway.service runs it: fewer glibc malloc arenas.
            .env("MALLOC_ARENA_MAX", "2")
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
        wait_ready(addr);
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

/// Waits until `/-/ready` answers 200: the cache warms after the listener is bound.
fn wait_ready(addr: SocketAddr) {
    use std::io::{Read, Write};
    let deadline = Instant::now() + Duration::from_secs(300);
    while Instant::now() < deadline {
        let status = std::net::TcpStream::connect(addr).ok().and_then(|mut s| {
            write!(s, "GET /-/ready HTTP/1.0\r\n\r\n").ok()?;
            let mut response = String::new();
            s.read_to_string(&mut response).ok()?;
            response.split_whitespace().nth(1).map(str::to_string)
        });
        if status.as_deref() == Some("200") {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("gateway at {addr} not ready");
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
    // The OpenMetrics scrape below needs its flag.
    let gw = Gateway::start_with(&db, &["--web.enable-openmetrics"]);
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
        if std::env::var("BENCH_LITESTREAM").as_deref() != Ok("0") {
            litestream::bench().await;
        }
    });
}

/// What Litestream costs next to the gateway and what it loses: push throughput and latency
/// without and with `litestream replicate -exec` (file replica, the shipped
/// `contrib/litestream/litestream.yml`), then the data-loss window at those intervals, measured
/// by killing the whole process group and restoring. `BENCH_LITESTREAM=0` skips it; Litestream
/// comes from `scripts/install-ha-deps.sh`.
mod litestream {
    use std::os::unix::process::CommandExt;

    use super::*;

    const LITESTREAM: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/target/ha-venv/bin/litestream");
    const CONFIG: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/contrib/litestream/litestream.yml"
    );
    const GROUPS: usize = 1_000;
    const LOSS_RUNS: usize = 3;
    const LOSS_PUSHING: Duration = Duration::from_secs(3);

    /// The gateway as the child of Litestream, in a process group of its own.
    struct Replicated {
        child: Child,
        addr: SocketAddr,
    }

    impl Replicated {
        fn start(data: &Path, replica: &Path) -> Replicated {
            std::fs::create_dir_all(data).expect("data directory");
            let addr = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("free port");
            let exec = format!(
                "{} --persistence.file={}/pgw.db --web.listen-address={addr} --log.level=warn",
                env!("CARGO_BIN_EXE_pushgateway"),
                data.display()
            );
            let child = Command::new(LITESTREAM)
                .args(["replicate", "-config", CONFIG, "-restore-if-db-not-exists"])
                .args(["-exec", &exec])
                .env("PGW_DATA", data)
                .env("PGW_REPLICA_URL", format!("file://{}", replica.display()))
                .env_remove("AWS_CA_BUNDLE")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn()
                .expect("start litestream");
            wait_ready(addr);
            Replicated { child, addr }
        }

        /// `kill -9` of Litestream and the gateway together: the machine is gone.
        fn kill_group(mut self) {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", self.child.id())])
                .status();
            let _ = self.child.wait();
        }
    }

    async fn measure(client: &reqwest::Client, addr: SocketAddr, label: &str) {
        run_concurrently(client, addr, GROUPS, GROUPS, 0).await;
        let start = Instant::now();
        let mut times = run_concurrently(client, addr, GROUPS, THROUGHPUT_PUSHES, 1).await;
        let elapsed = start.elapsed();
        times.sort();
        let mut single = Vec::new();
        for i in 0..LATENCY_PUSHES {
            single.push(push(client, addr, (i * 7919) % GROUPS, 2).await);
        }
        single.sort();
        println!(
            "{label}: {:.0} pushes/s with {CONCURRENT_CLIENTS} clients (p50 {:.2} ms, p99 {:.2} ms); \
             one client p50 {:.2} ms, p99 {:.2} ms",
            THROUGHPUT_PUSHES as f64 / elapsed.as_secs_f64(),
            percentile(&times, 0.5).as_secs_f64() * 1e3,
            percentile(&times, 0.99).as_secs_f64() * 1e3,
            percentile(&single, 0.5).as_secs_f64() * 1e3,
            percentile(&single, 0.99).as_secs_f64() * 1e3,
        );
    }

    /// One machine-loss run: pushes new groups one after another, kills the process group,
    /// restores, and returns (pushes acknowledged, pushes lost, age at the kill of the oldest
    /// lost push).
    async fn loss_run(client: &reqwest::Client, dir: &Path) -> (usize, usize, Duration) {
        let replica = dir.join("replica");
        let gw = Replicated::start(&dir.join("data"), &replica);
        let mut acks = Vec::new();
        let start = Instant::now();
        while start.elapsed() < LOSS_PUSHING {
            let group = acks.len();
            push(client, gw.addr, group, 0).await;
            acks.push((group, Instant::now()));
        }
        let killed = Instant::now();
        gw.kill_group();

        let restored = dir.join("restored.db");
        let status = Command::new(LITESTREAM)
            .args(["restore", "-o"])
            .arg(&restored)
            .arg(format!("file://{}", replica.display()))
            .env_remove("AWS_CA_BUNDLE")
            .stderr(Stdio::null())
            .status()
            .expect("litestream restore");
        assert!(status.success(), "litestream restore failed");
        let gw = Gateway::start(&restored);
        let metrics = client
            .get(format!("http://{}/metrics", gw.addr))
            .send()
            .await
            .expect("scrape")
            .text()
            .await
            .expect("body");
        gw.kill();
        let lost: Vec<Duration> = acks
            .iter()
            .filter(|(g, _)| {
                !metrics.contains(&format!(
                    "instance=\"i{g}\",job=\"bench{}\",series=\"s0\"",
                    g % 100
                ))
            })
            .map(|(_, t)| killed.saturating_duration_since(*t))
            .collect();
        let window = lost.iter().max().copied().unwrap_or_default();
        (acks.len(), lost.len(), window)
    }

    pub async fn bench() {
        assert!(
            Path::new(LITESTREAM).is_file(),
            "{LITESTREAM} is missing: run scripts/install-ha-deps.sh, or BENCH_LITESTREAM=0 to skip"
        );
        println!(
            "\n== Litestream, file replica, intervals of contrib/litestream/litestream.yml; \
             {GROUPS} groups x {SERIES_PER_GROUP} series =="
        );
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .build()
            .expect("client");
        let dir = tempfile::tempdir().expect("tempdir");

        let plain = Gateway::start(&dir.path().join("plain.db"));
        measure(&client, plain.addr, "without Litestream").await;
        plain.kill();
        let replicated = Replicated::start(&dir.path().join("data"), &dir.path().join("replica"));
        measure(&client, replicated.addr, "with Litestream   ").await;
        replicated.kill_group();

        for run in 0..LOSS_RUNS {
            let run_dir = dir.path().join(format!("loss{run}"));
            let (acked, lost, window) = loss_run(&client, &run_dir).await;
            println!(
                "machine loss {}: {lost} of {acked} acknowledged pushes lost; the oldest lost \
                 was acknowledged {:.0} ms before the kill",
                run + 1,
                window.as_secs_f64() * 1e3
            );
        }
    }
}
