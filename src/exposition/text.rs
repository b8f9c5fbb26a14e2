//! The Prometheus text format 0.0.4, byte for byte as prometheus/common v0.69.0
//! `expfmt.MetricFamilyToText` writes it after `model.EscapeMetricFamily`.
//!
//! `/metrics` is served in this format by default, and scrapers and conformance tests compare
//! its bytes, so every detail follows upstream: HELP only when set, `histogram` as the TYPE
//! of gauge histograms, a synthetic `+Inf` bucket, float counts for float histograms, and no
//! exemplars, created timestamps or native buckets (0.0.4 has no syntax for them).
//!
//! The output is split into [`write_header`] and [`write_metric`] so that the cache can
//! render each stored metric once and splice the lines of several groups under one header.
//! The order of metrics within a family is [`compare_metrics`].

use std::borrow::Cow;
use std::cmp::Ordering;

use super::escape::{exposed_label, exposed_name, push_escaped, push_name};
use crate::go_strconv;
use crate::names::{is_legacy_metric_name, Escaping};
use crate::proto::{LabelPair, Metric, MetricType};

/// Label that carries a summary quantile.
pub(crate) const QUANTILE_LABEL: &str = "quantile";
/// Label that carries a histogram bucket's upper bound.
pub(crate) const BUCKET_LABEL: &str = "le";

/// Appends the `# HELP` (only if `help` is set, even if empty) and `# TYPE` lines of family
/// `name`, with the name escaped under `esc`.
pub fn write_header(
    out: &mut Vec<u8>,
    name: &str,
    help: Option<&str>,
    t: MetricType,
    esc: Escaping,
) {
    let name = exposed_name(name, esc);
    if let Some(help) = help {
        out.extend_from_slice(b"# HELP ");
        push_name(out, &name);
        out.push(b' ');
        push_escaped(out, help, false);
        out.push(b'\n');
    }
    out.extend_from_slice(b"# TYPE ");
    push_name(out, &name);
    out.extend_from_slice(match t {
        MetricType::Counter => b" counter\n".as_slice(),
        MetricType::Gauge => b" gauge\n",
        MetricType::Summary => b" summary\n",
        MetricType::Untyped => b" untyped\n",
        // 0.0.4 has no gauge histogram; upstream writes it as a plain histogram.
        MetricType::Histogram | MetricType::GaugeHistogram => b" histogram\n",
    });
}

/// Appends the sample lines of one metric of family `name` (unescaped) of type `t`.
///
/// Label pairs are written in the order `m` holds them. If `m` lacks the field for `t`
/// (a counter without `counter`, ...), nothing is written: upstream aborts the whole
/// encoding there, which its gatherer's consistency check never lets happen.
pub fn write_metric(out: &mut Vec<u8>, name: &str, t: MetricType, m: &Metric, esc: Escaping) {
    let series = Series::new(name, m, esc);
    let line = |out: &mut Vec<u8>, suffix: &str, extra: Option<(&str, f64)>, v: f64| {
        series.line(out, suffix, extra, v)
    };
    match t {
        MetricType::Counter => {
            if let Some(c) = &m.counter {
                line(out, "", None, c.value.unwrap_or(0.0));
            }
        }
        MetricType::Gauge => {
            if let Some(g) = &m.gauge {
                line(out, "", None, g.value.unwrap_or(0.0));
            }
        }
        MetricType::Untyped => {
            if let Some(u) = &m.untyped {
                line(out, "", None, u.value.unwrap_or(0.0));
            }
        }
        MetricType::Summary => {
            if let Some(s) = &m.summary {
                for q in &s.quantile {
                    let extra = (QUANTILE_LABEL, q.quantile.unwrap_or(0.0));
                    line(out, "", Some(extra), q.value.unwrap_or(0.0));
                }
                line(out, "_sum", None, s.sample_sum.unwrap_or(0.0));
                line(out, "_count", None, s.sample_count.unwrap_or(0) as f64);
            }
        }
        MetricType::Histogram | MetricType::GaugeHistogram => {
            if let Some(h) = &m.histogram {
                let mut inf_seen = false;
                for b in &h.bucket {
                    let upper = b.upper_bound.unwrap_or(0.0);
                    let count = float_or_int(b.cumulative_count_float, b.cumulative_count);
                    line(out, "_bucket", Some((BUCKET_LABEL, upper)), count);
                    inf_seen |= upper == f64::INFINITY;
                }
                let count = float_or_int(h.sample_count_float, h.sample_count);
                // Also what a native-only histogram (no classic buckets) renders as.
                if !inf_seen {
                    line(out, "_bucket", Some((BUCKET_LABEL, f64::INFINITY)), count);
                }
                line(out, "_sum", None, h.sample_sum.unwrap_or(0.0));
                line(out, "_count", None, count);
            }
        }
    }
}

