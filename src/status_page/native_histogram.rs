//! A one-line summary of a native histogram for the status page, in the form Prometheus
//! prints histograms (`{count:20, sum:99.23, [-1.41,-1):2, (1,1.41]:2}`), which is what
//! upstream's page shows for them.
//!
//! Bucket boundaries come from the schema: with base `2^(2^-schema)`, bucket `i` covers
//! `(base^(i-1), base^i]` (negative buckets mirror it as `[-base^i, -base^(i-1))`), and the
//! zero bucket is `[-zero_threshold, zero_threshold]`. Bounds are computed with `powf`, so the
//! last digit can differ from Prometheus' precomputed table for some schemas.

use crate::gofmt::format_float;
use crate::proto::{BucketSpan, Histogram};

/// Whether the histogram carries a native (exponential) representation.
pub fn is_native(h: &Histogram) -> bool {
    !h.positive_span.is_empty()
        || !h.negative_span.is_empty()
        || h.zero_count.unwrap_or(0) > 0
        || h.zero_count_float.unwrap_or(0.0) > 0.0
}

/// Whether the counts are floats (Prometheus' float histogram) rather than integers.
fn is_float(h: &Histogram) -> bool {
    h.sample_count_float.unwrap_or(0.0) > 0.0 || h.zero_count_float.unwrap_or(0.0) > 0.0
}

/// A bucket count, printed as Go's `%v` prints an integer or a float64.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Count {
    Int(i64),
    Float(f64),
}

impl Count {
    fn is_zero(self) -> bool {
        match self {
            Count::Int(c) => c == 0,
            Count::Float(c) => c == 0.0,
        }
    }

    fn text(self) -> String {
        match self {
            Count::Int(c) => c.to_string(),
            Count::Float(c) => format_float(c),
        }
    }
}

/// `(bucket index, count)` for every bucket the spans describe, in index order. Integer
/// histograms store deltas to the previous bucket, float histograms absolute counts.
fn buckets(spans: &[BucketSpan], deltas: &[i64], counts: &[f64], float: bool) -> Vec<(i32, Count)> {
    let mut out = Vec::new();
    let mut index: i32 = 0;
    let mut position = 0usize;
    let mut running: i64 = 0;
    for (n, span) in spans.iter().enumerate() {
        let offset = span.offset.unwrap_or(0);
        index = if n == 0 {
            offset
        } else {
            index.saturating_add(offset)
        };
        for _ in 0..span.length.unwrap_or(0) {
            let count = if float {
                Count::Float(counts.get(position).copied().unwrap_or(0.0))
            } else {
                running = running.saturating_add(deltas.get(position).copied().unwrap_or(0));
                Count::Int(running)
            };
            out.push((index, count));
            position += 1;
            index = index.saturating_add(1);
        }
    }
    out
}

/// The upper bound of bucket `index` under `schema`.
fn upper_bound(index: i32, schema: i32) -> f64 {
    let schema = schema.clamp(-4, 8);
    if schema < 0 {
        let exp = i64::from(index) << -schema;
        return if exp == 1024 {
            f64::MAX
        } else {
            2f64.powi(exp.clamp(-2000, 2000) as i32)
        };
    }
    let per_doubling = 1i32 << schema;
    let exp = index.div_euclid(per_doubling);
    let frac_index = index.rem_euclid(per_doubling);
    if frac_index == 0 && exp == 1024 {
        return f64::MAX;
    }
    let frac = 2f64.powf(f64::from(frac_index) / f64::from(per_doubling));
    frac * 2f64.powi(exp)
}

