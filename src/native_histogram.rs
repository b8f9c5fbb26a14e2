//! Native (sparse) histogram buckets, walked as Prometheus walks them: the JSON API lists
//! them ([`crate::api`]) and the status page describes them ([`crate::status_page`]).
//!
//! Upstream converts the pushed protobuf into Prometheus's `model/histogram` types and walks
//! their bucket iterators, so the answer carries Prometheus's bucket semantics: spans and
//! deltas decoded into absolute counts, exponential bucket bounds per schema, and the interval
//! kind of each bucket. This module reproduces that walk for one `Histogram` message.

use std::sync::OnceLock;

use crate::go_strconv::format_float;
use crate::proto::{BucketSpan, Histogram};

/// Prometheus's schema of histograms with custom bucket bounds.
const CUSTOM_BUCKETS_SCHEMA: i32 = -53;

/// Highest schema with a bound table in Prometheus.
const MAX_TABLE_SCHEMA: i32 = 8;

/// Whether upstream treats this histogram as native: it has at least one span.
pub(crate) fn is_native(h: &Histogram) -> bool {
    !h.positive_span.is_empty() || !h.negative_span.is_empty()
}

/// The bucket count of one bucket: absolute integer (from deltas) or float.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Count {
    Int(u64),
    Float(f64),
}

impl Count {
    fn is_zero(self) -> bool {
        match self {
            Count::Int(n) => n == 0,
            Count::Float(f) => f == 0.0,
        }
    }

    /// The count as upstream prints it (integer, or Go's float formatting).
    pub(crate) fn format(self) -> String {
        match self {
            Count::Int(n) => n.to_string(),
            Count::Float(f) => format_float(f),
        }
    }
}

/// One bucket: interval kind (0 `(l,u]`, 1 `[l,u)`, 2 `(l,u)`, 3 `[l,u]`), bounds, count.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Bucket {
    pub(crate) boundaries: u64,
    pub(crate) lower: f64,
    pub(crate) upper: f64,
    pub(crate) count: Count,
}

impl Bucket {
    fn new(
        lower: f64,
        upper: f64,
        lower_inclusive: bool,
        upper_inclusive: bool,
        count: Count,
    ) -> Self {
        let boundaries = match (lower_inclusive, upper_inclusive) {
            (false, true) => 0,
            (true, false) => 1,
            (false, false) => 2,
            (true, true) => 3,
        };
        Bucket {
            boundaries,
            lower,
            upper,
            count,
        }
    }
}

/// Prometheus's `Histogram.String()` of a native histogram, which upstream's status page
/// shows: `{count:20, sum:99.23, [-1.414213562373095,-1):2, (1,1.414213562373095]:2}`.
pub(crate) fn describe(h: &Histogram) -> String {
    let (count, buckets) = buckets(h);
    let mut out = format!("{{count:{count}, sum:{}", format_float(h.sample_sum()));
    for b in buckets {
        let (open, close) = match b.boundaries {
            0 => ('(', ']'),
            1 => ('[', ')'),
            2 => ('(', ')'),
            _ => ('[', ']'),
        };
        out.push_str(&format!(
            ", {open}{},{}{close}:{}",
            format_float(b.lower),
            format_float(b.upper),
            b.count.format()
        ));
    }
    out.push('}');
    out
}

/// The formatted sample count and the non-empty buckets in upstream's order: non-empty
/// negative buckets from the most negative up, then the zero bucket when its count is not
/// zero, then non-empty positive buckets ascending. A histogram is a float histogram when its
/// float sample count or float zero count is positive; otherwise its integer deltas are used.
pub(crate) fn buckets(h: &Histogram) -> (String, Vec<Bucket>) {
    let float = h.sample_count_float() > 0.0 || h.zero_count_float() > 0.0;
    let schema = h.schema();
    let (count, zero_count, negative, positive) = if float {
        (
            format_float(h.sample_count_float()),
            Count::Float(h.zero_count_float()),
            float_buckets(&h.negative_span, &h.negative_count),
            float_buckets(&h.positive_span, &h.positive_count),
        )
    } else {
        (
            h.sample_count().to_string(),
            Count::Int(h.zero_count()),
            delta_buckets(&h.negative_span, &h.negative_delta),
            delta_buckets(&h.positive_span, &h.positive_delta),
        )
    };
    let mut out = Vec::new();
    for &(idx, count) in negative.iter().rev().filter(|(_, c)| !c.is_zero()) {
        out.push(bucket_at(idx, schema, false, count));
    }
    if !zero_count.is_zero() {
        let threshold = h.zero_threshold();
        out.push(Bucket::new(-threshold, threshold, true, true, zero_count));
    }
    for &(idx, count) in positive.iter().filter(|(_, c)| !c.is_zero()) {
        out.push(bucket_at(idx, schema, true, count));
    }
    (count, out)
}

