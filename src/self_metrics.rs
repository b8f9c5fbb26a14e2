//! The gateway's own metrics, exposed next to the pushed ones on `/metrics`.
//!
//! Names, types and HELP texts are upstream's, because pushed families with these names are
//! merged with them and must agree in type (see [`crate::consistency`]). The `OWN` table
//! below lists every own family, upstream's and the gateway's own storage metrics
//! ([`crate::storage_metrics`]) alike: the consistency check reads it.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::gateway::Gateway;
use crate::http_metrics::HttpMetrics;
use crate::proto::{Counter, Gauge, LabelPair, Metric, MetricFamily, MetricType};
use crate::storage_metrics;

/// The version this binary reports.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// Source revision, set at build time through `PUSHGATEWAY_REVISION` when known.
pub const REVISION: &str = match option_env!("PUSHGATEWAY_REVISION") {
    Some(r) => r,
    None => "unknown",
};

/// Every own family: name, type and HELP.
const OWN: &[(&str, MetricType, &str)] = &[
    (
        "process_cpu_seconds_total",
        MetricType::Counter,
        "Total user and system CPU time spent in seconds.",
    ),
    (
        "process_max_fds",
        MetricType::Gauge,
        "Maximum number of open file descriptors.",
    ),
    (
        "process_open_fds",
        MetricType::Gauge,
        "Number of open file descriptors.",
    ),
    (
        "process_resident_memory_bytes",
        MetricType::Gauge,
        "Resident memory size in bytes.",
    ),
    (
        "process_start_time_seconds",
        MetricType::Gauge,
        "Start time of the process since unix epoch in seconds.",
    ),
    (
        "process_virtual_memory_bytes",
        MetricType::Gauge,
        "Virtual memory size in bytes.",
    ),
    (
        "pushgateway_build_info",
        MetricType::Gauge,
        "A metric with a constant '1' value labeled by version, revision, branch, goversion from which pushgateway was built, and the goos and goarch for the build.",
    ),
    (
        "pushgateway_http_push_duration_seconds",
        MetricType::Summary,
        "HTTP request duration for pushes to the Pushgateway.",
    ),
    (
        "pushgateway_http_push_size_bytes",
        MetricType::Summary,
        "HTTP request size for pushes to the Pushgateway.",
    ),
    (
        "pushgateway_http_requests_total",
        MetricType::Counter,
        "Total HTTP requests processed by the Pushgateway, excluding scrapes.",
    ),
    (
        "pushgateway_storage_commit_duration_seconds",
        MetricType::Histogram,
        "Duration of the SQLite COMMITs of pushes, failed-push records, deletes and wipes.",
    ),
    (
        "pushgateway_storage_file_size_bytes",
        MetricType::Gauge,
        "Size of the SQLite database files on disk: the main file and its write-ahead log.",
    ),
    (
        "pushgateway_storage_groups",
        MetricType::Gauge,
        "Number of metric groups stored.",
    ),
    (
        "pushgateway_storage_history_rows",
        MetricType::Gauge,
        "Size of the pushed history: push records, and the sample values they keep, as counted by the last pruning pass.",
    ),
    (
        "pushgateway_storage_series",
        MetricType::Gauge,
        "Number of series stored, each group's push_time_seconds and push_failure_time_seconds included.",
    ),
];

/// The type of the own family with this name, if there is one.
pub fn own_type(name: &str) -> Option<MetricType> {
    OWN.iter().find(|(n, _, _)| *n == name).map(|(_, t, _)| *t)
}

/// An own family with its table type and HELP text.
pub fn own_family(name: &str, metric: Vec<Metric>) -> MetricFamily {
    MetricFamily {
        name: Some(name.to_string()),
        help: own_help(name).map(str::to_string),
        r#type: Some(own_type(name).unwrap_or(MetricType::Untyped) as i32),
        metric,
        unit: None,
    }
}

/// The HELP text of the own family with this name, if there is one.
pub fn own_help(name: &str) -> Option<&'static str> {
    OWN.iter().find(|(n, _, _)| *n == name).map(|(_, _, h)| *h)
}

/// The process start time and the HTTP instrumentation; the storage metrics are read from
/// the gateway at each scrape.
#[derive(Debug)]
pub struct SelfMetrics {
    start_time_seconds: f64,
    /// Requests and pushes as upstream counts them (see [`crate::routes`]).
    pub http: HttpMetrics,
}

