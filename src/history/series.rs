//! Pushed values over time, per series (`GET /api/v1/history/series`, the status page's
//! charts): what a request asks for ([`SeriesQuery`]), the history records it reads
//! ([`SeriesRecord`]), and the answer built from them ([`build`]): each series' points with
//! gaps where pushes failed or the group was deleted, downsampled to at most
//! [`SeriesQuery::max_points`] keeping every bucket's first, last, minimum and maximum, and
//! the group's push events.

use std::collections::{BTreeMap, HashSet};

use serde::Deserialize;

/// The most records one request reads (newest first); older ones are left out and the
/// answer says so.
pub(crate) const MAX_RECORDS: u32 = 20_000;
/// The most recorded values one request parses; the records are read newest first until
/// their values reach this.
pub(crate) const MAX_SAMPLES: u64 = 2_000_000;
/// The most series one answer holds.
pub(crate) const MAX_SERIES: usize = 500;

/// Which series to chart, and how finely.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SeriesQuery {
    /// The group's canonical grouping key.
    pub(crate) grouping_key: String,
    /// Metric names, as the exposition names them (`latency_seconds_count`).
    pub(crate) metrics: Vec<String>,
    /// Only the series with exactly these labels beyond the grouping labels.
    pub(crate) labels: Option<BTreeMap<String, String>>,
    /// Records at or after this time (Unix ns).
    pub(crate) from_ns: i64,
    /// Records before this time (Unix ns).
    pub(crate) to_ns: i64,
    /// The most points per series (and events) the answer holds.
    pub(crate) max_points: usize,
}

/// One history record as the series read it: the group's own records, and wipes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SeriesRecord {
    pub(crate) id: i64,
    pub(crate) time_ns: i64,
    /// RFC 3339, UTC.
    pub(crate) time: String,
    pub(crate) method: String,
    pub(crate) status: i64,
    pub(crate) accepted: bool,
    pub(crate) error: Option<String>,
    /// The accepted push's values (`push_history.samples`), when recorded.
    pub(crate) samples: Option<String>,
}

/// What the records read hold, and whether older ones were left out.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct SeriesRecords {
    /// Oldest first.
    pub(crate) records: Vec<SeriesRecord>,
    /// Records in the range were left out (the oldest) to bound the work.
    pub(crate) truncated: bool,
}

/// What a history record means for a group's charts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventKind {
    /// An accepted push (PUT, POST, an import).
    Accepted,
    /// A push that was refused.
    Rejected,
    /// The group was deleted (DELETE, a wipe, a delete by label matcher).
    Deleted,
    /// The group expired.
    Expired,
}

impl EventKind {
    /// The kind of a record with `method` and outcome.
    pub(crate) fn of(method: &str, accepted: bool) -> EventKind {
        match method {
            _ if !accepted => EventKind::Rejected,
            "DELETE" | "WIPE" | "DELETE_GROUPS" => EventKind::Deleted,
            "EXPIRE" => EventKind::Expired,
            _ => EventKind::Accepted,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            EventKind::Accepted => "accepted",
            EventKind::Rejected => "rejected",
            EventKind::Deleted => "deleted",
            EventKind::Expired => "expired",
        }
    }

    /// Whether the values before and after it are not one line (a failure, a deletion).
    fn breaks(self) -> bool {
        self != EventKind::Accepted
    }
}

/// A recorded value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Value {
    Number(f64),
    /// `NaN`, `+Inf` or `-Inf` as recorded.
    NonFinite(&'static str),
}

impl Value {
    fn finite(self) -> Option<f64> {
        match self {
            Value::Number(v) => Some(v),
            Value::NonFinite(_) => None,
        }
    }
}

/// One point: a value as pushed, and the push that pushed it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Point {
    pub(crate) time_ns: i64,
    pub(crate) time: String,
    pub(crate) value: Value,
    pub(crate) push_id: i64,
    pub(crate) method: String,
    /// Since the previous point, a push failed, the group was deleted or expired, or a PUT
    /// left this series out: the line breaks here.
    pub(crate) gap_before: bool,
}

/// One series' points, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Series {
    pub(crate) metric: String,
    /// The labels beyond the grouping labels.
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) points: Vec<Point>,
    /// Points before downsampling.
    pub(crate) points_total: usize,
    /// The smallest and largest finite value over all points (before downsampling).
    pub(crate) min: Option<f64>,
    pub(crate) max: Option<f64>,
}

