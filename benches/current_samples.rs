//! What keeping the `current_samples` view costs on the push path: this build side by side with
//! a build without it (the commit before it), both real processes on loopback with a database
//! file, the load generator in this process. Rounds alternate between the two builds so that
//! machine noise hits both; the table shows medians.
//!
//! Run: build the baseline, then the bench (release):
//! ```sh
//! mkdir /tmp/pg-base && git archive 05ee7b1 | tar -x -C /tmp/pg-base
//! (cd /tmp/pg-base && cargo build --release --locked --bin pushgateway) \
//!   && cp /tmp/pg-base/target/release/pushgateway /tmp/pushgateway-base
//! BENCH_BASE=/tmp/pushgateway-base cargo bench --bench current_samples
//! ```
//! `BENCH_ROUNDS` (default 5) sets the rounds. Two settings are measured: values recorded in
//! the history (the default: a family row names the push record holding its values) and not
//! recorded (`--history.max-rows=0`: a family row keeps its own values).

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Child;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const GROUPS: usize = 1_000;
const CONNECTIONS: usize = 32;
const PUSHES: usize = 4_000;
const SINGLE_PUSHES: usize = 300;

struct Gateway {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Gateway {
    fn start(binary: &str, extra: &[&str]) -> Gateway {
        let dir = tempfile::tempdir().expect("tempdir");
        let (child, addr) = support::start_gateway(binary, &dir.path().join("bench.db"), extra);
        Gateway {
            child,
            addr,
            _dir: dir,
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A push of five families (gauges, a counter, a histogram), 27 series in all.
fn body(group: usize, round: usize) -> String {
    let v = round * 1000 + group;
    let mut b = String::from("# TYPE bench_bytes gauge\n");
    for s in 0..8 {
        b.push_str(&format!("bench_bytes{{target=\"t{s}\"}} {}\n", v + s));
    }
    b.push_str("# TYPE bench_records_total counter\n");
    for s in 0..8 {
        b.push_str(&format!(
            "bench_records_total{{table=\"t{s}\"}} {}\n",
            v * 3 + s
        ));
    }
    b.push_str("# TYPE bench_ok gauge\nbench_ok 1\n# TYPE bench_seconds histogram\n");
    for (le, n) in [("0.1", 1), ("1", 3), ("10", 7), ("+Inf", 9)] {
        b.push_str(&format!(
            "bench_seconds_bucket{{le=\"{le}\"}} {}\n",
            n + round
        ));
    }
    b.push_str(&format!(
        "bench_seconds_sum {}.5\nbench_seconds_count {}\n",
        v,
        9 + round
    ));
    b.push_str(&format!("# TYPE bench_last gauge\nbench_last {v}\n"));
    b
}

async fn push(client: &reqwest::Client, addr: SocketAddr, group: usize, round: usize) -> Duration {
    let start = Instant::now();
    let url = format!(
        "http://{addr}/metrics/job/bench{}/instance/i{group}",
        group % 100
    );
    let response = client
        .put(url)
        .body(body(group, round))
        .send()
        .await
        .expect("push");
    assert!(response.status().is_success(), "{}", response.status());
    start.elapsed()
}

/// `pushes` PUTs over `connections` connections, round robin over the groups: pushes/s and
/// the sorted latencies.
async fn load(
    client: &reqwest::Client,
    addr: SocketAddr,
    connections: usize,
    pushes: usize,
    round: usize,
) -> (f64, Vec<Duration>) {
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (client, next) = (client.clone(), next.clone());
        tasks.push(actix_web::rt::spawn(async move {
            let mut times = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= pushes {
                    return times;
                }
                times.push(push(&client, addr, i % GROUPS, round).await);
            }
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("task"));
    }
    let rate = pushes as f64 / start.elapsed().as_secs_f64();
    all.sort();
    (rate, all)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let Ok(base) = std::env::var("BENCH_BASE") else {
        println!("BENCH_BASE=<a pushgateway binary without current_samples> is needed (see the file's doc)");
        return;
    };
    assert!(Path::new(&base).is_file(), "{base} is not a file");
    let ours = env!("CARGO_BIN_EXE_pushgateway");
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5)
        .max(1);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CONNECTIONS)
        .build()
        .expect("client");
    actix_web::rt::System::new().block_on(async {
        println!(
            "{GROUPS} groups x 27 series (5 families); {PUSHES} PUTs over {CONNECTIONS} \
             connections, and {SINGLE_PUSHES} PUTs one at a time; median of {rounds} rounds"
        );
        println!(
            "{:<28} {:>14} {:>14} {:>8}",
            "figure", "without", "with", "cost"
        );
        for (setting, extra) in [
            ("values recorded", &[][..]),
            ("values not recorded", &["--history.max-rows=0"][..]),
        ] {
            let gateways = [Gateway::start(&base, extra), Gateway::start(ours, extra)];
            for gw in &gateways {
                load(&client, gw.addr, CONNECTIONS, GROUPS, 0).await;
            }
            // [gateway][figure] -> per-round values
            let mut figures = vec![vec![Vec::new(); 3]; 2];
            for round in 1..=rounds {
                // Alternate which build goes first.
                let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
                for which in order {
                    let addr = gateways[which].addr;
                    let (rate, times) = load(&client, addr, CONNECTIONS, PUSHES, round).await;
                    let (_, single) = load(&client, addr, 1, SINGLE_PUSHES, round).await;
                    figures[which][0].push(rate);
                    figures[which][1].push(ms(times[times.len() / 2]));
                    figures[which][2].push(ms(single[single.len() / 2]));
                }
            }
            for (i, (name, higher_is_better)) in [
                ("pushes/s (32 connections)", true),
                ("p50 ms (32 connections)", false),
                ("p50 ms (one at a time)", false),
            ]
            .into_iter()
            .enumerate()
            {
                let without = median(figures[0][i].clone());
                let with = median(figures[1][i].clone());
                let cost = if higher_is_better {
                    without / with - 1.0
                } else {
                    with / without - 1.0
                };
                println!(
                    "{:<28} {:>14.2} {:>14.2} {:>7.1}%   ({setting})",
                    name,
                    without,
                    with,
                    cost * 100.0
                );
            }
        }
    });
}