/// client_golang's order of metrics within a family (`internal.MetricSorter`): fewer label
/// pairs first, then label values position by position (byte order), then by timestamp
/// with an absent timestamp last. Metrics equal in all of that compare `Equal`; upstream's
/// sort is not stable, so their relative order is unspecified there.
pub fn compare_metrics(a: &Metric, b: &Metric) -> Ordering {
    a.label
        .len()
        .cmp(&b.label.len())
        .then_with(|| {
            a.label
                .iter()
                .zip(&b.label)
                .map(|(x, y)| {
                    let x = x.value.as_deref().unwrap_or("");
                    x.cmp(y.value.as_deref().unwrap_or(""))
                })
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal)
        })
        .then_with(|| match (a.timestamp_ms, b.timestamp_ms) {
            (Some(x), Some(y)) => x.cmp(&y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        })
}

/// Upstream's choice between the float and the integer form of a histogram count: the
/// float one unless it is zero (or absent).
fn float_or_int(float: Option<f64>, int: Option<u64>) -> f64 {
    match float {
        Some(v) if v != 0.0 => v,
        _ => int.unwrap_or(0) as f64,
    }
}

/// The text format's float: Go's shortest `'g'` form, except that `-0` is written `0`.
pub(crate) fn push_float(out: &mut Vec<u8>, v: f64) {
    if v == 0.0 {
        out.push(b'0');
    } else {
        go_strconv::append_float(out, v);
    }
}

/// One metric's name, escaped labels and timestamp, shared by all its sample lines; the
/// OpenMetrics writer uses it too, with its own number formats.
pub(crate) struct Series<'a> {
    /// The escaped family name.
    name: Cow<'a, str>,
    labels: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    timestamp_ms: Option<i64>,
}

impl<'a> Series<'a> {
    pub(crate) fn new(name: &'a str, m: &'a Metric, esc: Escaping) -> Self {
        Series {
            name: exposed_name(name, esc),
            labels: escaped_labels(&m.label, esc),
            timestamp_ms: m.timestamp_ms,
        }
    }

    /// Appends `<name><suffix>{labels,extra} ` (no value yet).
    pub(crate) fn start(
        &self,
        out: &mut Vec<u8>,
        suffix: &str,
        extra: Option<(&str, f64)>,
        float: fn(&mut Vec<u8>, f64),
    ) {
        let full;
        let name = if suffix.is_empty() {
            self.name.as_ref()
        } else {
            full = format!("{}{suffix}", self.name);
            full.as_str()
        };
        push_name_and_labels(out, name, &self.labels, extra, float);
        out.push(b' ');
    }

    /// Appends ` <timestamp>`, formatted by `ts`, if the metric has a timestamp.
    pub(crate) fn finish(&self, out: &mut Vec<u8>, ts: impl Fn(&mut Vec<u8>, i64)) {
        if let Some(t) = self.timestamp_ms {
            out.push(b' ');
            ts(out, t);
        }
    }

    /// Appends one complete text-format sample line.
    fn line(&self, out: &mut Vec<u8>, suffix: &str, extra: Option<(&str, f64)>, value: f64) {
        self.start(out, suffix, extra, push_float);
        push_float(out, value);
        self.finish(out, |out, ms| {
            out.extend_from_slice(ms.to_string().as_bytes())
        });
        out.push(b'\n');
    }
}

/// The label pairs of a metric with names (and `__name__` values) escaped under `esc`.
pub(crate) fn escaped_labels(
    labels: &[LabelPair],
    esc: Escaping,
) -> Vec<(Cow<'_, str>, Cow<'_, str>)> {
    labels
        .iter()
        .map(|l| exposed_label(l.name.as_deref(), l.value.as_deref(), esc))
        .collect()
}