/// A push event of the group, for the pushes strip and the chart's markers.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Event {
    pub(crate) time_ns: i64,
    pub(crate) time: String,
    pub(crate) push_id: i64,
    pub(crate) kind: EventKind,
    pub(crate) method: String,
    pub(crate) status: i64,
    pub(crate) error: Option<String>,
}

/// The answer.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct SeriesAnswer {
    pub(crate) series: Vec<Series>,
    /// At most `max_points`, oldest first: every failure, deletion and expiry first, then
    /// the newest accepted pushes.
    pub(crate) events: Vec<Event>,
    pub(crate) events_total: usize,
    /// Records read.
    pub(crate) records: usize,
    /// Older records in the range were not read, or series were left out past
    /// [`MAX_SERIES`].
    pub(crate) truncated: bool,
}

#[derive(Deserialize)]
struct RawSample<'a> {
    #[serde(borrow)]
    m: std::borrow::Cow<'a, str>,
    #[serde(default)]
    l: Option<BTreeMap<String, String>>,
    v: serde_json::Value,
}

fn value_of(v: &serde_json::Value) -> Option<Value> {
    match v {
        serde_json::Value::Number(n) => n.as_f64().map(Value::Number),
        serde_json::Value::String(s) => match s.as_str() {
            "NaN" => Some(Value::NonFinite("NaN")),
            "+Inf" => Some(Value::NonFinite("+Inf")),
            "-Inf" => Some(Value::NonFinite("-Inf")),
            _ => None,
        },
        _ => None,
    }
}

type SeriesId = (String, BTreeMap<String, String>);

/// Builds the answer to `query` from its `records` (oldest first).
pub(crate) fn build(query: &SeriesQuery, read: SeriesRecords) -> SeriesAnswer {
    let wanted: HashSet<&str> = query.metrics.iter().map(String::as_str).collect();
    let mut series: BTreeMap<SeriesId, (Vec<Point>, bool)> = BTreeMap::new();
    let mut events = Vec::with_capacity(read.records.len());
    let mut truncated = read.truncated;
    for record in &read.records {
        let kind = EventKind::of(&record.method, record.accepted);
        events.push(Event {
            time_ns: record.time_ns,
            time: record.time.clone(),
            push_id: record.id,
            kind,
            method: record.method.clone(),
            status: record.status,
            error: record.error.clone(),
        });
        if kind.breaks() {
            for (_, pending_gap) in series.values_mut() {
                *pending_gap = true;
            }
            continue;
        }
        let Some(samples) = &record.samples else {
            continue;
        };
        let Ok(samples) = serde_json::from_str::<Vec<RawSample<'_>>>(samples) else {
            log::warn!("unreadable values in history record {}", record.id);
            continue;
        };
        let mut seen: HashSet<SeriesId> = HashSet::new();
        for sample in samples {
            if !wanted.contains(sample.m.as_ref()) {
                continue;
            }
            let labels = sample.l.unwrap_or_default();
            if query.labels.as_ref().is_some_and(|l| *l != labels) {
                continue;
            }
            let Some(value) = value_of(&sample.v) else {
                continue;
            };
            let id = (sample.m.into_owned(), labels);
            if !series.contains_key(&id) && series.len() >= MAX_SERIES {
                truncated = true;
                continue;
            }
            let (points, pending_gap) = series.entry(id.clone()).or_default();
            points.push(Point {
                time_ns: record.time_ns,
                time: record.time.clone(),
                value,
                push_id: record.id,
                method: record.method.clone(),
                gap_before: std::mem::take(pending_gap) && !points.is_empty(),
            });
            seen.insert(id);
        }
        // A PUT replaces the group: a series it did not push was gone until pushed again.
        if record.method == "PUT" {
            for (id, (_, pending_gap)) in series.iter_mut() {
                if !seen.contains(id) {
                    *pending_gap = true;
                }
            }
        }
    }
    let series = series
        .into_iter()
        .map(|((metric, labels), (points, _))| {
            let finite = || points.iter().filter_map(|p| p.value.finite());
            let min = finite().reduce(f64::min);
            let max = finite().reduce(f64::max);
            Series {
                metric,
                labels,
                points_total: points.len(),
                min,
                max,
                points: downsample(points, query.max_points),
            }
        })
        .collect();
    let events_total = events.len();
    SeriesAnswer {
        series,
        events: thin_events(events, query.max_points),
        events_total,
        records: read.records.len(),
        truncated,
    }
}

