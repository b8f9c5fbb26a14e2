//! The gateway's own metrics, exposed next to the pushed ones on `/metrics`: upstream's
//! process, build and HTTP families, and the storage families it adds.
//!
//! * [`names`]: every own family's name, type and HELP (what checks and exposition read);
//! * [`http`]: request counts and push summaries ([`summary`]), fed by the routes;
//! * [`storage`]: COMMIT durations, database file sizes, groups, series, history size;
//! * [`process`]: the `process_*` figures.
//!
//! [`SelfMetrics::gather`] puts the current values together at each scrape.

pub(crate) mod http;
pub(crate) mod names;
mod process;
pub(crate) mod storage;
pub(crate) mod summary;

use std::time::{SystemTime, UNIX_EPOCH};

use crate::proto::{Counter, Gauge, LabelPair, Metric, MetricFamily};
use crate::version::{go_arch, BRANCH, GO_VERSION, REVISION, VERSION};
use http::HttpMetrics;
use names::own_family;
use process::{process_start_time, ProcStats};
use storage::StorageFigures;

/// The process start time and the HTTP instrumentation; the storage figures are read from
/// the gateway at each scrape.
#[derive(Debug)]
pub(crate) struct SelfMetrics {
    start_time_seconds: f64,
    /// Requests and pushes as upstream counts them (see [`crate::routes`]).
    pub(crate) http: HttpMetrics,
}

impl SelfMetrics {
    /// Records the start time (call once at start-up).
    pub(crate) fn new() -> SelfMetrics {
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
    pub(crate) fn start_time_seconds(&self) -> f64 {
        self.start_time_seconds
    }

    /// Every own family with current values, sorted by name: process, build, HTTP and
    /// storage.
    pub(crate) fn gather(&self, storage: &StorageFigures<'_>) -> Vec<MetricFamily> {
        let mut out = self.gather_process();
        out.extend(self.http.gather());
        out.extend(storage::gather(storage));
        out.sort_by(|a, b| a.name().cmp(b.name()));
        out
    }

    /// The process and build families.
    fn gather_process(&self) -> Vec<MetricFamily> {
        let proc = ProcStats::read();
        let mut out = Vec::new();
        let mut push = |name: &str, metric: Metric| out.push(own_family(name, vec![metric]));
        let gauge = |v: f64| Metric {
            gauge: Some(Gauge { value: Some(v) }),
            ..Default::default()
        };
        if let Some(p) = &proc {
            push(
                "process_cpu_seconds_total",
                Metric {
                    counter: Some(Box::new(Counter {
                        value: Some(p.cpu_seconds),
                        ..Default::default()
                    })),
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
            LabelPair::new("branch", BRANCH),
            LabelPair::new("goarch", go_arch()),
            LabelPair::new("goos", std::env::consts::OS),
            LabelPair::new("goversion", GO_VERSION),
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

#[cfg(test)]
mod tests {
    use super::*;
    use names::own_type;
    use storage::StorageStats;

    #[test]
    fn own_families_are_sorted_and_typed_as_declared() {
        let stats = StorageStats::default();
        let storage = StorageFigures {
            groups: 0,
            series: 0,
            database: None,
            stats: &stats,
        };
        let metrics = SelfMetrics::new();
        metrics
            .http
            .count_request("push", &actix_web::http::Method::PUT, 200);
        metrics
            .http
            .observe_push(&actix_web::http::Method::PUT, 0.1, 10);
        let families = metrics.gather(&storage);
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
