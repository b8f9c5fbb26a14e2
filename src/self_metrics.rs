//! The gateway's own metrics, exposed next to the pushed ones on `/metrics`.
//!
//! Names, types and HELP texts are upstream's, because pushed families with these names are
//! merged with them and must agree in type (see [`crate::consistency`]).

use std::time::{SystemTime, UNIX_EPOCH};

use crate::proto::{Counter, Gauge, LabelPair, Metric, MetricFamily, MetricType};

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
];

/// The type of the own family with this name, if there is one.
pub fn own_type(name: &str) -> Option<MetricType> {
    OWN.iter().find(|(n, _, _)| *n == name).map(|(_, t, _)| *t)
}

/// The HELP text of the own family with this name, if there is one.
pub fn own_help(name: &str) -> Option<&'static str> {
    OWN.iter().find(|(n, _, _)| *n == name).map(|(_, _, h)| *h)
}

/// Values that stay fixed for the life of the process.
#[derive(Debug, Clone)]
pub struct SelfMetrics {
    start_time_seconds: f64,
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
        SelfMetrics { start_time_seconds }
    }

    /// When the process started, in Unix seconds.
    pub fn start_time_seconds(&self) -> f64 {
        self.start_time_seconds
    }

    /// The own families with current values, sorted by name.
    pub fn gather(&self) -> Vec<MetricFamily> {
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
        let families = SelfMetrics::new().gather();
        let names: Vec<_> = families.iter().map(|f| f.name().to_string()).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        for f in &families {
            assert_eq!(own_type(f.name()), Some(f.r#type()));
        }
        assert!(names.contains(&"process_start_time_seconds".to_string()));
        assert!(names.contains(&"pushgateway_build_info".to_string()));
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
