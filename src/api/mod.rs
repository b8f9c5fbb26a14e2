//! The documents of the JSON API: `GET /api/v1/status` and `GET /api/v1/metrics`.
//!
//! Upstream answers both with `json.Marshal` of Go maps and structs, and scripts and the
//! upstream tests compare the result exactly: field names, string-formatted numbers
//! (`fmt.Sprint`), integer versus float counts, native histogram bucket arrays, times in
//! RFC 3339 with nanoseconds in the process's zone (upstream's api/v1/api.go). Everything here is a pure
//! function from cache data to those bytes; the handlers live in `routes::api_v1`.

pub(crate) mod delete_groups;
pub mod gojson;
pub(crate) mod history;
pub(crate) mod series;

use std::collections::BTreeMap;

use jiff::tz::TimeZone;
use jiff::Timestamp;

use crate::cache::Group;
use crate::family::FamilyData;
use crate::go_strconv::format_float;
use crate::native_histogram;
use crate::proto::{Histogram, Metric, MetricType, Summary};

use gojson::Json;

/// The body of `GET /api/v1/status`.
pub fn status_document(
    flags: &BTreeMap<String, String>,
    build_information: &BTreeMap<String, String>,
    start_time: Timestamp,
    tz: &TimeZone,
) -> Vec<u8> {
    success(Json::map([
        (
            "build_information",
            Json::string_map(build_information.clone()),
        ),
        ("flags", Json::string_map(flags.clone())),
        ("start_time", Json::Str(rfc3339_nano(start_time, tz))),
    ]))
}

/// The body of `GET /api/v1/metrics`: one object per group, in the order given.
pub fn metrics_document<'a>(groups: impl IntoIterator<Item = &'a Group>, tz: &TimeZone) -> Vec<u8> {
    success(Json::Array(
        groups.into_iter().map(|g| group_object(g, tz)).collect(),
    ))
}

/// `{"status":"success","data":…}`, as Go marshals upstream's response struct.
fn success(data: Json) -> Vec<u8> {
    let mut out = Vec::new();
    gojson::write(
        &Json::Object(vec![
            ("status".into(), Json::str("success")),
            ("data".into(), data),
        ]),
        &mut out,
    );
    out
}

/// One group: its labels, whether its last push succeeded, when it expires (`expires_at`,
/// only for a group that does: opt-in expiry, not in upstream), and one member per family.
/// Upstream fills one Go map in that order, so a family named `labels` or
/// `last_push_successful` replaces those members.
fn group_object(group: &Group, tz: &TimeZone) -> Json {
    let mut members: Vec<(String, Json)> = vec![
        (
            "labels".into(),
            Json::string_map(group.key.labels().iter().cloned()),
        ),
        (
            "last_push_successful".into(),
            Json::Bool(group.last_push_successful()),
        ),
    ];
    if group.expires_ns > 0 {
        members.push((
            "expires_at".into(),
            Json::Str(rfc3339_nano(timestamp_from_ns(group.expires_ns), tz)),
        ));
    }
    for (name, family) in &group.families {
        members.push((name.clone(), family_object(family, tz)));
    }
    Json::map(members)
}

/// One family: upstream's struct with `time_stamp`, `type`, `help` (omitted when empty) and
/// `metrics`, in that order.
fn family_object(family: &FamilyData, tz: &TimeZone) -> Json {
    let decoded = family.decode();
    let mut members = vec![
        (
            "time_stamp".to_string(),
            Json::Str(rfc3339_nano(timestamp_from_ns(family.pushed_ns), tz)),
        ),
        (
            "type".to_string(),
            Json::str(crate::proto::MetricType::upstream_name(family.mtype)),
        ),
    ];
    if let Some(help) = family.help.as_deref().filter(|h| !h.is_empty()) {
        members.push(("help".to_string(), Json::str(help)));
    }
    let metrics = decoded
        .metric
        .iter()
        .map(|m| metric_object(m, family.mtype))
        .collect();
    members.push(("metrics".to_string(), Json::Array(metrics)));
    Json::Object(members)
}

