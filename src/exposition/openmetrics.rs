//! OpenMetrics 1.0.0 text, byte for byte as prometheus/common v0.69.0
//! `expfmt.MetricFamilyToOpenMetrics` writes it with default options, after
//! `model.EscapeMetricFamily`.
//!
//! Upstream's peculiarities are kept because scrapers compare against them:
//! - a counter's `# HELP`/`# TYPE`/`# UNIT` name drops a `_total` suffix, while its samples
//!   keep the family name; a counter whose name lacks `_total` is typed `unknown`;
//! - untyped is `unknown`; gauge histograms are `gaugehistogram` but their samples are
//!   still `_bucket`, `_sum` and `_count` (v0.69.0 writes no `_gcount`/`_gsum`);
//! - floats always show a `.` or an exponent (`1.0`, `0.0` also for -0, `1.5e+06`), while
//!   counts of summaries and histograms are plain integers;
//! - timestamps are seconds as floats; exemplars follow counter and bucket samples only
//!   when they have labels; no `_created` lines (upstream writes them only on request).
//!
//! The caller writes [`EOF`] once after the last family.

use super::escape::{exposed_name, push_escaped, push_name};
use super::text::{escaped_labels, push_name_and_labels, Series, BUCKET_LABEL, QUANTILE_LABEL};
use crate::go_strconv;
use crate::names::Escaping;
use crate::proto::{Exemplar, Metric, MetricType, Timestamp};

/// The line that must end every OpenMetrics exposition.
pub const EOF: &[u8] = b"# EOF\n";

/// Appends the `# HELP` (only if set) and `# TYPE` lines of family `name`, escaped under
/// `esc`. Families with a unit need [`write_header_with_unit`].
pub fn write_header(
    out: &mut Vec<u8>,
    name: &str,
    help: Option<&str>,
    t: MetricType,
    esc: Escaping,
) {
    write_header_with_unit(out, name, help, None, t, esc);
}

/// [`write_header`] plus the `# UNIT` line after `# TYPE` when `unit` is set (even if
/// empty), as upstream writes it for a family whose `unit` field is present.
pub fn write_header_with_unit(
    out: &mut Vec<u8>,
    name: &str,
    help: Option<&str>,
    unit: Option<&str>,
    t: MetricType,
    esc: Escaping,
) {
    let name = exposed_name(name, esc);
    let is_total_counter = t == MetricType::Counter && name.ends_with("_total");
    let header_name = if is_total_counter {
        &name[..name.len() - "_total".len()]
    } else {
        &name[..]
    };
    if let Some(help) = help {
        out.extend_from_slice(b"# HELP ");
        push_name(out, header_name);
        out.push(b' ');
        push_escaped(out, help, true);
        out.push(b'\n');
    }
    out.extend_from_slice(b"# TYPE ");
    push_name(out, header_name);
    out.extend_from_slice(match t {
        MetricType::Counter if is_total_counter => b" counter\n".as_slice(),
        // Without `_total` the samples would not be valid counter samples.
        MetricType::Counter => b" unknown\n",
        MetricType::Gauge => b" gauge\n",
        MetricType::Summary => b" summary\n",
        MetricType::Untyped => b" unknown\n",
        MetricType::Histogram => b" histogram\n",
        MetricType::GaugeHistogram => b" gaugehistogram\n",
    });
    if let Some(unit) = unit {
        out.extend_from_slice(b"# UNIT ");
        push_name(out, header_name);
        out.push(b' ');
        push_escaped(out, unit, true);
        out.push(b'\n');
    }
}

/// Whether [`write_metric`] writes anything for `m`. Upstream fails the whole encoding
/// where this is false: `m` lacks the field for `t`, or it is a float histogram, which
/// OpenMetrics 1.0 cannot express.
pub fn is_writable(t: MetricType, m: &Metric) -> bool {
    match t {
        MetricType::Counter => m.counter.is_some(),
        MetricType::Gauge => m.gauge.is_some(),
        MetricType::Untyped => m.untyped.is_some(),
        MetricType::Summary => m.summary.is_some(),
        MetricType::Histogram | MetricType::GaugeHistogram => {
            m.histogram.as_ref().is_some_and(|h| {
                h.sample_count_float.unwrap_or(0.0) <= 0.0
                    && h.bucket
                        .iter()
                        .all(|b| b.cumulative_count_float.unwrap_or(0.0) <= 0.0)
            })
        }
    }
}