/// At most `max` points: the time range is cut into `max / 4` buckets of equal length, and
/// each bucket keeps its first, last, minimum and maximum point, so the overall first, last,
/// minimum and maximum always stay. A kept point breaks the line when any point it stands
/// for did.
pub(crate) fn downsample(points: Vec<Point>, max: usize) -> Vec<Point> {
    if points.len() <= max || points.len() < 2 {
        return points;
    }
    let buckets = (max / 4).max(1) as i128;
    let first = points[0].time_ns as i128;
    let span = points[points.len() - 1].time_ns as i128 - first + 1;
    let bucket_of = |p: &Point| ((p.time_ns as i128 - first) * buckets / span) as usize;
    let mut keep = vec![false; points.len()];
    let mut start = 0;
    while start < points.len() {
        let bucket = bucket_of(&points[start]);
        let mut end = start;
        while end < points.len() && bucket_of(&points[end]) == bucket {
            end += 1;
        }
        let range = start..end;
        keep[start] = true;
        keep[end - 1] = true;
        let finite = || {
            range
                .clone()
                .filter_map(|i| Some((i, points[i].value.finite()?)))
        };
        if let Some((i, _)) = finite().reduce(|a, b| if b.1 < a.1 { b } else { a }) {
            keep[i] = true;
        }
        if let Some((i, _)) = finite().reduce(|a, b| if b.1 > a.1 { b } else { a }) {
            keep[i] = true;
        }
        start = end;
    }
    let mut kept = Vec::with_capacity(max);
    let mut gap = false;
    for (point, keep) in points.into_iter().zip(keep) {
        gap |= point.gap_before;
        if keep {
            kept.push(Point {
                gap_before: std::mem::take(&mut gap),
                ..point
            });
        }
    }
    kept
}