/// The bucket with index `idx` on the positive or negative side.
fn bucket_at(idx: i32, schema: i32, positive: bool, count: Count) -> Bucket {
    let (lower, upper) = if positive {
        (bound(idx.wrapping_sub(1), schema), bound(idx, schema))
    } else {
        (-bound(idx, schema), -bound(idx.wrapping_sub(1), schema))
    };
    if schema == CUSTOM_BUCKETS_SCHEMA {
        Bucket::new(lower, upper, idx == 0, true, count)
    } else {
        Bucket::new(lower, upper, lower < 0.0, upper > 0.0, count)
    }
}

/// Walks spans over per-bucket values the way Prometheus's bucket iterators do: the first
/// span's offset is the first index, each further span's offset is the gap after the previous
/// span, zero-length spans are skipped, and the walk stops where spans or values run out.
/// `step` turns the running state and the next value into the bucket's count.
fn walk<V: Copy>(
    spans: &[BucketSpan],
    values: &[V],
    mut step: impl FnMut(V) -> Count,
) -> Vec<(i32, Count)> {
    let mut out = Vec::with_capacity(values.len());
    let mut span_idx = 0;
    let mut idx_in_span: u32 = 0;
    let mut idx: i32 = 0;
    for (n, &value) in values.iter().enumerate() {
        let Some(mut span) = spans.get(span_idx) else {
            break;
        };
        if n == 0 {
            idx = span.offset();
        } else {
            idx = idx.wrapping_add(1);
        }
        while idx_in_span >= span.length() {
            idx_in_span = 0;
            span_idx += 1;
            let Some(next) = spans.get(span_idx) else {
                return out;
            };
            span = next;
            idx = idx.wrapping_add(span.offset());
        }
        out.push((idx, step(value)));
        idx_in_span += 1;
    }
    out
}

/// Buckets of an integer histogram: deltas summed into absolute counts (wrapping like Go's
/// `int64`, then read as `uint64`).
fn delta_buckets(spans: &[BucketSpan], deltas: &[i64]) -> Vec<(i32, Count)> {
    let mut current: i64 = 0;
    walk(spans, deltas, |delta| {
        current = current.wrapping_add(delta);
        Count::Int(current as u64)
    })
}

/// Buckets of a float histogram: absolute counts as given.
fn float_buckets(spans: &[BucketSpan], counts: &[f64]) -> Vec<(i32, Count)> {
    walk(spans, counts, Count::Float)
}

/// The upper bound of positive bucket `idx` in `schema` (Prometheus's `getBound` without
/// custom bounds, which pushed protobuf histograms cannot carry).
///
/// Where Prometheus would panic (custom-bucket indices other than 0 and -1, schemas above 8)
/// upstream drops the connection; here the nearest meaningful bound is returned instead:
/// ±Inf for custom buckets, and the exact `2^(idx/2^schema)` for the finer schemas.
pub(crate) fn bound(idx: i32, schema: i32) -> f64 {
    if schema == CUSTOM_BUCKETS_SCHEMA {
        return if idx >= 0 {
            f64::INFINITY
        } else {
            f64::NEG_INFINITY
        };
    }
    if schema < 0 {
        let shift = schema.unsigned_abs();
        let exp = if shift >= 64 {
            0
        } else {
            i64::from(idx).wrapping_shl(shift)
        };
        // The last finite bucket ends at the largest float, not at 2^1024 = +Inf.
        if exp == 1024 {
            return f64::MAX;
        }
        return ldexp(1.0, exp);
    }
    if schema > MAX_TABLE_SCHEMA {
        return (f64::from(idx) / 2f64.powi(schema)).exp2();
    }
    let fracs = &bound_fractions()[schema as usize];
    let frac = fracs[(idx & ((1 << schema) - 1)) as usize];
    let exp = i64::from(idx >> schema) + 1;
    if frac == 0.5 && exp == 1025 {
        return f64::MAX;
    }
    ldexp(frac, exp)
}

