//! Load benchmark: this gateway side by side with the original Pushgateway (Debian's
//! `prometheus-pushgateway`, when installed at `/usr/bin/prometheus-pushgateway`), both real
//! processes on loopback with a persistence file, the load generator in this process.
//!
//! Run: `cargo bench --bench load` (release build). It prints one table, a row per figure,
//! with both gateways, the ratio and the goal; the rounds alternate between the two
//! gateways so that machine noise hits both. A full run takes about 10 minutes on the 2-core
//! development VM; switches run parts of it:
//!
//! * `BENCH_ROUNDS=2`: rounds per figure (the table shows the median).
//! * `BENCH_THROUGHPUT=0`: skips PUT/POST throughput (1,000 groups x 21 series).
//! * `BENCH_STORES=50000,500000`: store sizes in series (groups of 50 series) for prefill,
//!   restart, single-push latency, `/metrics` and memory; empty for none.
//! * `BENCH_ORIGINAL=0`: this gateway only.
//! * `BENCH_OURS=<path>`: runs that binary as this gateway (to compare builds).
//! * `BENCH_HISTORY=0`: skips pushed history on vs off (this gateway only).
//! * `BENCH_LITESTREAM=0`: skips Litestream's cost and data-loss window (this gateway only;
//!   Litestream comes from `scripts/install-ha-deps.sh`).
//!
//! Neither gateway gets `MALLOC_ARENA_MAX`: memory is what a user who starts the binary sees.

mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::wait_ready;

const ORIGINAL: &str = "/usr/bin/prometheus-pushgateway";
const STORE_SERIES_PER_GROUP: usize = 50;
const THROUGHPUT_GROUPS: usize = 1_000;
const THROUGHPUT_SERIES: usize = 21;
const CONNECTIONS: usize = 32;
const PREFILL_CONNECTIONS: usize = 8;
const THROUGHPUT_PUSHES: usize = 4_000;
/// Throughput runs stop taking new pushes after this long (the original takes ~50 s for
/// 4,000 pushes).
const THROUGHPUT_LIMIT: Duration = Duration::from_secs(10);
const LATENCY_PUSHES: usize = 300;
/// Single pushes stop after this long (the original takes ~0.5 s per push at 500k series).
const LATENCY_LIMIT: Duration = Duration::from_secs(15);
const SCRAPES: usize = 5;

/// Which gateway a figure is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Ours,
    Original,
}

struct Gateway {
    child: Child,
    addr: SocketAddr,
}

impl Gateway {
    /// This gateway on a free loopback port, with `db` as its database file.
    fn start(db: &Path) -> Gateway {
        Gateway::start_kind(Kind::Ours, db, &[])
    }

    fn start_kind(kind: Kind, db: &Path, extra: &[&str]) -> Gateway {
        match kind {
            Kind::Ours => Gateway::start_ours(db, extra),
            Kind::Original => Gateway::start_original(db, extra),
        }
    }

    fn start_ours(db: &Path, extra: &[&str]) -> Gateway {
        let binary = std::env::var("BENCH_OURS")
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_pushgateway").to_string());
        let (child, addr) = support::start_gateway(&binary, db, extra);
        Gateway { child, addr }
    }

    fn start_original(db: &Path, extra: &[&str]) -> Gateway {
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port");
        let child = Command::new(ORIGINAL)
            .arg(format!("--web.listen-address={addr}"))
            .arg(format!("--persistence.file={}", db.display()))
            .arg("--log.level=warn")
            .args(extra)
            .env_remove("MALLOC_ARENA_MAX")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the original pushgateway");
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

    /// SIGTERM and wait: the original writes its persistence file on the way out.
    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.kill();
    }
}