/// At most `max` events, oldest first: failures, deletions and expiries before accepted
/// pushes, newer before older.
fn thin_events(events: Vec<Event>, max: usize) -> Vec<Event> {
    if events.len() <= max {
        return events;
    }
    let mut order: Vec<usize> = (0..events.len()).collect();
    order.sort_by_key(|&i| (events[i].kind == EventKind::Accepted, std::cmp::Reverse(i)));
    let mut keep = vec![false; events.len()];
    for i in order.into_iter().take(max) {
        keep[i] = true;
    }
    events
        .into_iter()
        .zip(keep)
        .filter(|(_, keep)| *keep)
        .map(|(e, _)| e)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: i64, method: &str, accepted: bool, samples: Option<&str>) -> SeriesRecord {
        SeriesRecord {
            id,
            time_ns: id * 1_000_000_000,
            time: format!("t{id}"),
            method: method.into(),
            status: if accepted { 200 } else { 400 },
            accepted,
            error: (!accepted).then(|| "bad".into()),
            samples: samples.map(str::to_string),
        }
    }

    fn query(metrics: &[&str], max_points: usize) -> SeriesQuery {
        SeriesQuery {
            grouping_key: "{job=\"j\"}".into(),
            metrics: metrics.iter().map(|m| m.to_string()).collect(),
            labels: None,
            from_ns: 0,
            to_ns: i64::MAX,
            max_points,
        }
    }

    fn values(s: &Series) -> Vec<(i64, f64, bool)> {
        s.points
            .iter()
            .map(|p| {
                (
                    p.push_id,
                    p.value.finite().unwrap_or(f64::NAN),
                    p.gap_before,
                )
            })
            .collect()
    }

    #[test]
    fn series_follow_the_pushes_and_break_where_pushes_failed_or_the_group_was_deleted() {
        let records = vec![
            record(
                1,
                "PUT",
                true,
                Some(r#"[{"m":"a","v":1.0},{"m":"b","l":{"x":"1"},"v":5}]"#),
            ),
            record(2, "POST", true, Some(r#"[{"m":"a","v":2.0}]"#)),
            record(3, "PUT", false, None),
            record(
                4,
                "PUT",
                true,
                Some(r#"[{"m":"a","v":3.0},{"m":"b","l":{"x":"1"},"v":"NaN"}]"#),
            ),
            record(5, "PUT", true, Some(r#"[{"m":"b","l":{"x":"1"},"v":6}]"#)),
            record(6, "PUT", true, Some(r#"[{"m":"a","v":4.0}]"#)),
            record(7, "DELETE", true, None),
            record(8, "EXPIRE", true, None),
            record(
                9,
                "POST",
                true,
                Some(r#"[{"m":"a","v":5.0},{"m":"c","v":1}]"#),
            ),
        ];
        let answer = build(
            &query(&["a", "b"], 100),
            SeriesRecords {
                records,
                truncated: false,
            },
        );
        assert_eq!(answer.series.len(), 2);
        let a = &answer.series[0];
        assert_eq!(a.metric, "a");
        assert_eq!(
            values(a),
            [
                (1, 1.0, false),
                (2, 2.0, false),
                (4, 3.0, true),
                (6, 4.0, true),
                (9, 5.0, true)
            ]
        );
        assert_eq!((a.min, a.max), (Some(1.0), Some(5.0)));
        let b = &answer.series[1];
        assert_eq!(
            b.labels,
            BTreeMap::from([("x".to_string(), "1".to_string())])
        );
        assert_eq!(b.points[1].value, Value::NonFinite("NaN"));
        assert_eq!(b.points.len(), 3);
        assert_eq!((b.min, b.max), (Some(5.0), Some(6.0)));
        let kinds: Vec<&str> = answer.events.iter().map(|e| e.kind.name()).collect();
        assert_eq!(
            kinds,
            [
                "accepted", "accepted", "rejected", "accepted", "accepted", "accepted", "deleted",
                "expired", "accepted"
            ]
        );
    }

    #[test]
    fn labels_select_one_series() {
        let records = vec![record(
            1,
            "PUT",
            true,
            Some(r#"[{"m":"b","l":{"x":"1"},"v":1},{"m":"b","l":{"x":"2"},"v":2}]"#),
        )];
        let mut q = query(&["b"], 100);
        q.labels = Some(BTreeMap::from([("x".to_string(), "2".to_string())]));
        let answer = build(
            &q,
            SeriesRecords {
                records,
                truncated: false,
            },
        );
        assert_eq!(answer.series.len(), 1);
        assert_eq!(answer.series[0].points[0].value, Value::Number(2.0));
    }

    fn point(i: i64, v: f64) -> Point {
        Point {
            time_ns: i,
            time: String::new(),
            value: Value::Number(v),
            push_id: i,
            method: "PUT".into(),
            gap_before: i == 500,
        }
    }

    #[test]
    fn downsampling_keeps_first_last_minimum_and_maximum() {
        let points: Vec<Point> = (0..10_000)
            .map(|i| {
                point(
                    i,
                    ((i * 7919) % 1000) as f64 + if i == 4321 { 5000.0 } else { 0.0 },
                )
            })
            .chain([point(10_000, -3.0)])
            .collect();
        let kept = downsample(points, 40);
        assert!(kept.len() <= 40, "{}", kept.len());
        assert_eq!(kept[0].push_id, 0);
        assert_eq!(kept.last().unwrap().push_id, 10_000);
        assert!(kept.iter().any(|p| p.push_id == 4321), "the maximum stays");
        assert!(
            kept.iter().any(|p| p.value == Value::Number(-3.0)),
            "the minimum"
        );
        assert!(kept.windows(2).all(|w| w[0].time_ns < w[1].time_ns));
        assert_eq!(
            kept.iter().filter(|p| p.gap_before).count(),
            1,
            "the gap stays"
        );
        let few: Vec<Point> = (0..10).map(|i| point(i, i as f64)).collect();
        assert_eq!(downsample(few.clone(), 40), few);
    }

    #[test]
    fn thinned_events_keep_failures_first() {
        let events: Vec<Event> = (0..10)
            .map(|i| Event {
                time_ns: i,
                time: String::new(),
                push_id: i,
                kind: if i == 1 {
                    EventKind::Rejected
                } else {
                    EventKind::Accepted
                },
                method: "PUT".into(),
                status: 200,
                error: None,
            })
            .collect();
        let ids: Vec<i64> = thin_events(events, 3).iter().map(|e| e.push_id).collect();
        assert_eq!(ids, [1, 8, 9]);
    }

    #[test]
    fn history_methods_map_to_event_kinds() {
        assert_eq!(EventKind::of("PUT", true), EventKind::Accepted);
        assert_eq!(EventKind::of("POST", false), EventKind::Rejected);
        assert_eq!(EventKind::of("DELETE", true), EventKind::Deleted);
        assert_eq!(EventKind::of("WIPE", true), EventKind::Deleted);
        assert_eq!(EventKind::of("DELETE_GROUPS", true), EventKind::Deleted);
        assert_eq!(EventKind::of("EXPIRE", true), EventKind::Expired);
        assert_eq!(EventKind::of("IMPORT", true), EventKind::Accepted);
    }
}