/// One series. Upstream switches on the family type: summaries and histograms get their
/// parts; every other type (gauge histograms included) gets the `value` of whichever of
/// gauge, counter or untyped the metric carries, else 0.
fn metric_object(m: &Metric, mtype: MetricType) -> Json {
    let labels = Json::string_map(
        m.label
            .iter()
            .map(|l| (l.name().to_string(), l.value().to_string())),
    );
    let mut members = vec![("labels", labels)];
    match mtype {
        MetricType::Summary => {
            let default = Summary::default();
            let s = m.summary.as_deref().unwrap_or(&default);
            let quantiles = s
                .quantile
                .iter()
                .map(|q| (format_float(q.quantile()), format_float(q.value())));
            members.push(("quantiles", Json::string_map(quantiles)));
            members.push(("count", Json::Str(s.sample_count().to_string())));
            members.push(("sum", Json::Str(format_float(s.sample_sum()))));
        }
        MetricType::Histogram => {
            let default = Histogram::default();
            let h = m.histogram.as_deref().unwrap_or(&default);
            members.push(("sum", Json::Str(format_float(h.sample_sum()))));
            if native_histogram::is_native(h) {
                let (count, buckets) = native_buckets(h);
                members.push(("count", Json::Str(count)));
                members.push(("buckets", buckets));
            } else {
                members.push(("buckets", classic_buckets(h)));
                let count = if h.sample_count_float() > 0.0 {
                    format_float(h.sample_count_float())
                } else {
                    h.sample_count().to_string()
                };
                members.push(("count", Json::Str(count)));
            }
        }
        _ => {
            let value = if let Some(g) = &m.gauge {
                g.value()
            } else if let Some(c) = &m.counter {
                c.value()
            } else if let Some(u) = &m.untyped {
                u.value()
            } else {
                0.0
            };
            members.push(("value", Json::Str(format_float(value))));
        }
    }
    Json::map(members)
}

/// A native histogram's formatted count and its buckets as
/// `[[boundaries, "lower", "upper", "count"], …]`.
fn native_buckets(h: &Histogram) -> (String, Json) {
    let (count, buckets) = native_histogram::buckets(h);
    let buckets = buckets
        .into_iter()
        .map(|b| {
            Json::Array(vec![
                Json::Uint(b.boundaries),
                Json::Str(format_float(b.lower)),
                Json::Str(format_float(b.upper)),
                Json::Str(b.count.format()),
            ])
        })
        .collect();
    (count, Json::Array(buckets))
}

/// A classic histogram's buckets: upper bound → cumulative count (the float count when it is
/// positive, else the integer one).
fn classic_buckets(h: &Histogram) -> Json {
    Json::string_map(h.bucket.iter().map(|b| {
        let count = if b.cumulative_count_float() > 0.0 {
            format_float(b.cumulative_count_float())
        } else {
            b.cumulative_count().to_string()
        };
        (format_float(b.upper_bound()), count)
    }))
}