/// Waits until `/-/ready` answers 200 (this gateway warms its cache after binding).
fn group_body(group: usize, round: usize, series: usize) -> String {
    let mut body =
        String::from("# HELP bench_value A benchmark value.\n# TYPE bench_value gauge\n");
    for s in 0..series {
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

/// One push of `series` series to `group`; its latency.
async fn push_with(
    client: &reqwest::Client,
    addr: SocketAddr,
    method: reqwest::Method,
    group: usize,
    round: usize,
    series: usize,
) -> Duration {
    let start = Instant::now();
    let r = client
        .request(method, push_url(addr, group))
        .body(group_body(group, round, series))
        .send()
        .await
        .expect("push");
    assert!(r.status().is_success(), "push failed: {}", r.status());
    start.elapsed()
}

async fn push(client: &reqwest::Client, addr: SocketAddr, group: usize, round: usize) -> Duration {
    push_with(
        client,
        addr,
        reqwest::Method::PUT,
        group,
        round,
        STORE_SERIES_PER_GROUP,
    )
    .await
}

/// How a concurrent run pushes.
#[derive(Clone)]
struct Load {
    method: reqwest::Method,
    connections: usize,
    groups: usize,
    series: usize,
    pushes: usize,
    /// No new push starts after this long.
    limit: Option<Duration>,
}

/// Pushes with `load.connections` clients at once; the latencies of the pushes made and the
/// time they took.
async fn run_load(
    client: &reqwest::Client,
    addr: SocketAddr,
    load: &Load,
    round: usize,
) -> (Vec<Duration>, Duration) {
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..load.connections {
        let (client, next, load) = (client.clone(), next.clone(), load.clone());
        tasks.push(actix_web::rt::spawn(async move {
            let mut times = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= load.pushes || load.limit.is_some_and(|l| start.elapsed() > l) {
                    break;
                }
                let group = i % load.groups;
                let method = load.method.clone();
                times.push(push_with(&client, addr, method, group, round, load.series).await);
            }
            times
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("task"));
    }
    (all, start.elapsed())
}

/// The old bench's load: 32 clients, PUT, 50 series a group.
async fn run_concurrently(
    client: &reqwest::Client,
    addr: SocketAddr,
    groups: usize,
    pushes: usize,
    round: usize,
) -> Vec<Duration> {
    let load = Load {
        method: reqwest::Method::PUT,
        connections: CONNECTIONS,
        groups,
        series: STORE_SERIES_PER_GROUP,
        pushes,
        limit: None,
    };
    run_load(client, addr, &load, round).await.0
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// How a scrape asks for `/metrics`.
#[derive(Clone, Copy)]
enum Scrape {
    Text,
    TextGzip,
}

/// One scrape: its time and the body's size as sent (compressed when gzipped).
async fn scrape(client: &reqwest::Client, addr: SocketAddr, how: Scrape) -> (Duration, Vec<u8>) {
    let start = Instant::now();
    let req = client.get(format!("http://{addr}/metrics"));
    let req = match how {
        Scrape::Text => req,
        Scrape::TextGzip => req.header("Accept-Encoding", "gzip"),
    };
    let body = req
        .send()
        .await
        .expect("scrape")
        .bytes()
        .await
        .expect("body");
    (start.elapsed(), body.to_vec())
}

/// The median time and the size of `SCRAPES` scrapes.
async fn scrapes(client: &reqwest::Client, addr: SocketAddr, how: Scrape) -> (Duration, usize) {
    let mut results = Vec::new();
    for _ in 0..SCRAPES {
        let (time, body) = scrape(client, addr, how).await;
        results.push((time, body.len()));
    }
    results.sort();
    results[SCRAPES / 2]
}

/// Groups in a text exposition: one `push_time_seconds` series each.
fn groups_in(text: &[u8]) -> usize {
    text.split(|&b| b == b'\n')
        .filter(|l| l.starts_with(b"push_time_seconds{"))
        .count()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .expect("client")
}

/// One figure of the table: a value per gateway per round.
#[derive(Default)]
struct Figures {
    values: BTreeMap<(usize, Kind), Vec<f64>>,
}

/// A row of the table.
struct Row {
    label: String,
    unit: &'static str,
    /// Higher is better (throughput); else lower is better (time, memory, bytes).
    higher_is_better: bool,
    goal: &'static str,
    /// How the ratio column reads: ours/original (memory, bytes) or the factor in favour of
    /// ours (throughput, time).
    ratio_as_share: bool,
}

struct Table {
    rows: Vec<Row>,
    figures: Figures,
}

impl Table {
    fn new() -> Table {
        Table {
            rows: Vec::new(),
            figures: Figures::default(),
        }
    }

    fn row(
        &mut self,
        label: String,
        unit: &'static str,
        higher_is_better: bool,
        ratio_as_share: bool,
        goal: &'static str,
    ) -> usize {
        if let Some(i) = self.rows.iter().position(|r| r.label == label) {
            return i;
        }
        self.rows.push(Row {
            label,
            unit,
            higher_is_better,
            goal,
            ratio_as_share,
        });
        self.rows.len() - 1
    }

    fn add(&mut self, row: usize, kind: Kind, value: f64) {
        self.figures
            .values
            .entry((row, kind))
            .or_default()
            .push(value);
    }

    fn median(&self, row: usize, kind: Kind) -> Option<f64> {
        let mut v = self.figures.values.get(&(row, kind))?.clone();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        Some(if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        })
    }

    fn print(&self) {
        println!("\n| figure | this gateway | original 1.5.1 | ratio | goal |");
        println!("| --- | --- | --- | --- | --- |");
        for (i, row) in self.rows.iter().enumerate() {
            let ours = self.median(i, Kind::Ours);
            let original = self.median(i, Kind::Original);
            let show = |v: Option<f64>| match v {
                Some(v) => format!("{} {}", number(v), row.unit),
                None => "–".to_string(),
            };
            let ratio = match (ours, original) {
                (Some(o), Some(g)) if o > 0.0 && g > 0.0 => {
                    if row.ratio_as_share {
                        format!("{:.2}", o / g)
                    } else if row.higher_is_better {
                        format!("{:.1}×", o / g)
                    } else {
                        format!("{:.1}×", g / o)
                    }
                }
                _ => "–".to_string(),
            };
            println!(
                "| {} | {} | {} | {} | {} |",
                row.label,
                show(ours),
                show(original),
                ratio,
                row.goal
            );
        }
    }
}

/// Three significant digits, thousands separated.
fn number(v: f64) -> String {
    let digits = if v >= 100.0 {
        0
    } else if v >= 10.0 {
        1
    } else if v >= 1.0 {
        2
    } else {
        3
    };
    let s = format!("{v:.digits$}");
    let (int, frac) = s
        .split_once('.')
        .map_or((s.as_str(), None), |(a, b)| (a, Some(b)));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    match frac {
        Some(f) => format!("{grouped}.{f}"),
        None => grouped,
    }
}

/// Both gateways in an order that alternates with the round.
fn kinds(round: usize, with_original: bool) -> Vec<Kind> {
    let mut kinds = vec![Kind::Ours];
    if with_original {
        kinds.push(Kind::Original);
    }
    if round % 2 == 1 {
        kinds.reverse();
    }
    kinds
}

fn temp_db(dir: &tempfile::TempDir, kind: Kind) -> PathBuf {
    dir.path().join(match kind {
        Kind::Ours => "bench.db",
        Kind::Original => "bench.data",
    })
}

/// PUT and POST throughput with 32 clients into 1,000 prefilled groups of 21 series.
async fn throughput(table: &mut Table, rounds: usize, with_original: bool) {
    let put = table.row(
        format!(
            "PUT throughput, {CONNECTIONS} connections, {THROUGHPUT_GROUPS} groups × {THROUGHPUT_SERIES} series"
        ),
        "/s",
        true,
        false,
        "≥100×",
    );
    let post = table.row(
        "POST throughput, same".to_string(),
        "/s",
        true,
        false,
        "≥100×",
    );
    let client = client();
    for round in 0..rounds {
        for kind in kinds(round, with_original) {
            let dir = tempfile::tempdir().expect("tempdir");
            let gw = Gateway::start_kind(kind, &temp_db(&dir, kind), &[]);
            let mut load = Load {
                method: reqwest::Method::PUT,
                connections: CONNECTIONS,
                groups: THROUGHPUT_GROUPS,
                series: THROUGHPUT_SERIES,
                pushes: THROUGHPUT_GROUPS,
                limit: None,
            };
            run_load(&client, gw.addr, &load, 0).await;
            load.pushes = THROUGHPUT_PUSHES;
            load.limit = Some(THROUGHPUT_LIMIT);
            for (row, method) in [(put, reqwest::Method::PUT), (post, reqwest::Method::POST)] {
                load.method = method.clone();
                let (times, elapsed) = run_load(&client, gw.addr, &load, 1).await;
                let rate = times.len() as f64 / elapsed.as_secs_f64();
                println!(
                    "{kind:?} round {}: {method} {} pushes in {:.2} s: {rate:.0}/s",
                    round + 1,
                    times.len(),
                    elapsed.as_secs_f64()
                );
                table.add(row, kind, rate);
            }
            gw.stop();
        }
    }
}

/// One store size: prefill (8 clients, consistency check off), restart to all groups in
/// `/metrics`, single-push latency, `/metrics` text and gzip, memory after all that.
async fn store(table: &mut Table, series: usize, rounds: usize, with_original: bool) {
    let groups = series / STORE_SERIES_PER_GROUP;
    let size = if series >= 1_000_000 || !series.is_multiple_of(1000) {
        format!("{series} series")
    } else {
        format!("{}k series", series / 1000)
    };
    let big = series >= 500_000;
    let prefill = table.row(
        format!("prefill {size}: {PREFILL_CONNECTIONS} connections into an empty store, consistency check off"),
        "groups/s",
        true,
        false,
        "≥2×",
    );
    let restart = big.then(|| {
        table.row(
            format!("restart to all groups in `/metrics` at {size}"),
            "s",
            false,
            true,
            "keep",
        )
    });
    let latency = big.then(|| {
        (
            table.row(
                format!("single push p50 at {size}"),
                "ms",
                false,
                false,
                "keep",
            ),
            table.row(
                format!("single push p99 at {size}"),
                "ms",
                false,
                false,
                "keep",
            ),
        )
    });
    let scrape_rows = big.then(|| {
        (
            table.row(
                format!("`/metrics` text at {size}"),
                "ms",
                false,
                false,
                "≥25×",
            ),
            table.row(
                format!("`/metrics` text bytes at {size}"),
                "MB",
                false,
                true,
                "–",
            ),
            table.row(
                format!("`/metrics` gzip at {size}"),
                "ms",
                false,
                false,
                "≥25×",
            ),
            table.row(
                format!("`/metrics` gzip bytes at {size}"),
                "MB",
                false,
                true,
                "≤1.10",
            ),
            table.row(
                format!("`/metrics` gzip right after a push at {size}"),
                "ms",
                false,
                false,
                "–",
            ),
        )
    });
    let rss = table.row(
        format!("RSS at {size} after pushes and scrapes"),
        "MiB",
        false,
        true,
        "≤0.5",
    );
    let client = client();
    for round in 0..rounds {
        for kind in kinds(round, with_original) {
            let dir = tempfile::tempdir().expect("tempdir");
            let db = temp_db(&dir, kind);
            let gw = Gateway::start_kind(kind, &db, &["--push.disable-consistency-check"]);
            let load = Load {
                method: reqwest::Method::PUT,
                connections: PREFILL_CONNECTIONS,
                groups,
                series: STORE_SERIES_PER_GROUP,
                pushes: groups,
                limit: None,
            };
            let (_, elapsed) = run_load(&client, gw.addr, &load, 0).await;
            let rate = groups as f64 / elapsed.as_secs_f64();
            println!(
                "{kind:?} round {}, {size}: prefill {groups} groups in {:.2} s: {rate:.0} groups/s",
                round + 1,
                elapsed.as_secs_f64()
            );
            table.add(prefill, kind, rate);
            gw.stop();

            let start = Instant::now();
            let gw = Gateway::start_kind(kind, &db, &[]);
            loop {
                let (_, body) = scrape(&client, gw.addr, Scrape::Text).await;
                if groups_in(&body) >= groups {
                    break;
                }
                assert!(start.elapsed() < Duration::from_secs(300), "groups missing");
            }
            let restarted = start.elapsed();
            println!(
                "{kind:?} round {}, {size}: restart to all {groups} groups in /metrics: {:.2} s",
                round + 1,
                restarted.as_secs_f64()
            );
            if let Some(row) = restart {
                table.add(row, kind, restarted.as_secs_f64());
            }

            let mut times = Vec::new();
            let start = Instant::now();
            while times.len() < LATENCY_PUSHES && start.elapsed() < LATENCY_LIMIT {
                let group = (times.len() * 7919) % groups;
                times.push(push(&client, gw.addr, group, 0).await);
            }
            times.sort();
            let (p50, p99) = (percentile(&times, 0.5), percentile(&times, 0.99));
            println!(
                "{kind:?} round {}, {size}: {} single pushes: p50 {:.2} ms, p99 {:.2} ms",
                round + 1,
                times.len(),
                ms(p50),
                ms(p99)
            );
            if let Some((r50, r99)) = latency {
                table.add(r50, kind, ms(p50));
                table.add(r99, kind, ms(p99));
            }

            // Every group pushed again by 32 clients at once (for at most 10 s), so that the
            // memory figure includes what concurrent pushes leave behind. Pushes after the
            // prefill repeat its values, so that both gateways expose the same samples however
            // many pushes each made (only the push times differ).
            let again = Load {
                connections: CONNECTIONS,
                limit: Some(THROUGHPUT_LIMIT),
                ..load.clone()
            };
            let (pushed, elapsed) = run_load(&client, gw.addr, &again, 0).await;
            println!(
                "{kind:?} round {}, {size}: {} pushes by {CONNECTIONS} clients in {:.2} s",
                round + 1,
                pushed.len(),
                elapsed.as_secs_f64()
            );

            let (text_time, text_bytes) = scrapes(&client, gw.addr, Scrape::Text).await;
            let (gzip_time, gzip_bytes) = scrapes(&client, gw.addr, Scrape::TextGzip).await;
            let mut after_push = Vec::new();
            for i in 0..3 {
                push(&client, gw.addr, i * 31 % groups, 0).await;
                after_push.push(scrape(&client, gw.addr, Scrape::TextGzip).await.0);
            }
            after_push.sort();
            println!(
                "{kind:?} round {}, {size}: /metrics text {:.1} ms ({:.2} MB), gzip {:.1} ms ({:.2} MB), gzip right after a push {:.1} ms",
                round + 1,
                ms(text_time),
                text_bytes as f64 / 1e6,
                ms(gzip_time),
                gzip_bytes as f64 / 1e6,
                ms(after_push[1])
            );
            if let Some((text, text_size, gzip, gzip_size, pushed)) = scrape_rows {
                table.add(text, kind, ms(text_time));
                table.add(text_size, kind, text_bytes as f64 / 1e6);
                table.add(gzip, kind, ms(gzip_time));
                table.add(gzip_size, kind, gzip_bytes as f64 / 1e6);
                table.add(pushed, kind, ms(after_push[1]));
            }
            let mib = gw.rss_mib();
            println!(
                "{kind:?} round {}, {size}: RSS after pushes and scrapes {mib:.1} MiB",
                round + 1
            );
            table.add(rss, kind, mib);
            gw.stop();
        }
    }
}

fn db_bytes(dir: &Path) -> u64 {
    ["bench.db", "bench.db-wal"]
        .iter()
        .map(|f| std::fs::metadata(dir.join(f)).map(|m| m.len()).unwrap_or(0))
        .sum()
}

/// Push throughput and p99 with the pushed history on and off, and its database cost.
async fn history_cost(groups: usize) {
    println!(
        "\n== pushed history: on vs off ({groups} groups x {STORE_SERIES_PER_GROUP} series) =="
    );
    for (label, extra) in [
        ("history on", &[][..]),
        ("history off", &["--history.max-rows=0"][..]),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("bench.db");
        let gw = Gateway::start_kind(Kind::Ours, &db, extra);
        let client = client();
        run_concurrently(&client, gw.addr, groups, groups, 0).await;
        let before = db_bytes(dir.path());
        let start = Instant::now();
        let mut times = run_concurrently(&client, gw.addr, groups, THROUGHPUT_PUSHES, 1).await;
        let elapsed = start.elapsed();
        times.sort();
        let per_push =
            db_bytes(dir.path()).saturating_sub(before) as f64 / THROUGHPUT_PUSHES as f64;
        println!(
            "{label}: {:.0} pushes/s, p50 {:.2} ms, p99 {:.2} ms; database growth {:.0} bytes/push ({:.2} GiB per 1M pushes of {STORE_SERIES_PER_GROUP} series)",
            THROUGHPUT_PUSHES as f64 / elapsed.as_secs_f64(),
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.99)),
            per_push,
            per_push * 1e6 / 1073741824.0,
        );
        gw.kill();
    }
}

fn switch_on(name: &str) -> bool {
    std::env::var(name).map_or(true, |v| v != "0")
}

fn main() {
    // `cargo bench` passes --bench; nothing else is accepted.
    let stores: Vec<usize> = std::env::var("BENCH_STORES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![50_000, 500_000]);
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(2)
        .max(1);
    let with_original = switch_on("BENCH_ORIGINAL") && Path::new(ORIGINAL).is_file();
    if !with_original {
        println!(
            "(the original Pushgateway is not run: {ORIGINAL} is missing or BENCH_ORIGINAL=0)"
        );
    }
    let started = Instant::now();
    actix_web::rt::System::new().block_on(async {
        let mut table = Table::new();
        if switch_on("BENCH_THROUGHPUT") {
            throughput(&mut table, rounds, with_original).await;
        }
        for series in stores {
            store(&mut table, series, rounds, with_original).await;
        }
        if !table.rows.is_empty() {
            println!(
                "\nMedian of {rounds} round(s); 2-core machine, load generator on it too. The \
                 original runs with its defaults, but with --push.disable-consistency-check for the \
                 prefill rows, as this gateway does (it then answers 202 before writing)."
            );
            table.print();
        }
        if switch_on("BENCH_HISTORY") {
            history_cost(1_000).await;
        }
        if switch_on("BENCH_LITESTREAM") {
            litestream::bench().await;
        }
    });
    println!("\nbench took {:.0} s", started.elapsed().as_secs_f64());
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
                .env_remove("MALLOC_ARENA_MAX")
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
            "{label}: {:.0} pushes/s with {CONNECTIONS} clients (p50 {:.2} ms, p99 {:.2} ms); \
             one client p50 {:.2} ms, p99 {:.2} ms",
            THROUGHPUT_PUSHES as f64 / elapsed.as_secs_f64(),
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.99)),
            ms(percentile(&single, 0.5)),
            ms(percentile(&single, 0.99)),
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
             {GROUPS} groups x {STORE_SERIES_PER_GROUP} series =="
        );
        let client = client();
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
