//! A real Prometheus scraping the gateway: Debian's `prometheus` (2.42), installed by
//! `scripts/install-test-deps.sh`; without it this test fails rather than skips.
//!
//! Prometheus asks for OpenMetrics first, and OpenMetrics writes `le="1.0"` where the text
//! format writes the pushed `le="1"`, so a gateway that answered in OpenMetrics would make
//! Prometheus store other series than the original does. This test runs one Prometheus on
//! loopback against two gateways, one with default flags and one with
//! `--web.enable-openmetrics`, and compares the bucket and quantile labels Prometheus stored
//! with what was pushed.

use std::collections::BTreeSet;
use std::fs::File;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::{spawn_app, TestApp};

const PROMETHEUS: &str = "/usr/bin/prometheus";

/// Prometheus starts, scrapes every second and answers queries within seconds; this bound only
/// stops a test that would otherwise hang.
const WAIT: Duration = Duration::from_secs(60);

const PUSHED: &str = "\
# TYPE req_seconds histogram
req_seconds_bucket{le=\"0.5\"} 1
req_seconds_bucket{le=\"1\"} 2
req_seconds_bucket{le=\"+Inf\"} 3
req_seconds_sum 2.5
req_seconds_count 3
# TYPE rpc_seconds summary
rpc_seconds{quantile=\"0.5\"} 0.1
rpc_seconds{quantile=\"1\"} 0.9
rpc_seconds_sum 1
rpc_seconds_count 2
";

/// A Prometheus server on a free loopback port with its own configuration and storage in a
/// temporary directory; killed when dropped, also when the test panics.
struct Prometheus {
    child: Child,
    addr: SocketAddr,
    dir: tempfile::TempDir,
}

impl Prometheus {
    /// Starts Prometheus scraping `targets` every second, with `honor_labels` as a
    /// Pushgateway scrape needs.
    fn start(targets: &[SocketAddr]) -> Prometheus {
        assert!(
            Path::new(PROMETHEUS).exists(),
            "{PROMETHEUS} is missing: run scripts/install-test-deps.sh (Debian package prometheus)"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let targets: Vec<String> = targets.iter().map(|a| format!("'{a}'")).collect();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
             scrape_configs:\n  - job_name: pushgateway\n    honor_labels: true\n    \
             static_configs:\n      - targets: [{}]\n",
            targets.join(", ")
        );
        let config_file = dir.path().join("prometheus.yml");
        std::fs::write(&config_file, config).expect("write prometheus.yml");
        let addr: SocketAddr = {
            let listener = TcpListener::bind("127.0.0.1:0").expect("free port");
            listener.local_addr().expect("address")
        };
        let log = File::create(dir.path().join("prometheus.log")).expect("log file");
        let child = Command::new(PROMETHEUS)
            .arg(format!("--config.file={}", config_file.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start prometheus");
        Prometheus { child, addr, dir }
    }

    /// The end of Prometheus's log, for failure messages.
    fn log_tail(&self) -> String {
        let log =
            std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// `GET /api/v1/<path>`'s `data`, or `None` while Prometheus does not answer it.
    async fn api(&self, client: &reqwest::Client, path: &str) -> Option<Value> {
        let url = format!("http://{}/api/v1/{path}", self.addr);
        let response = client.get(url).send().await.ok()?;
        let doc: Value = serde_json::from_str(&response.text().await.ok()?).ok()?;
        (doc["status"] == "success").then(|| doc["data"].clone())
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The values of label `label` on the series of metric `name` that Prometheus stored for
/// pushed job `job`.
fn label_values(series: &Value, job: &str, label: &str) -> BTreeSet<String> {
    series
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["job"] == job)
        .filter_map(|s| s[label].as_str().map(str::to_string))
        .collect()
}

fn set(values: &[&str]) -> BTreeSet<String> {
    values.iter().map(|v| v.to_string()).collect()
}

async fn push(app: &TestApp, job: &str) {
    let r = app.put(&format!("/metrics/job/{job}"), PUSHED).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

// See: the issue "Drop-in defects found with a real Prometheus", point 1.
#[actix_web::test]
async fn prometheus_stores_the_pushed_bucket_labels_and_openmetrics_only_with_its_flag() {
    let text = spawn_app(&[]).await;
    let openmetrics = spawn_app(&["--web.enable-openmetrics"]).await;
    push(&text, "dropin_text").await;
    push(&openmetrics, "dropin_openmetrics").await;

    let prometheus = Prometheus::start(&[text.addr, openmetrics.addr]);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");

    // Both jobs' buckets and quantiles stored: three bucket series and two quantile series each.
    let deadline = Instant::now() + WAIT;
    let (buckets, quantiles) = loop {
        let buckets = prometheus
            .api(&client, "series?match%5B%5D=req_seconds_bucket")
            .await;
        let quantiles = prometheus
            .api(&client, "series?match%5B%5D=rpc_seconds")
            .await;
        if let (Some(b), Some(q)) = (buckets, quantiles) {
            let complete = ["dropin_text", "dropin_openmetrics"].iter().all(|job| {
                label_values(&b, job, "le").len() == 3
                    && label_values(&q, job, "quantile").len() == 2
            });
            if complete {
                break (b, q);
            }
        }
        if Instant::now() > deadline {
            let targets = prometheus.api(&client, "targets").await;
            panic!(
                "Prometheus did not store both gateways' series within {WAIT:?}\n\
                 targets: {targets:#?}\nlog:\n{}",
                prometheus.log_tail()
            );
        }
        actix_web::rt::time::sleep(Duration::from_millis(250)).await;
    };

    // Default flags: what was pushed, as from the original.
    assert_eq!(
        label_values(&buckets, "dropin_text", "le"),
        set(&["0.5", "1", "+Inf"])
    );
    assert_eq!(
        label_values(&quantiles, "dropin_text", "quantile"),
        set(&["0.5", "1"])
    );
    // With the flag Prometheus scrapes OpenMetrics, and stores other series: the documented
    // cost of turning it on.
    assert_eq!(
        label_values(&buckets, "dropin_openmetrics", "le"),
        set(&["0.5", "1.0", "+Inf"])
    );
    assert_eq!(
        label_values(&quantiles, "dropin_openmetrics", "quantile"),
        set(&["0.5", "1.0"])
    );

    // Every scrape succeeded, in the format each gateway chose.
    let up = prometheus
        .api(&client, "query?query=up")
        .await
        .expect("up query");
    let up: Vec<&str> = up["result"]
        .as_array()
        .expect("vector")
        .iter()
        .map(|r| r["value"][1].as_str().unwrap_or_default())
        .collect();
    assert_eq!(up, ["1", "1"], "{}", prometheus.log_tail());
}
