//! The gateway's own storage metrics, which upstream does not have: database file sizes,
//! COMMIT durations, and the number of stored groups and series.
//!
//! | name | type | labels |
//! | --- | --- | --- |
//! | `pushgateway_storage_file_size_bytes` | gauge | `file`: `main` or `wal` (only with `--persistence.file`) |
//! | `pushgateway_storage_commit_duration_seconds` | histogram | |
//! | `pushgateway_storage_history_rows` | gauge | `kind`: `records` or `samples` |
//! | `pushgateway_storage_groups` | gauge | |
//! | `pushgateway_storage_series` | gauge | |

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use super::names::own_family;
use crate::proto::{Bucket, Counter, Gauge, Histogram, LabelPair, Metric, MetricFamily};

/// Name of the file size gauge.
pub const FILE_SIZE: &str = "pushgateway_storage_file_size_bytes";
/// Name of the COMMIT duration histogram.
pub const COMMIT_DURATION: &str = "pushgateway_storage_commit_duration_seconds";
/// Name of the history row-count gauge.
pub const HISTORY_ROWS: &str = "pushgateway_storage_history_rows";
/// Name of the stored groups gauge.
pub const GROUPS: &str = "pushgateway_storage_groups";
/// Name of the stored series gauge.
pub const SERIES: &str = "pushgateway_storage_series";
/// Counter: groups removed because their lifetime ran out (opt-in expiry).
pub const GROUPS_EXPIRED: &str = "pushgateway_groups_expired_total";

/// Upper bounds of the COMMIT histogram: from a cached write (tens of µs) to a slow disk's
/// fsync under load (seconds).
const COMMIT_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// A histogram of COMMIT durations, one per batch of changes. Commits happen on the one
/// writer thread, so a mutex here is never contended by writers, only briefly by scrapes.
#[derive(Debug)]
pub struct CommitHistogram {
    inner: Mutex<HistogramState>,
}

#[derive(Debug, Clone)]
struct HistogramState {
    /// Non-cumulative count per bucket of [`COMMIT_BUCKETS`].
    counts: Vec<u64>,
    count: u64,
    sum: f64,
}

impl Default for CommitHistogram {
    fn default() -> Self {
        CommitHistogram::new()
    }
}

impl CommitHistogram {
    /// A histogram with no observations.
    pub fn new() -> CommitHistogram {
        CommitHistogram {
            inner: Mutex::new(HistogramState {
                counts: vec![0; COMMIT_BUCKETS.len()],
                count: 0,
                sum: 0.0,
            }),
        }
    }

    /// Records one COMMIT.
    pub fn observe(&self, took: Duration) {
        let seconds = took.as_secs_f64();
        let mut state = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = COMMIT_BUCKETS.iter().position(|b| seconds <= *b) {
            state.counts[i] += 1;
        }
        state.count += 1;
        state.sum += seconds;
    }

    /// How many COMMITs were recorded.
    #[cfg(test)]
    pub fn count(&self) -> u64 {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).count
    }

    fn to_proto(&self) -> Histogram {
        let state = self.inner.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut cumulative = 0;
        let bucket = COMMIT_BUCKETS
            .iter()
            .zip(&state.counts)
            .map(|(bound, n)| {
                cumulative += n;
                Bucket {
                    cumulative_count: Some(cumulative),
                    upper_bound: Some(*bound),
                    ..Default::default()
                }
            })
            .collect();
        Histogram {
            sample_count: Some(state.count),
            sample_sum: Some(state.sum),
            bucket,
            ..Default::default()
        }
    }
}

