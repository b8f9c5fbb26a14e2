//! The families of one group as the status page shows them when the group is opened: the
//! HTML fragment served by `GET P/status/group/job@base64/…` (see [`super`]), with the
//! group's latest pushes from the pushed history.
//!
//! Counters, gauges and untyped metrics show their value. Summaries and histograms show one
//! small table per series (quantiles or cumulative buckets, then count and sum), and native
//! histograms a one-line bucket summary ([`crate::native_histogram::describe`]).

use askama::Template;
use jiff::tz::TimeZone;

use super::format::{format_value, time_view, TimeView};
use super::{Badge, BadgeKind};
use crate::cache::Group;
use crate::history::HistoryRecord;
use crate::names::{is_legacy_label_name, NameValidation};
use crate::native_histogram;
use crate::proto::{Histogram, Metric, MetricType, Summary};

/// The families fragment of one group, with its recent pushes from the history.
#[derive(Debug, Template)]
#[template(path = "status_group.html", whitespace = "minimize")]
pub struct GroupFamilies {
    pub families: Vec<FamilyView>,
    /// The group's latest pushes and deletes, newest first.
    pub recent: Vec<PushView>,
}

/// One record of the pushed history.
#[derive(Debug, Clone, PartialEq)]
pub struct PushView {
    pub time: Option<TimeView>,
    pub method: String,
    pub status: i64,
    pub accepted: bool,
    /// Why it was rejected; empty when accepted.
    pub error: String,
    pub client: String,
}

impl PushView {
    /// The view of a history record.
    pub fn new(row: &HistoryRecord, tz: &TimeZone) -> PushView {
        PushView {
            time: time_view(row.time_ns, tz),
            method: row.method.clone(),
            status: row.status,
            accepted: row.accepted(),
            error: row.error.clone().unwrap_or_default(),
            client: match (&row.user, &row.client_address) {
                (Some(user), Some(addr)) => format!("{user} @ {addr}"),
                (None, Some(addr)) => addr.clone(),
                (Some(user), None) => user.clone(),
                (None, None) => String::new(),
            },
        }
    }
}

/// One metric family.
#[derive(Debug, Clone, PartialEq)]
pub struct FamilyView {
    pub name: String,
    pub help: Option<String>,
    /// Upstream's type name (`COUNTER`, `HISTOGRAM`, …).
    pub type_name: &'static str,
    /// Lower-case type for the badge's CSS class.
    pub type_class: &'static str,
    pub pushed: Option<TimeView>,
    pub series: Vec<SeriesView>,
    /// Counters, gauges and untyped: one value per series, shown in a single column.
    pub scalar: bool,
}

/// One series (metric) of a family.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesView {
    pub labels: Vec<Badge>,
    /// The value of a counter, gauge or untyped metric.
    pub value: String,
    /// Quantile or bucket rows, then count and sum (summaries and histograms).
    pub rows: Vec<DistRow>,
    /// The labels beyond the grouping labels as a JSON object with sorted names, as the
    /// history records them: how the charts (`static/charts.js`) find this series' values.
    pub history_labels: String,
}

/// One row of a summary's or histogram's table.
#[derive(Debug, Clone, PartialEq)]
pub struct DistRow {
    pub key: String,
    pub value: String,
    /// `part` for quantiles/buckets, `total` for count and sum, `native` for the summary line.
    pub kind: &'static str,
}

impl GroupFamilies {
    /// The view of every family of `group`, in family-name order.
    pub fn new(group: &Group, names: NameValidation, tz: &TimeZone) -> GroupFamilies {
        let families = group
            .families
            .values()
            .map(|data| {
                let family = data.decode();
                let mtype = data.mtype;
                FamilyView {
                    name: data.name.clone(),
                    help: data.help.clone().filter(|h| !h.is_empty()),
                    type_name: mtype.upstream_name(),
                    type_class: type_class(mtype),
                    pushed: time_view(data.pushed_ns, tz),
                    scalar: matches!(
                        mtype,
                        MetricType::Counter | MetricType::Gauge | MetricType::Untyped
                    ),
                    series: family
                        .metric
                        .iter()
                        .map(|m| series_view(m, mtype, group, names))
                        .collect(),
                }
            })
            .collect();
        GroupFamilies {
            families,
            recent: Vec::new(),
        }
    }
}

fn type_class(t: MetricType) -> &'static str {
    match t {
        MetricType::Counter => "counter",
        MetricType::Gauge => "gauge",
        MetricType::Summary => "summary",
        MetricType::Untyped => "untyped",
        MetricType::Histogram => "histogram",
        MetricType::GaugeHistogram => "gaugehistogram",
    }
}

