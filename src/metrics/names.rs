//! The names, types and HELP texts of the gateway's own families: upstream's (process,
//! build, HTTP) and the storage families it adds. Pushed families with one of these names are
//! merged with the own family on `/metrics`, so the consistency check ([`crate::consistency`])
//! and the exposition read this table; what gathers the values ([`super`]) is apart from it.

use crate::proto::{Metric, MetricFamily, MetricType};

/// Every own family: name, type and HELP.
pub(crate) const OWN: &[(&str, MetricType, &str)] = &[
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
        "pushgateway_groups_expired_total",
        MetricType::Counter,
        "Metric groups removed because their lifetime ran out (--push.expire-after or a push's Pushgateway-Expire-After header).",
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