/// Appends the sample lines of one metric of family `name` (unescaped) of type `t`, label
/// pairs in the order `m` holds them. Writes nothing where [`is_writable`] is false, since
/// upstream would abort mid-family there and a partial metric helps no one.
pub fn write_metric(out: &mut Vec<u8>, name: &str, t: MetricType, m: &Metric, esc: Escaping) {
    if !is_writable(t, m) {
        return;
    }
    let series = Series::new(name, m, esc);
    let line = |out: &mut Vec<u8>,
                suffix: &str,
                extra: Option<(&str, f64)>,
                value: Value,
                exemplar: Option<&Exemplar>| {
        series.start(out, suffix, extra, push_float);
        match value {
            Value::Float(v) => push_float(out, v),
            Value::Int(v) => out.extend_from_slice(v.to_string().as_bytes()),
        }
        series.finish(out, |out, ms| push_float(out, ms as f64 / 1000.0));
        if let Some(e) = exemplar.filter(|e| !e.label.is_empty()) {
            push_exemplar(out, e);
        }
        out.push(b'\n');
    };
    let float = |v: Option<f64>| Value::Float(v.unwrap_or(0.0));
    let int = |v: Option<u64>| Value::Int(v.unwrap_or(0));
    match t {
        MetricType::Counter => {
            if let Some(c) = &m.counter {
                line(out, "", None, float(c.value), c.exemplar.as_ref());
            }
        }
        MetricType::Gauge => {
            if let Some(g) = &m.gauge {
                line(out, "", None, float(g.value), None);
            }
        }
        MetricType::Untyped => {
            if let Some(u) = &m.untyped {
                line(out, "", None, float(u.value), None);
            }
        }
        MetricType::Summary => {
            if let Some(s) = &m.summary {
                for q in &s.quantile {
                    let extra = (QUANTILE_LABEL, q.quantile.unwrap_or(0.0));
                    line(out, "", Some(extra), float(q.value), None);
                }
                line(out, "_sum", None, float(s.sample_sum), None);
                line(out, "_count", None, int(s.sample_count), None);
            }
        }
        MetricType::Histogram | MetricType::GaugeHistogram => {
            if let Some(h) = &m.histogram {
                let mut inf_seen = false;
                for b in &h.bucket {
                    let upper = b.upper_bound.unwrap_or(0.0);
                    let extra = Some((BUCKET_LABEL, upper));
                    line(
                        out,
                        "_bucket",
                        extra,
                        int(b.cumulative_count),
                        b.exemplar.as_ref(),
                    );
                    inf_seen |= upper == f64::INFINITY;
                }
                if !inf_seen {
                    let extra = Some((BUCKET_LABEL, f64::INFINITY));
                    line(out, "_bucket", extra, int(h.sample_count), None);
                }
                line(out, "_sum", None, float(h.sample_sum), None);
                line(out, "_count", None, int(h.sample_count), None);
            }
        }
    }
}

/// A sample value: floats for values and sums, integers for counts.
#[derive(Clone, Copy)]
enum Value {
    Float(f64),
    Int(u64),
}

/// The OpenMetrics float: Go's shortest `'g'` form with `.0` appended when it would
/// otherwise read as an integer; `-0` is `0.0`.
fn push_float(out: &mut Vec<u8>, v: f64) {
    if v == 0.0 {
        out.extend_from_slice(b"0.0");
    } else if v.is_nan() || v.is_infinite() {
        go_strconv::append_float(out, v);
    } else {
        let start = out.len();
        go_strconv::append_float(out, v);
        if !out[start..].iter().any(|&b| b == b'.' || b == b'e') {
            out.extend_from_slice(b".0");
        }
    }
}