fn series_view(m: &Metric, mtype: MetricType, group: &Group, names: NameValidation) -> SeriesView {
    let labels = m
        .label
        .iter()
        .map(|l| {
            let (name, value) = (l.name(), l.value());
            // Labels that only repeat the grouping key (or the `instance=""` added to a key
            // without one) are shown muted.
            let repeats_key = match group.key.get(name) {
                Some(key_value) => key_value == value,
                None => name == "instance" && value.is_empty(),
            };
            let kind = if repeats_key {
                BadgeKind::Grouping
            } else {
                BadgeKind::Other
            };
            Badge {
                name: display_label_name(name, names),
                value: value.to_string(),
                kind: kind.class(),
            }
        })
        .collect();
    let (value, rows) = match mtype {
        MetricType::Summary => (String::new(), summary_rows(m.summary.as_deref())),
        MetricType::Histogram | MetricType::GaugeHistogram => {
            (String::new(), histogram_rows(m.histogram.as_deref()))
        }
        MetricType::Counter => (scalar(m.counter.as_ref().and_then(|c| c.value)), Vec::new()),
        MetricType::Gauge => (scalar(m.gauge.as_ref().and_then(|g| g.value)), Vec::new()),
        MetricType::Untyped => (scalar(m.untyped.as_ref().and_then(|u| u.value)), Vec::new()),
    };
    let history_labels: std::collections::BTreeMap<&str, &str> = m
        .label
        .iter()
        .filter(|l| group.key.get(l.name()).is_none())
        .map(|l| (l.name(), l.value()))
        .collect();
    SeriesView {
        labels,
        value,
        rows,
        history_labels: serde_json::to_string(&history_labels).unwrap_or_default(),
    }
}

/// Upstream 1.11 quotes a label name that is invalid under the active validation scheme.
fn display_label_name(name: &str, names: NameValidation) -> String {
    if names == NameValidation::Legacy && !is_legacy_label_name(name) {
        crate::go_strconv::quote(name)
    } else {
        name.to_string()
    }
}

fn scalar(v: Option<f64>) -> String {
    format_value(v.unwrap_or(0.0))
}

fn part(key: String, value: String) -> DistRow {
    DistRow {
        key,
        value,
        kind: "part",
    }
}

fn total(key: &str, value: String) -> DistRow {
    DistRow {
        key: key.to_string(),
        value,
        kind: "total",
    }
}

fn summary_rows(s: Option<&Summary>) -> Vec<DistRow> {
    let Some(s) = s else {
        return Vec::new();
    };
    let mut rows: Vec<DistRow> = s
        .quantile
        .iter()
        .map(|q| {
            part(
                format!("quantile {}", format_value(q.quantile.unwrap_or(0.0))),
                format_value(q.value.unwrap_or(0.0)),
            )
        })
        .collect();
    rows.push(total("count", s.sample_count.unwrap_or(0).to_string()));
    rows.push(total("sum", format_value(s.sample_sum.unwrap_or(0.0))));
    rows
}