/// Prometheus's table of bucket-bound fractions in `[0.5, 1)` for schemas 0 to 8.
///
/// The numbers are not the correctly rounded `2^(i/2^s - 1)`: Prometheus generated them
/// (client_golang documents the procedure) by multiplying up from 0.5 with the factor
/// `2^(2^-s)` as Go's `math.Exp2` returns it, taking every other entry from the previous
/// schema. That procedure is repeated here, so schema 1's √½ is `0.7071067811865475`, one
/// unit in the last place below the correctly rounded value, as on every Prometheus.
fn bound_fractions() -> &'static [Vec<f64>] {
    /// `math.Exp2(math.Exp2(-s))` in Go for s = 0..=8 (only s = 1 differs from the correctly
    /// rounded value, by one unit in the last place).
    const FACTORS: [f64; 9] = [
        2.0,
        // Go's Exp2(0.5): √2 one unit in the last place low.
        f64::from_bits(std::f64::consts::SQRT_2.to_bits() - 1),
        1.189_207_115_002_721,
        1.090_507_732_665_257_7,
        1.044_273_782_427_413_8,
        1.021_897_148_654_116_6,
        1.010_889_286_051_700_5,
        1.005_429_901_112_802_7,
        1.002_711_275_050_202_5,
    ];
    static TABLE: OnceLock<Vec<Vec<f64>>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table: Vec<Vec<f64>> = Vec::with_capacity(FACTORS.len());
        for (schema, factor) in FACTORS.iter().enumerate() {
            let len = 1usize << schema;
            let mut fracs = Vec::with_capacity(len);
            fracs.push(0.5);
            for j in 1..len {
                let next = match table.last() {
                    Some(coarser) if j % 2 == 0 => coarser[j / 2],
                    _ => fracs[j - 1] * factor,
                };
                fracs.push(next);
            }
            table.push(fracs);
        }
        table
    })
}