/// Appends ` # {labels} value [timestamp]`. Exemplar labels are not subject to name
/// escaping upstream, so they are written as they are (quoted where not legacy-valid).
///
/// A timestamp outside what protobuf's `Timestamp` allows makes upstream fail the encoding
/// after the value; here the timestamp is left out instead, keeping the line valid.
fn push_exemplar(out: &mut Vec<u8>, e: &Exemplar) {
    out.extend_from_slice(b" # ");
    let labels = escaped_labels(&e.label, Escaping::AllowUtf8);
    push_name_and_labels(out, "", &labels, None, push_float);
    out.push(b' ');
    push_float(out, e.value.unwrap_or(0.0));
    if let Some(ts) = e.timestamp.as_ref().filter(|ts| is_valid_timestamp(ts)) {
        out.push(b' ');
        // Upstream goes through integer nanoseconds, then divides as a float.
        let nanos = ts
            .seconds
            .wrapping_mul(1_000_000_000)
            .wrapping_add(i64::from(ts.nanos));
        push_float(out, nanos as f64 / 1e9);
    }
}

/// protobuf's `Timestamp` validity: years 1 to 9999, nanoseconds in `[0, 1e9)`.
fn is_valid_timestamp(ts: &Timestamp) -> bool {
    const MIN_SECONDS: i64 = -62_135_596_800; // 0001-01-01T00:00:00Z
    const MAX_SECONDS: i64 = 253_402_300_800; // 10000-01-01T00:00:00Z, exclusive
    (MIN_SECONDS..MAX_SECONDS).contains(&ts.seconds) && (0..1_000_000_000).contains(&ts.nanos)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{Bucket, Counter, Gauge, Histogram, LabelPair, Quantile, Summary, Untyped};

    fn labels(pairs: &[(&str, &str)]) -> Vec<LabelPair> {
        pairs.iter().map(|(n, v)| LabelPair::new(*n, *v)).collect()
    }

    fn counter(pairs: &[(&str, &str)], v: f64, exemplar: Option<Exemplar>) -> Metric {
        Metric {
            label: labels(pairs),
            counter: Some(Box::new(Counter {
                value: Some(v),
                exemplar,
                created_timestamp: Some(Timestamp {
                    seconds: 12345,
                    nanos: 600_000_000,
                }),
            })),
            ..Default::default()
        }
    }

    fn gauge(v: f64) -> Metric {
        Metric {
            gauge: Some(Gauge { value: Some(v) }),
            ..Default::default()
        }
    }

    fn exemplar(pairs: &[(&str, &str)], v: f64, ts: Option<(i64, i32)>) -> Exemplar {
        Exemplar {
            label: labels(pairs),
            value: Some(v),
            timestamp: ts.map(|(seconds, nanos)| Timestamp { seconds, nanos }),
        }
    }

    fn histogram(buckets: &[(f64, u64)], count: u64, sum: f64) -> Histogram {
        Histogram {
            sample_count: Some(count),
            sample_sum: Some(sum),
            bucket: buckets
                .iter()
                .map(|&(le, c)| Bucket {
                    upper_bound: Some(le),
                    cumulative_count: Some(c),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    fn render(
        name: &str,
        help: Option<&str>,
        t: MetricType,
        esc: Escaping,
        metrics: &[Metric],
    ) -> String {
        let mut out = Vec::new();
        write_header(&mut out, name, help, t, esc);
        for m in metrics {
            write_metric(&mut out, name, t, m, esc);
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_total_counter_drops_the_suffix_in_headers_only_and_writes_no_created_line() {
        let m = counter(&[("job", "x")], 42.0, None);
        assert_eq!(
            render(
                "foos_total",
                Some("Number of foos."),
                MetricType::Counter,
                Escaping::Underscores,
                &[m]
            ),
            "# HELP foos Number of foos.\n# TYPE foos counter\nfoos_total{job=\"x\"} 42.0\n"
        );
    }

    #[test]
    fn a_counter_without_total_suffix_is_typed_unknown() {
        let m = counter(&[], 0.23, None);
        assert_eq!(
            render(
                "foos",
                Some("h"),
                MetricType::Counter,
                Escaping::Underscores,
                &[m]
            ),
            "# HELP foos h\n# TYPE foos unknown\nfoos 0.23\n"
        );
    }

    #[test]
    fn floats_always_show_a_point_or_an_exponent() {
        let values = [
            1.0,
            0.0,
            -0.0,
            -1.0,
            42.0,
            123456.0,
            1234567.0,
            3.14e42,
            1e-5,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        let metrics: Vec<Metric> = values.iter().map(|&v| gauge(v)).collect();
        assert_eq!(
            render(
                "g",
                None,
                MetricType::Gauge,
                Escaping::Underscores,
                &metrics
            ),
            "# TYPE g gauge\ng 1.0\ng 0.0\ng 0.0\ng -1.0\ng 42.0\ng 123456.0\ng 1.234567e+06\n\
             g 3.14e+42\ng 1e-05\ng NaN\ng +Inf\ng -Inf\n"
        );
    }

    #[test]
    fn untyped_is_unknown_and_help_escapes_quotes_too() {
        let m = Metric {
            label: labels(&[("name_1", "a\"b\\c\nd")]),
            untyped: Some(Untyped {
                value: Some(-1.23e-45),
            }),
            ..Default::default()
        };
        assert_eq!(
            render(
                "u",
                Some("two-line\n \"doc\" str\\ing"),
                MetricType::Untyped,
                Escaping::Underscores,
                &[m]
            ),
            "# HELP u two-line\\n \\\"doc\\\" str\\\\ing\n# TYPE u unknown\n\
             u{name_1=\"a\\\"b\\\\c\\nd\"} -1.23e-45\n"
        );
    }

    #[test]
    fn a_timestamp_is_written_as_float_seconds() {
        let mut m = gauge(0.23);
        m.timestamp_ms = Some(1234567890);
        let mut whole = gauge(1.0);
        whole.timestamp_ms = Some(5000);
        assert_eq!(
            render(
                "g",
                None,
                MetricType::Gauge,
                Escaping::Underscores,
                &[m, whole]
            ),
            "# TYPE g gauge\ng 0.23 1.23456789e+06\ng 1.0 5.0\n"
        );
    }

    #[test]
    fn a_summary_writes_integer_counts_and_float_quantile_labels() {
        let m = Metric {
            label: labels(&[("a", "b")]),
            summary: Some(Box::new(Summary {
                sample_count: Some(4711),
                sample_sum: Some(2010.1971),
                quantile: vec![
                    Quantile {
                        quantile: Some(0.5),
                        value: Some(1.0),
                    },
                    Quantile {
                        quantile: Some(1.0),
                        value: Some(0.0),
                    },
                ],
                created_timestamp: Some(Timestamp {
                    seconds: 1,
                    nanos: 0,
                }),
            })),
            ..Default::default()
        };
        assert_eq!(
            render(
                "s",
                Some("doc"),
                MetricType::Summary,
                Escaping::Underscores,
                &[m]
            ),
            "# HELP s doc\n# TYPE s summary\ns{a=\"b\",quantile=\"0.5\"} 1.0\n\
             s{a=\"b\",quantile=\"1.0\"} 0.0\ns_sum{a=\"b\"} 2010.1971\ns_count{a=\"b\"} 4711\n"
        );
    }

    #[test]
    fn a_histogram_gets_an_inf_bucket_and_a_unit_line_when_it_has_a_unit() {
        let m = Metric {
            histogram: Some(Box::new(histogram(
                &[(100.0, 123), (172.8, 1524)],
                2693,
                1756047.3,
            ))),
            ..Default::default()
        };
        let mut out = Vec::new();
        let t = MetricType::Histogram;
        write_header_with_unit(
            &mut out,
            "rd_us",
            Some("The latency."),
            Some("us"),
            t,
            Escaping::Underscores,
        );
        write_metric(&mut out, "rd_us", t, &m, Escaping::Underscores);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "# HELP rd_us The latency.\n# TYPE rd_us histogram\n# UNIT rd_us us\n\
             rd_us_bucket{le=\"100.0\"} 123\nrd_us_bucket{le=\"172.8\"} 1524\n\
             rd_us_bucket{le=\"+Inf\"} 2693\nrd_us_sum 1.7560473e+06\nrd_us_count 2693\n"
        );
    }

    #[test]
    fn a_counter_unit_line_uses_the_name_without_total() {
        let mut out = Vec::new();
        write_header_with_unit(
            &mut out,
            "m_seconds_total",
            None,
            Some("seconds"),
            MetricType::Counter,
            Escaping::Underscores,
        );
        assert_eq!(out, b"# TYPE m_seconds counter\n# UNIT m_seconds seconds\n");
    }

    #[test]
    fn a_gauge_histogram_keeps_sum_and_count_suffixes() {
        let m = Metric {
            label: labels(&[("job", "x")]),
            histogram: Some(Box::new(histogram(&[(1.0, 2), (f64::INFINITY, 3)], 3, 4.0))),
            ..Default::default()
        };
        assert_eq!(
            render(
                "gh",
                Some("doc"),
                MetricType::GaugeHistogram,
                Escaping::Underscores,
                &[m]
            ),
            "# HELP gh doc\n# TYPE gh gaugehistogram\ngh_bucket{job=\"x\",le=\"1.0\"} 2\n\
             gh_bucket{job=\"x\",le=\"+Inf\"} 3\ngh_sum{job=\"x\"} 4.0\ngh_count{job=\"x\"} 3\n"
        );
    }

    #[test]
    fn a_native_only_histogram_renders_as_a_single_inf_bucket() {
        let m = Metric {
            histogram: Some(Box::new(Histogram {
                sample_count: Some(7),
                sample_sum: Some(1.5),
                schema: Some(3),
                zero_count: Some(7),
                ..Default::default()
            })),
            ..Default::default()
        };
        assert_eq!(
            render(
                "n",
                None,
                MetricType::Histogram,
                Escaping::Underscores,
                &[m]
            ),
            "# TYPE n histogram\nn_bucket{le=\"+Inf\"} 7\nn_sum 1.5\nn_count 7\n"
        );
    }

    #[test]
    fn a_float_histogram_is_not_writable_and_writes_nothing() {
        let mut float_bucket = histogram(&[(1.0, 0)], 1, 1.0);
        float_bucket.bucket[0].cumulative_count_float = Some(1.0);
        let float_count = Histogram {
            sample_count_float: Some(2.0),
            ..Default::default()
        };
        for h in [float_bucket, float_count] {
            let m = Metric {
                histogram: Some(Box::new(h)),
                ..Default::default()
            };
            assert!(!is_writable(MetricType::Histogram, &m));
            let mut out = Vec::new();
            write_metric(
                &mut out,
                "h",
                MetricType::Histogram,
                &m,
                Escaping::Underscores,
            );
            assert!(out.is_empty());
        }
    }

    #[test]
    fn a_metric_without_a_value_for_its_type_writes_nothing() {
        let m = gauge(1.0);
        assert!(is_writable(MetricType::Gauge, &m));
        for t in [
            MetricType::Counter,
            MetricType::Summary,
            MetricType::Untyped,
            MetricType::Histogram,
            MetricType::GaugeHistogram,
        ] {
            assert!(!is_writable(t, &m), "{t:?}");
            let mut out = Vec::new();
            write_metric(&mut out, "x", t, &m, Escaping::Underscores);
            assert!(out.is_empty(), "{t:?}");
        }
    }

    #[test]
    fn exemplars_follow_counter_and_bucket_samples_when_they_have_labels() {
        let c = counter(
            &[("job", "x")],
            1.0,
            Some(exemplar(
                &[("trace.id", "a\"b")],
                1.0,
                Some((12345, 600_000_000)),
            )),
        );
        let unlabelled = counter(&[("job", "y")], 2.0, Some(exemplar(&[], 1.0, None)));
        assert_eq!(
            render(
                "c_total",
                None,
                MetricType::Counter,
                Escaping::Underscores,
                &[c, unlabelled]
            ),
            "# TYPE c counter\nc_total{job=\"x\"} 1.0 # {\"trace.id\"=\"a\\\"b\"} 1.0 12345.6\n\
             c_total{job=\"y\"} 2.0\n"
        );
        let mut h = histogram(&[(100.0, 123), (120.0, 412), (144.0, 592)], 600, 0.5);
        h.bucket[1].exemplar = Some(exemplar(
            &[("foo", "bar")],
            119.9,
            Some((12345, 600_000_000)),
        ));
        h.bucket[2].exemplar = Some(exemplar(&[("foo", "baz"), ("dings", "bums")], 140.14, None));
        let m = Metric {
            histogram: Some(Box::new(h)),
            ..Default::default()
        };
        assert_eq!(
            render(
                "h",
                None,
                MetricType::Histogram,
                Escaping::Underscores,
                &[m]
            ),
            "# TYPE h histogram\nh_bucket{le=\"100.0\"} 123\n\
             h_bucket{le=\"120.0\"} 412 # {foo=\"bar\"} 119.9 12345.6\n\
             h_bucket{le=\"144.0\"} 592 # {foo=\"baz\",dings=\"bums\"} 140.14\n\
             h_bucket{le=\"+Inf\"} 600\nh_sum 0.5\nh_count 600\n"
        );
    }

    #[test]
    fn an_exemplar_timestamp_protobuf_rejects_is_left_out() {
        let bad_nanos = counter(&[], 1.0, Some(exemplar(&[("a", "b")], 2.0, Some((1, -1)))));
        let too_late = counter(
            &[],
            1.0,
            Some(exemplar(&[("a", "b")], 2.0, Some((253_402_300_800, 0)))),
        );
        let whole = counter(&[], 1.0, Some(exemplar(&[("a", "b")], 2.0, Some((3, 0)))));
        assert_eq!(
            render(
                "c_total",
                None,
                MetricType::Counter,
                Escaping::Underscores,
                &[bad_nanos, too_late, whole]
            ),
            "# TYPE c counter\nc_total 1.0 # {a=\"b\"} 2.0\nc_total 1.0 # {a=\"b\"} 2.0\n\
             c_total 1.0 # {a=\"b\"} 2.0 3.0\n"
        );
    }

    #[test]
    fn allow_utf8_quotes_a_counter_name_and_still_strips_total_in_headers() {
        let m = counter(&[("c-d", "v")], 1.0, None);
        assert_eq!(
            render(
                "a.b_total",
                Some("h"),
                MetricType::Counter,
                Escaping::AllowUtf8,
                &[m]
            ),
            "# HELP \"a.b\" h\n# TYPE \"a.b\" counter\n{\"a.b_total\",\"c-d\"=\"v\"} 1.0\n"
        );
    }

    #[test]
    fn names_are_escaped_before_the_total_suffix_is_checked() {
        let m = counter(&[("c-d", "v")], 1.0, None);
        let cases = [
            (
                Escaping::Underscores,
                "# TYPE a_b counter\na_b_total{c_d=\"v\"} 1.0\n",
            ),
            (
                Escaping::Dots,
                "# TYPE a_dot_b_ counter\na_dot_b__total{c__d=\"v\"} 1.0\n",
            ),
            (
                Escaping::Values,
                "# TYPE U__a_2e_b_ counter\nU__a_2e_b__total{U__c_2d_d=\"v\"} 1.0\n",
            ),
        ];
        for (esc, want) in cases {
            assert_eq!(
                render(
                    "a.b_total",
                    None,
                    MetricType::Counter,
                    esc,
                    std::slice::from_ref(&m)
                ),
                want,
                "{esc:?}"
            );
        }
    }

    #[test]
    fn the_caller_ends_the_exposition_with_eof() {
        assert_eq!(EOF, b"# EOF\n");
    }
}