fn histogram_rows(h: Option<&Histogram>) -> Vec<DistRow> {
    let Some(h) = h else {
        return Vec::new();
    };
    let mut rows = Vec::new();
    if native_histogram::is_native(h) {
        rows.push(DistRow {
            key: "native buckets".to_string(),
            value: native_histogram::describe(h),
            kind: "native",
        });
    }
    for b in &h.bucket {
        let count = match b.cumulative_count_float {
            Some(c) if c > 0.0 => format_value(c),
            _ => b.cumulative_count.unwrap_or(0).to_string(),
        };
        rows.push(part(
            format!("≤ {}", format_value(b.upper_bound.unwrap_or(0.0))),
            count,
        ));
    }
    let count = match h.sample_count_float {
        Some(c) if c > 0.0 => format_value(c),
        _ => h.sample_count.unwrap_or(0).to_string(),
    };
    rows.push(total("count", count));
    rows.push(total("sum", format_value(h.sample_sum.unwrap_or(0.0))));
    rows
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use super::*;
    use crate::family::FamilyData;
    use crate::grouping_key::GroupingKey;
    use crate::proto::{Bucket, Counter, Gauge, LabelPair, MetricFamily, Quantile};

    fn group_with(families: Vec<MetricFamily>) -> Group {
        let key = GroupingKey::from_labels([
            ("job".to_string(), "batch".to_string()),
            ("instance".to_string(), "db1".to_string()),
        ])
        .unwrap();
        Group {
            id: 1,
            key_bytes: key.upstream_key().into(),
            key,
            families: families
                .iter()
                .map(|f| {
                    let data = FamilyData::new(f, 1_714_564_800_000_000_000);
                    (data.name.clone(), Arc::new(data))
                })
                .collect::<BTreeMap<_, _>>(),
            last_push_ns: 1,
            last_failure_ns: 0,
            created_ns: 1,
            expires_ns: 0,
        }
    }

    fn family(name: &str, t: MetricType, metrics: Vec<Metric>) -> MetricFamily {
        MetricFamily {
            name: Some(name.to_string()),
            help: Some(format!("{name} help")),
            r#type: Some(t as i32),
            metric: metrics,
            unit: None,
        }
    }

    fn labelled(labels: &[(&str, &str)]) -> Metric {
        Metric {
            label: labels.iter().map(|(n, v)| LabelPair::new(*n, *v)).collect(),
            ..Default::default()
        }
    }

    fn view(f: MetricFamily) -> FamilyView {
        let g = group_with(vec![f]);
        GroupFamilies::new(&g, NameValidation::Legacy, &TimeZone::UTC)
            .families
            .remove(0)
    }

    #[test]
    fn gauges_show_their_value_and_grouping_labels_are_muted() {
        let mut m = labelled(&[("instance", "db1"), ("job", "batch"), ("disk", "sda")]);
        m.gauge = Some(Gauge { value: Some(1e21) });
        let f = view(family("disk_bytes", MetricType::Gauge, vec![m]));
        assert!(f.scalar);
        assert_eq!(f.type_name, "GAUGE");
        assert_eq!(f.help.as_deref(), Some("disk_bytes help"));
        assert_eq!(f.pushed.unwrap().local, "2024-05-01T12:00:00Z");
        let s = &f.series[0];
        assert_eq!(s.value, "1000000000000000000000");
        let kinds: Vec<_> = s.labels.iter().map(|b| (b.name.as_str(), b.kind)).collect();
        assert_eq!(
            kinds,
            [
                ("instance", "grouping"),
                ("job", "grouping"),
                ("disk", "other")
            ]
        );
    }

    #[test]
    fn the_empty_instance_added_to_a_key_without_one_is_muted() {
        let mut g = group_with(vec![]);
        g.key = GroupingKey::from_labels([("job".to_string(), "batch".to_string())]).unwrap();
        let mut m = labelled(&[("instance", ""), ("job", "batch"), ("x", "")]);
        m.gauge = Some(Gauge { value: Some(2.0) });
        let s = series_view(&m, MetricType::Gauge, &g, NameValidation::Legacy);
        let kinds: Vec<_> = s.labels.iter().map(|b| b.kind).collect();
        assert_eq!(kinds, ["grouping", "grouping", "other"]);
    }

    #[test]
    fn counters_without_a_value_show_zero() {
        let mut m = labelled(&[]);
        m.counter = Some(Box::new(Counter::default()));
        let f = view(family("c_total", MetricType::Counter, vec![m]));
        assert_eq!(f.series[0].value, "0");
    }

    #[test]
    fn summaries_list_quantiles_then_count_and_sum() {
        let mut m = labelled(&[]);
        m.summary = Some(Box::new(Summary {
            sample_count: Some(10),
            sample_sum: Some(4.5),
            quantile: vec![Quantile {
                quantile: Some(0.99),
                value: Some(f64::NAN),
            }],
            created_timestamp: None,
        }));
        let f = view(family("s", MetricType::Summary, vec![m]));
        assert!(!f.scalar);
        let rows: Vec<_> = f.series[0]
            .rows
            .iter()
            .map(|r| (r.key.as_str(), r.value.as_str(), r.kind))
            .collect();
        assert_eq!(
            rows,
            [
                ("quantile 0.99", "NaN", "part"),
                ("count", "10", "total"),
                ("sum", "4.5", "total")
            ]
        );
    }

    #[test]
    fn classic_histograms_list_cumulative_buckets() {
        let mut m = labelled(&[]);
        m.histogram = Some(Box::new(Histogram {
            sample_count: Some(3),
            sample_sum: Some(0.75),
            bucket: vec![
                Bucket {
                    cumulative_count: Some(1),
                    upper_bound: Some(0.1),
                    ..Default::default()
                },
                Bucket {
                    cumulative_count: Some(3),
                    upper_bound: Some(f64::INFINITY),
                    ..Default::default()
                },
            ],
            ..Default::default()
        }));
        let f = view(family("h", MetricType::Histogram, vec![m]));
        let rows: Vec<_> = f.series[0]
            .rows
            .iter()
            .map(|r| (r.key.as_str(), r.value.as_str()))
            .collect();
        assert_eq!(
            rows,
            [
                ("≤ 0.1", "1"),
                ("≤ +Inf", "3"),
                ("count", "3"),
                ("sum", "0.75")
            ]
        );
    }

    #[test]
    fn native_histograms_get_a_summary_row() {
        let mut m = labelled(&[]);
        m.histogram = Some(Box::new(Histogram {
            sample_count: Some(2),
            sample_sum: Some(3.0),
            schema: Some(0),
            zero_threshold: Some(0.0),
            positive_span: vec![crate::proto::BucketSpan {
                offset: Some(1),
                length: Some(1),
            }],
            positive_delta: vec![2],
            ..Default::default()
        }));
        let f = view(family("n", MetricType::Histogram, vec![m]));
        let first = &f.series[0].rows[0];
        assert_eq!(first.kind, "native");
        assert_eq!(first.value, "{count:2, sum:3, (1,2]:2}");
    }

    #[test]
    fn names_invalid_under_legacy_validation_are_quoted() {
        assert_eq!(display_label_name("a-b", NameValidation::Legacy), "\"a-b\"");
        assert_eq!(display_label_name("a-b", NameValidation::Utf8), "a-b");
        assert_eq!(display_label_name("ab", NameValidation::Legacy), "ab");
    }
}