/// The database files whose sizes are reported: the main file and its write-ahead log.
fn database_files(path: &Path) -> [(&'static str, PathBuf); 2] {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    [("main", path.to_path_buf()), ("wal", PathBuf::from(wal))]
}

/// Figures kept while the gateway writes and prunes: how long each COMMIT took, and the
/// history's size as the last pruning pass counted it. Shared by the writer and the pruner.
#[derive(Debug, Default)]
pub(crate) struct StorageStats {
    /// How long each COMMIT took.
    pub(crate) commits: CommitHistogram,
    /// Rows in the history (records, sample values), once the pruner has counted them.
    history_rows: Mutex<Option<(u64, u64)>>,
    /// Groups removed because their lifetime ran out.
    pub(crate) groups_expired: AtomicU64,
}

impl StorageStats {
    /// The history's size as last counted: (records, sample values).
    pub(crate) fn history_rows(&self) -> Option<(u64, u64)> {
        *self.history_rows.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records the history's size (the pruner counts it after each pass).
    pub(crate) fn set_history_rows(&self, records: u64, samples: u64) {
        *self.history_rows.lock().unwrap_or_else(|e| e.into_inner()) = Some((records, samples));
    }
}

/// What a scrape reports about storage, read from the gateway.
#[derive(Debug)]
pub(crate) struct StorageFigures<'a> {
    /// Groups stored.
    pub(crate) groups: usize,
    /// Series stored, each group's timestamp series included.
    pub(crate) series: usize,
    /// The database file; `None` for an in-memory database, which has no files to report.
    pub(crate) database: Option<&'a Path>,
    pub(crate) stats: &'a StorageStats,
}

/// The storage families, sorted by name.
pub(crate) fn gather(figures: &StorageFigures<'_>) -> Vec<MetricFamily> {
    let gauge = |v: f64, label: Vec<LabelPair>| Metric {
        label,
        gauge: Some(Gauge { value: Some(v) }),
        ..Default::default()
    };
    let expired = figures.stats.groups_expired.load(Ordering::Relaxed);
    let mut out = vec![own_family(
        GROUPS_EXPIRED,
        vec![Metric {
            counter: Some(Box::new(Counter {
                value: Some(expired as f64),
                ..Default::default()
            })),
            ..Default::default()
        }],
    )];
    out.push(own_family(
        COMMIT_DURATION,
        vec![Metric {
            histogram: Some(Box::new(figures.stats.commits.to_proto())),
            ..Default::default()
        }],
    ));
    if let Some(path) = figures.database {
        let sizes: Vec<Metric> = database_files(path)
            .into_iter()
            .map(|(file, p)| {
                // A WAL that does not exist (yet, or after a clean close) is empty.
                let size = std::fs::metadata(&p).map_or(0, |m| m.len());
                gauge(size as f64, vec![LabelPair::new("file", file)])
            })
            .collect();
        out.push(own_family(FILE_SIZE, sizes));
    }
    out.push(own_family(
        GROUPS,
        vec![gauge(figures.groups as f64, Vec::new())],
    ));
    if let Some((records, samples)) = figures.stats.history_rows() {
        out.push(own_family(
            HISTORY_ROWS,
            vec![
                gauge(records as f64, vec![LabelPair::new("kind", "records")]),
                gauge(samples as f64, vec![LabelPair::new("kind", "samples")]),
            ],
        ));
    }
    out.push(own_family(
        SERIES,
        vec![gauge(figures.series as f64, Vec::new())],
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures<'a>(database: Option<&'a Path>, stats: &'a StorageStats) -> StorageFigures<'a> {
        StorageFigures {
            groups: 0,
            series: 0,
            database,
            stats,
        }
    }

    #[test]
    fn commits_fall_into_cumulative_buckets() {
        let h = CommitHistogram::new();
        h.observe(Duration::from_micros(50));
        h.observe(Duration::from_millis(3));
        h.observe(Duration::from_secs(10));
        let p = h.to_proto();
        assert_eq!(p.sample_count, Some(3));
        let count_at = |bound: f64| {
            p.bucket
                .iter()
                .find(|b| b.upper_bound == Some(bound))
                .and_then(|b| b.cumulative_count)
        };
        assert_eq!(count_at(0.0001), Some(1));
        assert_eq!(count_at(0.0025), Some(1));
        assert_eq!(count_at(0.005), Some(2));
        assert_eq!(count_at(2.5), Some(2));
        assert!((p.sample_sum.unwrap() - 10.00305).abs() < 1e-9);
    }

    #[test]
    fn file_sizes_cover_the_main_file_and_its_wal() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("pg.db");
        std::fs::write(&db, [0u8; 100]).unwrap();
        let stats = StorageStats::default();
        let families = gather(&figures(Some(&db), &stats));
        let sizes = families.iter().find(|f| f.name() == FILE_SIZE).unwrap();
        let values: Vec<_> = sizes
            .metric
            .iter()
            .map(|m| {
                (
                    m.label[0].value().to_string(),
                    m.gauge.as_ref().unwrap().value,
                )
            })
            .collect();
        assert_eq!(
            values,
            [
                ("main".to_string(), Some(100.0)),
                ("wal".to_string(), Some(0.0))
            ]
        );
    }

    #[test]
    fn an_in_memory_database_reports_no_file_sizes_and_families_are_sorted() {
        let stats = StorageStats::default();
        let families = gather(&figures(None, &stats));
        let names: Vec<_> = families.iter().map(|f| f.name().to_string()).collect();
        assert_eq!(names, [GROUPS_EXPIRED, COMMIT_DURATION, GROUPS, SERIES]);
        stats.set_history_rows(3, 7);
        let families = gather(&figures(None, &stats));
        let names: Vec<_> = families.iter().map(|f| f.name().to_string()).collect();
        assert_eq!(
            names,
            [
                GROUPS_EXPIRED,
                COMMIT_DURATION,
                GROUPS,
                HISTORY_ROWS,
                SERIES
            ]
        );
    }
}