/// Appends `name{l1="v1",...,extra="x"}` with upstream's rules: a name that is not a legacy
/// metric name goes quoted inside the braces, an empty name is omitted, and no braces are
/// written when there is nothing to put in them. `float` formats the extra label's value.
pub(crate) fn push_name_and_labels(
    out: &mut Vec<u8>,
    name: &str,
    labels: &[(Cow<'_, str>, Cow<'_, str>)],
    extra: Option<(&str, f64)>,
    float: fn(&mut Vec<u8>, f64),
) {
    let mut separator = b'{';
    let mut inside_braces = false;
    if !name.is_empty() {
        if !is_legacy_metric_name(name) {
            out.push(separator);
            separator = b',';
            inside_braces = true;
        }
        push_name(out, name);
    }
    if labels.is_empty() && extra.is_none() {
        if inside_braces {
            out.push(b'}');
        }
        return;
    }
    for (label, value) in labels {
        out.push(separator);
        separator = b',';
        push_name(out, label);
        out.extend_from_slice(b"=\"");
        push_escaped(out, value, true);
        out.push(b'"');
    }
    if let Some((label, value)) = extra {
        out.push(separator);
        out.extend_from_slice(label.as_bytes());
        out.extend_from_slice(b"=\"");
        float(out, value);
        out.push(b'"');
    }
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{Bucket, Counter, Gauge, Histogram, Quantile, Summary, Untyped};

    fn labels(pairs: &[(&str, &str)]) -> Vec<LabelPair> {
        pairs.iter().map(|(n, v)| LabelPair::new(*n, *v)).collect()
    }

    fn gauge(pairs: &[(&str, &str)], v: f64) -> Metric {
        Metric {
            label: labels(pairs),
            gauge: Some(Gauge { value: Some(v) }),
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

    #[test]
    fn a_counter_has_help_type_and_one_line_per_metric() {
        let m = Metric {
            label: labels(&[("instance", ""), ("job", "x")]),
            counter: Some(Box::new(Counter {
                value: Some(42.0),
                ..Default::default()
            })),
            ..Default::default()
        };
        assert_eq!(
            render("c_total", Some("Some help."), MetricType::Counter, Escaping::Underscores, &[m]),
            "# HELP c_total Some help.\n# TYPE c_total counter\nc_total{instance=\"\",job=\"x\"} 42\n"
        );
    }

    #[test]
    fn gauge_values_use_go_float_formatting_with_negative_zero_as_zero() {
        let values = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            3.25,
            123456.0,
            1234567.0,
            0.00001,
            0.0001,
            1e21,
            1.7954027570564053e9,
        ];
        let metrics: Vec<Metric> = values.iter().map(|&v| gauge(&[], v)).collect();
        assert_eq!(
            render(
                "g",
                None,
                MetricType::Gauge,
                Escaping::Underscores,
                &metrics
            ),
            "# TYPE g gauge\ng 0\ng 0\ng 1\ng -1\ng NaN\ng +Inf\ng -Inf\ng 3.25\ng 123456\n\
             g 1.234567e+06\ng 1e-05\ng 0.0001\ng 1e+21\ng 1.7954027570564053e+09\n"
        );
    }

    #[test]
    fn untyped_without_help_has_no_help_line_but_empty_help_has_one() {
        let m = Metric {
            untyped: Some(Untyped { value: Some(-2.5) }),
            ..Default::default()
        };
        assert_eq!(
            render(
                "u",
                None,
                MetricType::Untyped,
                Escaping::Underscores,
                std::slice::from_ref(&m)
            ),
            "# TYPE u untyped\nu -2.5\n"
        );
        assert_eq!(
            render(
                "u",
                Some(""),
                MetricType::Untyped,
                Escaping::Underscores,
                &[m]
            ),
            "# HELP u \n# TYPE u untyped\nu -2.5\n"
        );
    }

    #[test]
    fn help_escapes_backslash_and_newline_but_not_quotes() {
        let mut out = Vec::new();
        write_header(
            &mut out,
            "g",
            Some("a\\b\n\"c\""),
            MetricType::Gauge,
            Escaping::Underscores,
        );
        assert_eq!(out, b"# HELP g a\\\\b\\n\"c\"\n# TYPE g gauge\n");
    }

    #[test]
    fn label_values_escape_backslash_quote_and_newline() {
        let m = gauge(&[("a", "x\\y\"z\"\nw"), ("b", "Björn 佖")], 1.0);
        let mut out = Vec::new();
        write_metric(&mut out, "g", MetricType::Gauge, &m, Escaping::Underscores);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "g{a=\"x\\\\y\\\"z\\\"\\nw\",b=\"Björn 佖\"} 1\n"
        );
    }

    #[test]
    fn a_summary_writes_quantiles_then_sum_then_count() {
        let m = Metric {
            label: labels(&[("job", "x")]),
            summary: Some(Box::new(Summary {
                sample_count: Some(5),
                sample_sum: Some(10.0),
                quantile: vec![
                    Quantile {
                        quantile: Some(0.5),
                        value: Some(1.5),
                    },
                    Quantile {
                        quantile: Some(0.99),
                        value: Some(-0.0),
                    },
                ],
                ..Default::default()
            })),
            ..Default::default()
        };
        let bare = Metric {
            summary: Some(Box::new(Summary::default())),
            ..Default::default()
        };
        assert_eq!(
            render(
                "s",
                Some("A summary."),
                MetricType::Summary,
                Escaping::Underscores,
                &[m, bare]
            ),
            "# HELP s A summary.\n# TYPE s summary\n\
             s{job=\"x\",quantile=\"0.5\"} 1.5\ns{job=\"x\",quantile=\"0.99\"} 0\n\
             s_sum{job=\"x\"} 10\ns_count{job=\"x\"} 5\n\
             s_sum 0\ns_count 0\n"
        );
    }

    #[test]
    fn a_histogram_without_inf_bucket_gets_one_with_the_sample_count() {
        let m = Metric {
            histogram: Some(Box::new(histogram(&[(0.5, 1), (1.0, 3)], 4, 2.5))),
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
            "# TYPE h histogram\nh_bucket{le=\"0.5\"} 1\nh_bucket{le=\"1\"} 3\n\
             h_bucket{le=\"+Inf\"} 4\nh_sum 2.5\nh_count 4\n"
        );
    }

    #[test]
    fn a_histogram_with_inf_bucket_gets_no_second_one() {
        let m = Metric {
            label: labels(&[("job", "x")]),
            histogram: Some(Box::new(histogram(&[(0.5, 1), (f64::INFINITY, 5)], 4, 2.5))),
            ..Default::default()
        };
        assert_eq!(
            render("h", None, MetricType::Histogram, Escaping::Underscores, &[m]),
            "# TYPE h histogram\nh_bucket{job=\"x\",le=\"0.5\"} 1\nh_bucket{job=\"x\",le=\"+Inf\"} 5\n\
             h_sum{job=\"x\"} 2.5\nh_count{job=\"x\"} 4\n"
        );
    }

    #[test]
    fn a_float_histogram_writes_its_float_counts() {
        let h = Histogram {
            sample_count_float: Some(4.5),
            sample_sum: Some(1.0),
            bucket: vec![
                Bucket {
                    upper_bound: Some(1.0),
                    cumulative_count_float: Some(2.25),
                    ..Default::default()
                },
                // A zero float count falls back to the integer count.
                Bucket {
                    upper_bound: Some(2.0),
                    cumulative_count_float: Some(0.0),
                    cumulative_count: Some(3),
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
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
            "# TYPE h histogram\nh_bucket{le=\"1\"} 2.25\nh_bucket{le=\"2\"} 3\n\
             h_bucket{le=\"+Inf\"} 4.5\nh_sum 1\nh_count 4.5\n"
        );
    }

    #[test]
    fn a_native_only_histogram_renders_as_a_single_inf_bucket() {
        let native = Histogram {
            sample_count: Some(7),
            sample_sum: Some(12.5),
            schema: Some(3),
            zero_threshold: Some(1e-128),
            zero_count: Some(1),
            positive_span: vec![crate::proto::BucketSpan {
                offset: Some(0),
                length: Some(2),
            }],
            positive_delta: vec![3, 0],
            ..Default::default()
        };
        let float_native = Histogram {
            sample_count_float: Some(1.5),
            zero_count_float: Some(1.5),
            schema: Some(0),
            ..Default::default()
        };
        let metrics = [
            Metric {
                histogram: Some(Box::new(native)),
                ..Default::default()
            },
            Metric {
                label: labels(&[("f", "1")]),
                histogram: Some(Box::new(float_native)),
                ..Default::default()
            },
        ];
        assert_eq!(
            render(
                "n",
                None,
                MetricType::Histogram,
                Escaping::Underscores,
                &metrics
            ),
            "# TYPE n histogram\nn_bucket{le=\"+Inf\"} 7\nn_sum 12.5\nn_count 7\n\
             n_bucket{f=\"1\",le=\"+Inf\"} 1.5\nn_sum{f=\"1\"} 0\nn_count{f=\"1\"} 1.5\n"
        );
    }

    #[test]
    fn a_gauge_histogram_is_typed_histogram() {
        let m = Metric {
            histogram: Some(Box::new(histogram(&[(1.0, 1)], 1, 0.5))),
            ..Default::default()
        };
        assert_eq!(
            render("gh", None, MetricType::GaugeHistogram, Escaping::Underscores, &[m]),
            "# TYPE gh histogram\ngh_bucket{le=\"1\"} 1\ngh_bucket{le=\"+Inf\"} 1\ngh_sum 0.5\ngh_count 1\n"
        );
    }

    #[test]
    fn exemplars_and_created_timestamps_are_not_written() {
        let ts = crate::proto::Timestamp {
            seconds: 1,
            nanos: 0,
        };
        let m = Metric {
            counter: Some(Box::new(Counter {
                value: Some(1.0),
                exemplar: Some(crate::proto::Exemplar {
                    label: labels(&[("t", "1")]),
                    value: Some(1.0),
                    timestamp: Some(ts.clone()),
                }),
                created_timestamp: Some(ts),
            })),
            ..Default::default()
        };
        assert_eq!(
            render("c", None, MetricType::Counter, Escaping::Underscores, &[m]),
            "# TYPE c counter\nc 1\n"
        );
    }

    #[test]
    fn a_timestamp_is_written_as_integer_milliseconds() {
        let mut m = gauge(&[("a", "b")], 2.0);
        m.timestamp_ms = Some(-1234567890123);
        let mut out = Vec::new();
        write_metric(&mut out, "g", MetricType::Gauge, &m, Escaping::Underscores);
        assert_eq!(out, b"g{a=\"b\"} 2 -1234567890123\n");
    }

    #[test]
    fn a_metric_without_a_value_for_its_type_writes_nothing() {
        let empty = Metric {
            label: labels(&[("a", "b")]),
            ..Default::default()
        };
        let types = [
            MetricType::Counter,
            MetricType::Gauge,
            MetricType::Summary,
            MetricType::Untyped,
            MetricType::Histogram,
            MetricType::GaugeHistogram,
        ];
        for t in types {
            let mut out = Vec::new();
            write_metric(&mut out, "x", t, &empty, Escaping::Underscores);
            assert!(out.is_empty(), "{t:?}");
        }
    }

    #[test]
    fn absent_fields_read_as_zero_and_empty() {
        let m = Metric {
            label: vec![LabelPair::default()],
            gauge: Some(Gauge::default()),
            ..Default::default()
        };
        let mut out = Vec::new();
        write_metric(&mut out, "g", MetricType::Gauge, &m, Escaping::AllowUtf8);
        assert_eq!(out, b"g{\"\"=\"\"} 0\n");
    }

    #[test]
    fn allow_utf8_quotes_names_inside_the_braces() {
        let m = gauge(&[("c-d", "v"), ("instance", ""), ("job", "x")], 1.0);
        assert_eq!(
            render("a.b", Some("h"), MetricType::Gauge, Escaping::AllowUtf8, &[m]),
            "# HELP \"a.b\" h\n# TYPE \"a.b\" gauge\n{\"a.b\",\"c-d\"=\"v\",instance=\"\",job=\"x\"} 1\n"
        );
        let bare = gauge(&[], 1.0);
        assert_eq!(
            render("a.b", None, MetricType::Gauge, Escaping::AllowUtf8, &[bare]),
            "# TYPE \"a.b\" gauge\n{\"a.b\"} 1\n"
        );
    }

    #[test]
    fn allow_utf8_quotes_suffixed_names_of_summaries() {
        let m = Metric {
            summary: Some(Box::new(Summary {
                sample_count: Some(1),
                sample_sum: Some(2.0),
                quantile: vec![Quantile {
                    quantile: Some(0.5),
                    value: Some(2.0),
                }],
                ..Default::default()
            })),
            ..Default::default()
        };
        assert_eq!(
            render("s.x", None, MetricType::Summary, Escaping::AllowUtf8, &[m]),
            "# TYPE \"s.x\" summary\n{\"s.x\",quantile=\"0.5\"} 2\n{\"s.x_sum\"} 2\n{\"s.x_count\"} 1\n"
        );
    }

    #[test]
    fn underscores_replaces_each_invalid_character() {
        let m = gauge(&[("c-d", "v.w"), ("job", "x")], 1.0);
        assert_eq!(
            render(
                "a.b",
                Some("h"),
                MetricType::Gauge,
                Escaping::Underscores,
                &[m]
            ),
            "# HELP a_b h\n# TYPE a_b gauge\na_b{c_d=\"v.w\",job=\"x\"} 1\n"
        );
    }

    #[test]
    fn dots_spells_out_dots_and_doubles_underscores_only_in_invalid_names() {
        let m = gauge(&[("c-d_e", "v"), ("job_name", "x")], 1.0);
        assert_eq!(
            render("a.b_c", Some("h"), MetricType::Gauge, Escaping::Dots, &[m]),
            "# HELP a_dot_b__c h\n# TYPE a_dot_b__c gauge\na_dot_b__c{c__d__e=\"v\",job_name=\"x\"} 1\n"
        );
    }

    #[test]
    fn values_encodes_invalid_characters_as_hex_code_points() {
        let m = gauge(&[("c-d", "v"), ("job", "x")], 1.0);
        assert_eq!(
            render("a.b", Some("h"), MetricType::Gauge, Escaping::Values, &[m]),
            "# HELP U__a_2e_b h\n# TYPE U__a_2e_b gauge\nU__a_2e_b{U__c_2d_d=\"v\",job=\"x\"} 1\n"
        );
    }

    #[test]
    fn label_names_with_colons_are_neither_escaped_nor_quoted() {
        let m = gauge(&[("a:b", "v")], 1.0);
        let mut out = Vec::new();
        write_metric(&mut out, "g", MetricType::Gauge, &m, Escaping::Underscores);
        assert_eq!(out, b"g{a:b=\"v\"} 1\n");
    }

    #[test]
    fn metrics_sort_by_label_count_then_values_position_by_position() {
        let example = [
            &[("instance", ""), ("job", "foo")][..],
            &[("instance", ""), ("job", "some_job")],
            &[("b", ""), ("instance", ""), ("job", "x")],
            &[("a", ""), ("instance", ""), ("job", "x")],
            &[("a", "2"), ("instance", ""), ("job", "foo")],
            &[("c", "a"), ("instance", ""), ("job", "x")],
        ];
        let metrics: Vec<Metric> = example.iter().map(|l| gauge(l, 1.0)).collect();
        // `b=""` and `a=""` have equal values position by position, so they tie.
        assert_eq!(compare_metrics(&metrics[2], &metrics[3]), Ordering::Equal);
        for pair in metrics.windows(2) {
            assert_ne!(compare_metrics(&pair[0], &pair[1]), Ordering::Greater);
        }
        let mut shuffled: Vec<Metric> = [5, 3, 1, 4, 2, 0]
            .iter()
            .map(|&i| metrics[i].clone())
            .collect();
        shuffled.sort_by(compare_metrics);
        let mut out = Vec::new();
        for m in &shuffled {
            write_metric(&mut out, "", MetricType::Gauge, m, Escaping::Underscores);
        }
        // The tie keeps input order under a stable sort (`a` came before `b` here).
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{instance=\"\",job=\"foo\"} 1\n{instance=\"\",job=\"some_job\"} 1\n\
             {a=\"\",instance=\"\",job=\"x\"} 1\n{b=\"\",instance=\"\",job=\"x\"} 1\n\
             {a=\"2\",instance=\"\",job=\"foo\"} 1\n{c=\"a\",instance=\"\",job=\"x\"} 1\n"
        );
    }

    #[test]
    fn equal_label_values_sort_by_timestamp_with_none_last() {
        let mut early = gauge(&[("a", "x")], 1.0);
        early.timestamp_ms = Some(1);
        let mut late = early.clone();
        late.timestamp_ms = Some(2);
        let none = gauge(&[("a", "x")], 1.0);
        assert_eq!(compare_metrics(&early, &late), Ordering::Less);
        assert_eq!(compare_metrics(&late, &none), Ordering::Less);
        assert_eq!(compare_metrics(&none, &early), Ordering::Greater);
        assert_eq!(compare_metrics(&none, &none), Ordering::Equal);
    }

    #[test]
    fn label_values_compare_as_bytes() {
        let upper = gauge(&[("a", "Z")], 1.0);
        let lower = gauge(&[("a", "a")], 1.0);
        let long = gauge(&[("a", "aa")], 1.0);
        assert_eq!(compare_metrics(&upper, &lower), Ordering::Less);
        assert_eq!(compare_metrics(&lower, &long), Ordering::Less);
    }
}