/// `frac × 2^exp` rounded once, as Go's `math.Ldexp` (overflow to ±Inf, underflow through
/// the subnormals to zero).
fn ldexp(frac: f64, exp: i64) -> f64 {
    /// 2^e for a normal exponent (-1022..=1023), exactly.
    fn pow2(e: i64) -> f64 {
        f64::from_bits(((e + 1023) as u64) << 52)
    }
    if exp > 1023 {
        // Exact until it overflows to infinity.
        return frac * pow2(1023) * pow2((exp - 1023).min(1023));
    }
    if exp < -1022 {
        if exp < -1074 - 64 {
            return frac * 0.0;
        }
        // Scale into the normal range exactly, then round once with the smallest subnormal.
        return frac * pow2(exp + 1074) * f64::from_bits(1);
    }
    frac * pow2(exp)
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

    /// The count and the buckets as the JSON API writes them (`[[0,"1","2","3"],…]`).
    fn encoded(h: &Histogram) -> (String, String) {
        let (count, list) = buckets(h);
        let items: Vec<String> = list
            .iter()
            .map(|b| {
                format!(
                    "[{},\"{}\",\"{}\",\"{}\"]",
                    b.boundaries,
                    format_float(b.lower),
                    format_float(b.upper),
                    b.count.format()
                )
            })
            .collect();
        (count, format!("[{}]", items.join(",")))
    }

    #[test]
    fn describe_prints_prometheus_histogram_string() {
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
        assert_eq!(
            describe(&h),
            "{count:7, sum:12.5, [-2,-1):1, [-0.001,0.001]:1, (0.5,1]:2, (1,2]:3, (4,8]:1}"
        );
        let float = Histogram {
            sample_count_float: Some(2.5),
            sample_sum: Some(1.0),
            schema: Some(0),
            positive_span: vec![span(1, 1)],
            positive_count: vec![2.5],
            ..Default::default()
        };
        assert_eq!(describe(&float), "{count:2.5, sum:1, (1,2]:2.5}");
    }

    // See: upstream's api/v1/api_test.go, TestMetricsAPI ("int native histogram").
    #[test]
    fn an_integer_native_histogram_decodes_its_deltas() {
        let h = Histogram {
            sample_count: Some(20),
            sample_sum: Some(99.23),
            schema: Some(1),
            negative_delta: vec![0, 2, -2, 0],
            positive_delta: vec![0, 2, -2, 0],
            positive_span: vec![span(0, 2), span(0, 2)],
            negative_span: vec![span(0, 2), span(0, 2)],
            ..Default::default()
        };
        assert_eq!(
            encoded(&h),
            (
                "20".to_string(),
                r#"[[1,"-1.414213562373095","-1","2"],[0,"1","1.414213562373095","2"]]"#
                    .to_string()
            )
        );
    }

    // See: upstream's api/v1/api_test.go, TestMetricsAPI ("float native histogram").
    #[test]
    fn a_float_native_histogram_lists_every_non_zero_bucket_even_negative_ones() {
        let h = Histogram {
            sample_count_float: Some(20.0),
            sample_sum: Some(99.23),
            schema: Some(1),
            negative_count: vec![2.0, 2.0, -2.0, 0.0],
            positive_count: vec![2.0, 2.0, -2.0, 0.0],
            positive_span: vec![span(0, 2), span(0, 2)],
            negative_span: vec![span(0, 2), span(0, 2)],
            ..Default::default()
        };
        assert_eq!(
            encoded(&h),
            (
                "20".to_string(),
                concat!(
                    r#"[[1,"-2","-1.414213562373095","-2"],[1,"-1.414213562373095","-1","2"],"#,
                    r#"[1,"-1","-0.7071067811865475","2"],[0,"0.7071067811865475","1","2"],"#,
                    r#"[0,"1","1.414213562373095","2"],[0,"1.414213562373095","2","-2"]]"#
                )
                .to_string()
            )
        );
    }

    #[test]
    fn the_zero_bucket_is_closed_and_sits_between_the_sides() {
        let h = Histogram {
            sample_count: Some(4),
            schema: Some(0),
            zero_threshold: Some(0.001),
            zero_count: Some(1),
            negative_span: vec![span(1, 1)],
            negative_delta: vec![1],
            positive_span: vec![span(-1, 1), span(2, 1)],
            positive_delta: vec![1, 0],
            ..Default::default()
        };
        assert_eq!(
            encoded(&h).1,
            concat!(
                r#"[[1,"-2","-1","1"],[3,"-0.001","0.001","1"],"#,
                r#"[0,"0.25","0.5","1"],[0,"2","4","1"]]"#
            )
        );
    }

    #[test]
    fn a_float_zero_count_makes_a_float_histogram() {
        let h = Histogram {
            sample_count: Some(9),
            zero_count_float: Some(1.5),
            positive_span: vec![span(0, 1)],
            positive_count: vec![0.5],
            ..Default::default()
        };
        assert_eq!(
            encoded(&h),
            (
                "0".to_string(),
                r#"[[3,"-0","0","1.5"],[0,"0.5","1","0.5"]]"#.to_string()
            )
        );
    }

    #[test]
    fn zero_length_spans_are_skipped_and_missing_values_end_the_walk() {
        let spans = [span(2, 0), span(3, 2), span(1, 5)];
        let got = walk(&spans, &[1i64, 1, 1], |d| Count::Int(d as u64));
        let idx: Vec<i32> = got.iter().map(|(i, _)| *i).collect();
        assert_eq!(idx, vec![5, 6, 8]);
        assert_eq!(
            walk(&[span(0, 1)], &[1i64, 2], |d| Count::Int(d as u64)).len(),
            1
        );
    }

    #[test]
    fn bounds_follow_prometheus_for_each_schema_kind() {
        assert_eq!(format_float(bound(1, 1)), "1.414213562373095");
        assert_eq!(bound(0, 1), 1.0);
        assert_eq!(bound(-1, 1), 0.7071067811865475);
        assert_eq!(bound(3, 0), 8.0);
        assert_eq!(bound(1, -2), 16.0);
        assert_eq!(bound(-1, -4), 1.0 / 65536.0);
        assert_eq!(bound(256, -2), f64::MAX);
        assert_eq!(bound(257, -2), f64::INFINITY);
        assert_eq!(bound(1023, 0), 2f64.powi(1023));
        assert_eq!(bound(1024, 0), f64::MAX);
        assert_eq!(bound(1025, 0), f64::INFINITY);
        assert_eq!(bound(-1074, 0), f64::from_bits(1));
        assert_eq!(bound(-1100, 0), 0.0);
        assert_eq!(bound(0, CUSTOM_BUCKETS_SCHEMA), f64::INFINITY);
        assert_eq!(bound(-1, CUSTOM_BUCKETS_SCHEMA), f64::NEG_INFINITY);
    }

    #[test]
    fn the_fraction_table_matches_prometheus_samples() {
        let t = bound_fractions();
        assert_eq!(t.iter().map(Vec::len).sum::<usize>(), 511);
        assert_eq!(
            t[2],
            vec![
                0.5,
                0.5946035575013605,
                0.7071067811865475,
                0.8408964152537144
            ]
        );
        assert_eq!(t[3][1], 0.5452538663326288);
        assert_eq!(t[4][5], 0.620928906036742);
        assert_eq!(t[5][31], 0.9785720620876999);
        assert_eq!(t[7][127], 0.9945994234836328);
        assert_eq!(t[8][255], 0.9972960560854698);
        assert_eq!(t[8][253], 0.9919100824251095);
    }

    #[test]
    fn finer_schemas_than_eight_get_the_exact_bound() {
        assert_eq!(bound(0, 9), 1.0);
        assert_eq!(bound(512, 9), 2.0);
    }
}
