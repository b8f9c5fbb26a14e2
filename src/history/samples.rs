//! The values of an accepted push as the history keeps them: one JSON array per push, built
//! on the push path (so written straight into one buffer) and expanded by the
//! `sample_history` view (migrations/0002_push_history.sql).

use crate::go_strconv::format_float;
use crate::grouping_key::GroupingKey;
use crate::proto::{Metric, MetricFamily, MetricType};

/// The values of a push as the `push_history.samples` column holds them: a JSON array of
/// `{"m": metric, "l": labels, "v": value}`, one object per value line of the text exposition
/// (`l`, the sample's labels beyond the grouping labels, left out when empty; a value JSON
/// cannot hold as a number written as Go formats it: `"NaN"`, `"+Inf"`). Written straight into
/// one buffer, with short keys, because it is built for every push.
#[derive(Debug)]
pub struct SampleJson {
    out: Vec<u8>,
    count: usize,
}

impl Default for SampleJson {
    fn default() -> Self {
        SampleJson::new()
    }
}

impl SampleJson {
    /// An empty array.
    pub fn new() -> SampleJson {
        SampleJson {
            out: b"[".to_vec(),
            count: 0,
        }
    }

    /// Adds the samples of a family sanitised for `key`.
    pub fn add_family(&mut self, family: &MetricFamily, key: &GroupingKey) {
        let name = family.name();
        for m in &family.metric {
            let mut add = |suffix: &str, extra: Option<(&str, f64)>, value: f64| {
                self.add_sample(name, suffix, m, key, extra, value);
            };
            match family.r#type() {
                MetricType::Counter => add(
                    "",
                    None,
                    m.counter.as_ref().and_then(|c| c.value).unwrap_or(0.0),
                ),
                MetricType::Gauge => add(
                    "",
                    None,
                    m.gauge.as_ref().and_then(|g| g.value).unwrap_or(0.0),
                ),
                MetricType::Untyped => add(
                    "",
                    None,
                    m.untyped.as_ref().and_then(|u| u.value).unwrap_or(0.0),
                ),
                MetricType::Summary => {
                    if let Some(s) = &m.summary {
                        for q in &s.quantile {
                            add(
                                "",
                                Some(("quantile", q.quantile.unwrap_or(0.0))),
                                q.value.unwrap_or(0.0),
                            );
                        }
                        add("_sum", None, s.sample_sum.unwrap_or(0.0));
                        add("_count", None, s.sample_count.unwrap_or(0) as f64);
                    }
                }
                MetricType::Histogram | MetricType::GaugeHistogram => {
                    if let Some(h) = &m.histogram {
                        let mut inf_seen = false;
                        for b in &h.bucket {
                            let count = b
                                .cumulative_count_float
                                .filter(|c| *c != 0.0)
                                .unwrap_or(b.cumulative_count.unwrap_or(0) as f64);
                            let upper = b.upper_bound.unwrap_or(0.0);
                            inf_seen |= upper == f64::INFINITY;
                            add("_bucket", Some(("le", upper)), count);
                        }
                        let count = h
                            .sample_count_float
                            .filter(|c| *c != 0.0)
                            .unwrap_or(h.sample_count.unwrap_or(0) as f64);
                        // The text exposition's synthetic bucket (also a native-only
                        // histogram's one line of buckets).
                        if !inf_seen {
                            add("_bucket", Some(("le", f64::INFINITY)), count);
                        }
                        add("_sum", None, h.sample_sum.unwrap_or(0.0));
                        add("_count", None, count);
                    }
                }
            }
        }
    }

    fn add_sample(
        &mut self,
        name: &str,
        suffix: &str,
        m: &Metric,
        key: &GroupingKey,
        extra: Option<(&str, f64)>,
        value: f64,
    ) {
        let out = &mut self.out;
        if self.count > 0 {
            out.push(b',');
        }
        self.count += 1;
        out.extend_from_slice(b"{\"m\":");
        write_json_string(out, &format!("{name}{suffix}"));
        let mut labels = m
            .label
            .iter()
            .filter(|l| key.get(l.name()).is_none())
            .map(|l| (l.name(), std::borrow::Cow::Borrowed(l.value())))
            .chain(extra.map(|(n, v)| (n, std::borrow::Cow::Owned(format_float(v)))))
            .peekable();
        if labels.peek().is_some() {
            out.extend_from_slice(b",\"l\":{");
            for (i, (n, v)) in labels.enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json_string(out, n);
                out.push(b':');
                write_json_string(out, &v);
            }
            out.push(b'}');
        }
        out.extend_from_slice(b",\"v\":");
        if value.is_finite() {
            let _ = serde_json::to_writer(&mut *out, &value);
        } else {
            write_json_string(out, &format_float(value));
        }
        out.push(b'}');
    }

    /// Number of samples added.
    pub fn count(&self) -> usize {
        self.count
    }

    /// The JSON text.
    pub fn finish(mut self) -> String {
        self.out.push(b']');
        // Only UTF-8 strings and ASCII punctuation were written.
        String::from_utf8(self.out).unwrap_or_else(|_| "[]".to_string())
    }
}