impl SelfMetrics {
    /// Records the start time (call once at start-up).
    pub fn new() -> SelfMetrics {
        let start_time_seconds = process_start_time().unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0)
        });
        SelfMetrics {
            start_time_seconds,
            http: HttpMetrics::new(),
        }
    }

    /// When the process started, in Unix seconds.
    pub fn start_time_seconds(&self) -> f64 {
        self.start_time_seconds
    }

    /// Every own family with current values, sorted by name: process, build, HTTP and the
    /// storage of `gateway`.
    pub fn gather(&self, gateway: &Gateway) -> Vec<MetricFamily> {
        let mut out = self.gather_process();
        out.extend(self.http.gather());
        out.extend(storage_metrics::gather(
            &gateway.cache(),
            gateway.commit_durations(),
            gateway.database_path(),
            gateway.history_rows(),
        ));
        out.sort_by(|a, b| a.name().cmp(b.name()));
        out
    }

    /// The process and build families.
    fn gather_process(&self) -> Vec<MetricFamily> {
        let proc = ProcStats::read();
        let mut out = Vec::new();
        let mut push = |name: &str, metric: Metric| {
            let (_, mtype, help) = OWN.iter().find(|(n, _, _)| *n == name).copied().unwrap_or((
                "",
                MetricType::Untyped,
                "",
            ));
            out.push(MetricFamily {
                name: Some(name.to_string()),
                help: Some(help.to_string()),
                r#type: Some(mtype as i32),
                metric: vec![metric],
                unit: None,
            });
        };
        let gauge = |v: f64| Metric {
            gauge: Some(Gauge { value: Some(v) }),
            ..Default::default()
        };
        if let Some(p) = &proc {
            push(
                "process_cpu_seconds_total",
                Metric {
                    counter: Some(Counter {
                        value: Some(p.cpu_seconds),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
            );
            if let Some(max) = p.max_fds {
                push("process_max_fds", gauge(max));
            }
            push("process_open_fds", gauge(p.open_fds));
            push("process_resident_memory_bytes", gauge(p.resident_bytes));
        }
        push("process_start_time_seconds", gauge(self.start_time_seconds));
        if let Some(p) = &proc {
            push("process_virtual_memory_bytes", gauge(p.virtual_bytes));
        }
        let mut build = gauge(1.0);
        build.label = vec![
            LabelPair::new("branch", "main"),
            LabelPair::new("goarch", go_arch()),
            LabelPair::new("goos", std::env::consts::OS),
            LabelPair::new("goversion", "rust"),
            LabelPair::new("revision", REVISION),
            LabelPair::new("tags", "sqlite"),
            LabelPair::new("version", VERSION),
        ];
        push("pushgateway_build_info", build);
        out
    }
}

impl Default for SelfMetrics {
    fn default() -> Self {
        SelfMetrics::new()
    }
}

/// Go's names for the common architectures, so dashboards keyed on `goarch` keep working.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

/// Process statistics from `/proc/self` (Linux); absent elsewhere.
struct ProcStats {
    cpu_seconds: f64,
    resident_bytes: f64,
    virtual_bytes: f64,
    open_fds: f64,
    max_fds: Option<f64>,
}

const CLOCK_TICKS_PER_SECOND: f64 = 100.0;
const PAGE_SIZE: f64 = 4096.0;

impl ProcStats {
    fn read() -> Option<ProcStats> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // Fields after the parenthesised command name, which may itself contain spaces.
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        let field = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
        // utime and stime are fields 14 and 15 of stat(5); index 0 here is field 3.
        let cpu_seconds = (field(11)? + field(12)?) / CLOCK_TICKS_PER_SECOND;
        let virtual_bytes = field(20)?;
        let resident_bytes = field(21)? * PAGE_SIZE;
        let open_fds = std::fs::read_dir("/proc/self/fd").ok()?.count() as f64;
        let max_fds = std::fs::read_to_string("/proc/self/limits")
            .ok()
            .and_then(|l| {
                l.lines()
                    .find(|line| line.starts_with("Max open files"))
                    .and_then(|line| line.split_whitespace().nth(3))
                    .and_then(|v| v.parse().ok())
            });
        Some(ProcStats {
            cpu_seconds,
            resident_bytes,
            virtual_bytes,
            open_fds,
            max_fds,
        })
    }
}

/// The process start time from `/proc/self/stat` and the boot time, in Unix seconds.
fn process_start_time() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let start_ticks: f64 = fields.get(19)?.parse().ok()?;
    let boot = std::fs::read_to_string("/proc/stat").ok()?;
    let btime: f64 = boot
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    Some(btime + start_ticks / CLOCK_TICKS_PER_SECOND)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_families_are_sorted_and_typed_as_declared() {
        let gateway = Gateway::open(None, crate::gateway::Options::defaults()).unwrap();
        let metrics = SelfMetrics::new();
        metrics
            .http
            .count_request("push", &actix_web::http::Method::PUT, 200);
        metrics
            .http
            .observe_push(&actix_web::http::Method::PUT, 0.1, 10);
        let families = metrics.gather(&gateway);
        let names: Vec<_> = families.iter().map(|f| f.name().to_string()).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        for f in &families {
            assert_eq!(own_type(f.name()), Some(f.r#type()));
        }
        assert!(names.contains(&"process_start_time_seconds".to_string()));
        assert!(names.contains(&"pushgateway_build_info".to_string()));
        assert!(names.contains(&"pushgateway_http_requests_total".to_string()));
        assert!(names.contains(&"pushgateway_storage_series".to_string()));
    }

    #[test]
    fn every_own_family_has_a_help_text_and_the_table_is_sorted() {
        let names: Vec<_> = OWN.iter().map(|(n, _, _)| *n).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        assert!(OWN.iter().all(|(_, _, help)| !help.is_empty()));
        assert_eq!(
            own_type("pushgateway_http_push_size_bytes"),
            Some(MetricType::Summary)
        );
        assert_eq!(
            own_type("pushgateway_storage_commit_duration_seconds"),
            Some(MetricType::Histogram)
        );
    }

    #[test]
    fn the_start_time_is_in_the_past() {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let start = SelfMetrics::new().start_time_seconds;
        assert!(
            start > now - 86_400.0 * 365.0 && start <= now + 1.0,
            "{start}"
        );
    }
}