/// Prometheus' `Histogram.String()` form: count and sum, then the non-empty negative buckets
/// from the most negative, the zero bucket, and the non-empty positive buckets.
pub fn describe(h: &Histogram) -> String {
    let float = is_float(h);
    let schema = h.schema.unwrap_or(0);
    let count = if float {
        Count::Float(h.sample_count_float.unwrap_or(0.0))
    } else {
        Count::Int(i64::try_from(h.sample_count.unwrap_or(0)).unwrap_or(i64::MAX))
    };
    let mut out = format!(
        "{{count:{}, sum:{}",
        count.text(),
        format_float(h.sample_sum.unwrap_or(0.0))
    );
    let negative = buckets(
        &h.negative_span,
        &h.negative_delta,
        &h.negative_count,
        float,
    );
    for (index, c) in negative.iter().rev().filter(|(_, c)| !c.is_zero()) {
        let (lower, upper) = (upper_bound(index - 1, schema), upper_bound(*index, schema));
        out.push_str(&format!(
            ", [{},{}):{}",
            format_float(-upper),
            format_float(-lower),
            c.text()
        ));
    }
    let zero = if float {
        Count::Float(h.zero_count_float.unwrap_or(0.0))
    } else {
        Count::Int(i64::try_from(h.zero_count.unwrap_or(0)).unwrap_or(i64::MAX))
    };
    if !zero.is_zero() {
        let threshold = h.zero_threshold.unwrap_or(0.0);
        out.push_str(&format!(
            ", [{},{}]:{}",
            format_float(-threshold),
            format_float(threshold),
            zero.text()
        ));
    }
    let positive = buckets(
        &h.positive_span,
        &h.positive_delta,
        &h.positive_count,
        float,
    );
    for (index, c) in positive.iter().filter(|(_, c)| !c.is_zero()) {
        let (lower, upper) = (upper_bound(index - 1, schema), upper_bound(*index, schema));
        out.push_str(&format!(
            ", ({},{}]:{}",
            format_float(lower),
            format_float(upper),
            c.text()
        ));
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(offset: i32, length: u32) -> BucketSpan {
        BucketSpan {
            offset: Some(offset),
            length: Some(length),
        }
    }

    #[test]
    fn integer_buckets_are_rebuilt_from_deltas() {
        let h = Histogram {
            sample_count: Some(7),
            sample_sum: Some(12.5),
            schema: Some(0),
            zero_threshold: Some(0.001),
            zero_count: Some(1),
            positive_span: vec![span(0, 2), span(1, 1)],
            positive_delta: vec![2, 1, -2],
            negative_span: vec![span(1, 1)],
            negative_delta: vec![1],
            ..Default::default()
        };
        assert!(is_native(&h));
        assert_eq!(
            describe(&h),
            "{count:7, sum:12.5, [-2,-1):1, [-0.001,0.001]:1, (0.5,1]:2, (1,2]:3, (4,8]:1}"
        );
    }

    #[test]
    fn float_histograms_print_float_counts() {
        let h = Histogram {
            sample_count_float: Some(2.5),
            sample_sum: Some(1.0),
            schema: Some(0),
            positive_span: vec![span(1, 1)],
            positive_count: vec![2.5],
            ..Default::default()
        };
        assert_eq!(describe(&h), "{count:2.5, sum:1, (1,2]:2.5}");
    }

    #[test]
    fn positive_schemas_split_each_doubling() {
        assert_eq!(upper_bound(1, 1), 2f64.sqrt());
        assert_eq!(upper_bound(2, 1), 2.0);
        assert_eq!(upper_bound(0, 3), 1.0);
        assert_eq!(upper_bound(-1, 0), 0.5);
    }

    #[test]
    fn negative_schemas_merge_doublings() {
        assert_eq!(upper_bound(1, -1), 4.0);
        assert_eq!(upper_bound(-1, -2), 1.0 / 16.0);
    }

    #[test]
    fn empty_buckets_are_left_out_and_classic_histograms_are_not_native() {
        let h = Histogram {
            sample_count: Some(0),
            schema: Some(0),
            positive_span: vec![span(0, 1)],
            positive_delta: vec![0],
            ..Default::default()
        };
        assert_eq!(describe(&h), "{count:0, sum:0}");
        assert!(!is_native(&Histogram::default()));
    }
}