fn write_json_string(out: &mut Vec<u8>, s: &str) {
    let _ = serde_json::to_writer(out, s);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{Bucket, Histogram, LabelPair, Quantile, Summary};

    fn key() -> GroupingKey {
        GroupingKey::from_labels([("job".to_string(), "j".to_string())]).unwrap()
    }

    fn json_of(family: &MetricFamily) -> (String, usize) {
        let mut json = SampleJson::new();
        json.add_family(family, &key());
        let count = json.count();
        (json.finish(), count)
    }

    #[test]
    fn histogram_samples_follow_the_text_exposition() {
        let family = MetricFamily {
            name: Some("h".into()),
            r#type: Some(MetricType::Histogram as i32),
            metric: vec![Metric {
                label: vec![LabelPair::new("job", "j"), LabelPair::new("x", "a\"b")],
                histogram: Some(Box::new(Histogram {
                    sample_count: Some(3),
                    sample_sum: Some(4.5),
                    bucket: vec![Bucket {
                        cumulative_count: Some(2),
                        upper_bound: Some(1.0),
                        ..Default::default()
                    }],
                    ..Default::default()
                })),
                ..Default::default()
            }],
            ..Default::default()
        };
        let (json, count) = json_of(&family);
        assert_eq!(count, 4);
        assert_eq!(
            json,
            r#"[{"m":"h_bucket","l":{"x":"a\"b","le":"1"},"v":2.0},{"m":"h_bucket","l":{"x":"a\"b","le":"+Inf"},"v":3.0},{"m":"h_sum","l":{"x":"a\"b"},"v":4.5},{"m":"h_count","l":{"x":"a\"b"},"v":3.0}]"#
        );
        let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed[0]["l"]["x"], "a\"b");
    }

    #[test]
    fn summary_samples_carry_the_quantile_label_and_non_finite_values_are_strings() {
        let family = MetricFamily {
            name: Some("s".into()),
            r#type: Some(MetricType::Summary as i32),
            metric: vec![Metric {
                summary: Some(Box::new(Summary {
                    sample_count: Some(2),
                    sample_sum: Some(f64::NAN),
                    quantile: vec![Quantile {
                        quantile: Some(0.5),
                        value: Some(f64::INFINITY),
                    }],
                    ..Default::default()
                })),
                ..Default::default()
            }],
            ..Default::default()
        };
        let (json, _) = json_of(&family);
        assert_eq!(
            json,
            r#"[{"m":"s","l":{"quantile":"0.5"},"v":"+Inf"},{"m":"s_sum","v":"NaN"},{"m":"s_count","v":2.0}]"#
        );
    }
}