pub(crate) fn timestamp_from_ns(ns: i64) -> Timestamp {
    Timestamp::from_nanosecond(i128::from(ns)).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// Go's `time.RFC3339Nano` in zone `tz`: nanoseconds with trailing zeros (and a bare dot)
/// dropped, `Z` for a zero offset, else `±hh:mm`.
pub fn rfc3339_nano(ts: Timestamp, tz: &TimeZone) -> String {
    let offset = tz.to_offset(ts);
    let dt = offset.to_datetime(ts);
    let mut out = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    );
    let nanos = dt.subsec_nanosecond();
    if nanos != 0 {
        let fraction = format!("{nanos:09}");
        out.push('.');
        out.push_str(fraction.trim_end_matches('0'));
    }
    let offset_seconds = offset.seconds();
    if offset_seconds == 0 {
        out.push('Z');
    } else {
        // Go writes whole minutes, truncated toward zero, and takes the sign from them.
        let minutes = offset_seconds / 60;
        let sign = if minutes < 0 { '-' } else { '+' };
        let minutes = minutes.abs();
        out.push_str(&format!("{sign}{:02}:{:02}", minutes / 60, minutes % 60));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::family::{sanitize, timestamp_family, PUSH_FAILURE_TIME, PUSH_TIME};
    use crate::grouping_key::GroupingKey;
    use crate::proto::{Bucket, BucketSpan, Counter, Gauge, LabelPair, MetricFamily, Quantile};

    /// 2020-03-10T00:54:08.025744841+05:30, upstream's test push time.
    const PUSHED_NS: i64 = 1_583_781_848_025_744_841;

    fn ist() -> TimeZone {
        TimeZone::fixed(jiff::tz::Offset::from_seconds(5 * 3600 + 1800).unwrap())
    }

    fn text(bytes: Vec<u8>) -> String {
        String::from_utf8(bytes).unwrap()
    }

    fn key() -> GroupingKey {
        GroupingKey::from_labels([
            ("job".to_string(), "Björn".to_string()),
            ("instance".to_string(), r#"inst'a"n\ce1"#.to_string()),
        ])
        .unwrap()
    }

    fn group(families: Vec<MetricFamily>, push_ns: i64, failure_ns: i64) -> Group {
        let key = key();
        let mut map = BTreeMap::new();
        for mut f in families {
            sanitize(&mut f, &key);
            map.insert(f.name().to_string(), Arc::new(FamilyData::new(&f, push_ns)));
        }
        for (name, value) in [(PUSH_TIME, push_ns), (PUSH_FAILURE_TIME, failure_ns)] {
            map.insert(
                name.to_string(),
                Arc::new(timestamp_family(name, value, &key, push_ns)),
            );
        }
        Group {
            id: 1,
            key_bytes: key.upstream_key().into(),
            key,
            families: map,
            last_push_ns: push_ns,
            last_failure_ns: failure_ns,
            created_ns: push_ns,
            expires_ns: 0,
        }
    }

    fn family(name: &str, t: MetricType, help: Option<&str>, metric: Vec<Metric>) -> MetricFamily {
        MetricFamily {
            name: Some(name.into()),
            help: help.map(Into::into),
            r#type: Some(t as i32),
            metric,
            unit: None,
        }
    }

    fn labelled(testing: &str, histogram: Histogram) -> Metric {
        Metric {
            label: vec![LabelPair::new("testing", testing)],
            histogram: Some(Box::new(histogram)),
            ..Default::default()
        }
    }

    fn span(offset: i32, length: u32) -> BucketSpan {
        BucketSpan {
            offset: Some(offset),
            length: Some(length),
        }
    }

    /// Upstream's TestMetricsAPI families `mf1` and `mfh`.
    fn upstream_test_families() -> Vec<MetricFamily> {
        let bucket = |ub: f64, c: u64| Bucket {
            upper_bound: Some(ub),
            cumulative_count: Some(c),
            ..Default::default()
        };
        let fbucket = |ub: f64, c: f64| Bucket {
            upper_bound: Some(ub),
            cumulative_count_float: Some(c),
            ..Default::default()
        };
        vec![
            family(
                "mf1",
                MetricType::Summary,
                None,
                vec![Metric {
                    summary: Some(Box::new(Summary {
                        sample_count: Some(0),
                        sample_sum: Some(0.0),
                        ..Default::default()
                    })),
                    ..Default::default()
                }],
            ),
            family(
                "mfh",
                MetricType::Histogram,
                None,
                vec![
                    labelled(
                        "int classic histogram",
                        Histogram {
                            sample_count: Some(20),
                            sample_sum: Some(99.23),
                            bucket: vec![bucket(250000.0, 3), bucket(500000.0, 17)],
                            ..Default::default()
                        },
                    ),
                    labelled(
                        "float classic histogram",
                        Histogram {
                            sample_count_float: Some(20.0),
                            sample_sum: Some(99.23),
                            bucket: vec![fbucket(250000.0, 3.0), fbucket(500000.0, 17.0)],
                            ..Default::default()
                        },
                    ),
                    labelled(
                        "int native histogram",
                        Histogram {
                            sample_count: Some(20),
                            sample_sum: Some(99.23),
                            schema: Some(1),
                            negative_delta: vec![0, 2, -2, 0],
                            positive_delta: vec![0, 2, -2, 0],
                            positive_span: vec![span(0, 2), span(0, 2)],
                            negative_span: vec![span(0, 2), span(0, 2)],
                            ..Default::default()
                        },
                    ),
                    labelled(
                        "float native histogram",
                        Histogram {
                            sample_count_float: Some(20.0),
                            sample_sum: Some(99.23),
                            schema: Some(1),
                            negative_count: vec![2.0, 2.0, -2.0, 0.0],
                            positive_count: vec![2.0, 2.0, -2.0, 0.0],
                            positive_span: vec![span(0, 2), span(0, 2)],
                            negative_span: vec![span(0, 2), span(0, 2)],
                            ..Default::default()
                        },
                    ),
                ],
            ),
        ]
    }

    #[test]
    fn an_empty_store_is_an_empty_data_array() {
        assert_eq!(
            text(metrics_document(&[], &TimeZone::UTC)),
            r#"{"status":"success","data":[]}"#
        );
    }

    // See: upstream's api/v1/api_test.go, TestMetricsAPI (populated).
    #[test]
    fn upstreams_populated_example_is_reproduced_byte_for_byte() {
        let g = group(upstream_test_families(), PUSHED_NS, 0);
        let ts = r#""time_stamp":"2020-03-10T00:54:08.025744841+05:30""#;
        let grouping = r#""instance":"inst'a\"n\\ce1","job":"Björn""#;
        let series = |testing: &str| format!(r#""labels":{{{grouping},"testing":"{testing}"}}"#);
        let classic = r#""buckets":{"250000":"3","500000":"17"},"count":"20","#;
        let expected = [
            format!(r#"{{"status":"success","data":[{{"labels":{{{grouping}}},"#),
            r#""last_push_successful":true,"#.to_string(),
            format!(r#""mf1":{{{ts},"type":"SUMMARY","metrics":[{{"count":"0","#),
            format!(r#""labels":{{{grouping}}},"quantiles":{{}},"sum":"0"}}]}},"#),
            format!(r#""mfh":{{{ts},"type":"HISTOGRAM","metrics":["#),
            // The cache keeps series sorted by labels; upstream keeps push order.
            format!(
                r#"{{{classic}{},"sum":"99.23"}},"#,
                series("float classic histogram")
            ),
            concat!(
                r#"{"buckets":[[1,"-2","-1.414213562373095","-2"],"#,
                r#"[1,"-1.414213562373095","-1","2"],[1,"-1","-0.7071067811865475","2"],"#,
                r#"[0,"0.7071067811865475","1","2"],[0,"1","1.414213562373095","2"],"#,
                r#"[0,"1.414213562373095","2","-2"]],"count":"20","#,
            )
            .to_string(),
            format!(r#"{},"sum":"99.23"}},"#, series("float native histogram")),
            format!(
                r#"{{{classic}{},"sum":"99.23"}},"#,
                series("int classic histogram")
            ),
            r#"{"buckets":[[1,"-1.414213562373095","-1","2"],[0,"1","1.414213562373095","2"]],"#
                .to_string(),
            format!(
                r#""count":"20",{},"sum":"99.23"}}]}},"#,
                series("int native histogram")
            ),
            format!(r#""push_failure_time_seconds":{{{ts},"type":"GAUGE","#),
            r#""help":"Last Unix time when changing this group in the Pushgateway failed.","#
                .to_string(),
            format!(r#""metrics":[{{"labels":{{{grouping}}},"value":"0"}}]}},"#),
            format!(r#""push_time_seconds":{{{ts},"type":"GAUGE","#),
            r#""help":"Last Unix time when changing this group in the Pushgateway succeeded.","#
                .to_string(),
            format!(r#""metrics":[{{"labels":{{{grouping}}},"value":"1.583781848025745e+09"}}]}}"#),
            "}]}".to_string(),
        ]
        .concat();
        assert_eq!(text(metrics_document([&g], &ist())), expected);
    }

    #[test]
    fn a_failed_last_push_is_reported() {
        let g = group(Vec::new(), PUSHED_NS, PUSHED_NS + 1);
        let doc = text(metrics_document([&g], &TimeZone::UTC));
        assert!(doc.contains(r#""last_push_successful":false"#), "{doc}");
    }

    #[test]
    fn families_named_like_the_group_members_replace_them() {
        let gauge = |v: f64| Metric {
            gauge: Some(Gauge { value: Some(v) }),
            ..Default::default()
        };
        let g = group(
            vec![
                family("labels", MetricType::Gauge, None, vec![gauge(1.0)]),
                family(
                    "last_push_successful",
                    MetricType::Gauge,
                    None,
                    vec![gauge(2.0)],
                ),
            ],
            PUSHED_NS,
            0,
        );
        let doc = text(metrics_document([&g], &TimeZone::UTC));
        assert!(
            doc.starts_with(r#"{"status":"success","data":[{"labels":{"time_stamp":"#),
            "{doc}"
        );
        assert!(
            doc.contains(r#""last_push_successful":{"time_stamp""#),
            "{doc}"
        );
        assert!(!doc.contains(":true"), "{doc}");
    }

    #[test]
    fn scalar_values_use_go_float_formatting_and_html_escaping() {
        let m = Metric {
            label: vec![LabelPair::new("lbl", "<b>x</b>")],
            counter: Some(Box::new(Counter {
                value: Some(1e21),
                ..Default::default()
            })),
            ..Default::default()
        };
        let g = group(
            vec![family(
                "c_metric",
                MetricType::Counter,
                Some("A & B"),
                vec![m],
            )],
            PUSHED_NS,
            0,
        );
        let doc = text(metrics_document([&g], &TimeZone::UTC));
        assert!(
            doc.contains(concat!(
                r#""c_metric":{"time_stamp":"2020-03-09T19:24:08.025744841Z","type":"COUNTER","#,
                r#""help":"A \u0026 B","metrics":[{"labels":{"instance":"inst'a\"n\\ce1","#,
                r#""job":"Björn","lbl":"\u003cb\u003ex\u003c/b\u003e"},"value":"1e+21"}]}"#
            )),
            "{doc}"
        );
    }

    #[test]
    fn summaries_list_quantiles_by_formatted_quantile() {
        let m = Metric {
            summary: Some(Box::new(Summary {
                sample_count: Some(5),
                sample_sum: Some(10.0),
                quantile: vec![
                    Quantile {
                        quantile: Some(0.5),
                        value: Some(1.5),
                    },
                    Quantile {
                        quantile: Some(0.9),
                        value: Some(2.0),
                    },
                ],
                ..Default::default()
            })),
            ..Default::default()
        };
        let obj = metric_object(&m, MetricType::Summary);
        let mut out = Vec::new();
        gojson::write(&obj, &mut out);
        assert_eq!(
            text(out),
            r#"{"count":"5","labels":{},"quantiles":{"0.5":"1.5","0.9":"2"},"sum":"10"}"#
        );
    }

    #[test]
    fn gauge_histograms_and_metrics_without_a_value_report_value_zero() {
        let m = Metric {
            histogram: Some(Box::new(Histogram::default())),
            ..Default::default()
        };
        let mut out = Vec::new();
        gojson::write(&metric_object(&m, MetricType::GaugeHistogram), &mut out);
        assert_eq!(text(out), r#"{"labels":{},"value":"0"}"#);
    }

    #[test]
    fn a_histogram_without_message_is_an_empty_classic_one() {
        let mut out = Vec::new();
        gojson::write(
            &metric_object(&Metric::default(), MetricType::Histogram),
            &mut out,
        );
        assert_eq!(
            text(out),
            r#"{"buckets":{},"count":"0","labels":{},"sum":"0"}"#
        );
    }

    #[test]
    fn status_lists_build_information_flags_and_start_time() {
        let flags = BTreeMap::from([
            ("flag1".to_string(), "value1".to_string()),
            ("flag2".to_string(), "<v&2>".to_string()),
        ]);
        let build = BTreeMap::from([("build1".to_string(), "value1".to_string())]);
        let start = timestamp_from_ns(PUSHED_NS);
        assert_eq!(
            text(status_document(&flags, &build, start, &ist())),
            concat!(
                r#"{"status":"success","data":{"build_information":{"build1":"value1"},"#,
                r#""flags":{"flag1":"value1","flag2":"\u003cv\u00262\u003e"},"#,
                r#""start_time":"2020-03-10T00:54:08.025744841+05:30"}}"#
            )
        );
    }

    #[test]
    fn times_drop_trailing_zeros_and_write_z_for_utc() {
        let at = |ns: i64| rfc3339_nano(timestamp_from_ns(ns), &TimeZone::UTC);
        assert_eq!(at(1_583_781_848_000_000_000), "2020-03-09T19:24:08Z");
        assert_eq!(at(1_583_781_848_100_000_000), "2020-03-09T19:24:08.1Z");
        assert_eq!(
            at(1_583_781_848_000_000_010),
            "2020-03-09T19:24:08.00000001Z"
        );
        assert_eq!(at(0), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn times_in_a_zone_west_of_utc_carry_a_negative_offset() {
        let tz = TimeZone::fixed(jiff::tz::Offset::from_seconds(-(3 * 3600 + 1800)).unwrap());
        assert_eq!(
            rfc3339_nano(timestamp_from_ns(1_583_781_848_000_000_000), &tz),
            "2020-03-09T15:54:08-03:30"
        );
    }
}
