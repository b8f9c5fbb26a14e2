//! Guard rails upstream does not have, all off by default: the largest request body
//! (`--push.max-body-bytes`, 413), the most series in one push (`--push.max-series-per-push`,
//! 400) and the most series stored in total (`--push.max-series-total`, 400).
//!
//! A push refused by a limit changes nothing in the store (not even the group's
//! `push_failure_time_seconds`, which would itself add series). The series counted against
//! the total are the ones `/metrics` shows for pushed groups, each group's
//! `push_time_seconds` and `push_failure_time_seconds` included.

use crate::proto::MetricFamily;

/// The configured limits; `None` means no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// Largest request body, before and after Content-Encoding decoding.
    pub max_body_bytes: Option<usize>,
    /// Most series in one push.
    pub max_series_per_push: Option<usize>,
    /// Most series stored after a push.
    pub max_series_total: Option<usize>,
}

/// The 413 body for a request body over `--push.max-body-bytes`.
pub fn body_too_large(limit: usize) -> String {
    format!("request body exceeds the limit of {limit} bytes set by --push.max-body-bytes\n")
}

/// Refuses a push of more series than `--push.max-series-per-push` allows.
pub fn check_series_per_push(families: &[MetricFamily], max: usize) -> Result<(), String> {
    let series: usize = families.iter().map(|f| f.metric.len()).sum();
    if series > max {
        return Err(format!(
            "push has {series} series, more than the limit of {max} set by --push.max-series-per-push"
        ));
    }
    Ok(())
}

/// Refuses a push after which the store would hold more than `--push.max-series-total`
/// series: `stored` now, of which `removed` belong to the group as it was and `added` to the
/// group as it would be.
pub fn check_series_total(
    stored: usize,
    removed: usize,
    added: usize,
    max: usize,
) -> Result<(), String> {
    let after = stored.saturating_sub(removed) + added;
    if after > max && added > removed {
        return Err(format!(
            "push would raise the stored series to {after}, more than the limit of {max} set by --push.max-series-total"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::Metric;

    fn family(series: usize) -> MetricFamily {
        MetricFamily {
            name: Some("x".into()),
            metric: vec![Metric::default(); series],
            ..Default::default()
        }
    }

    #[test]
    fn a_push_at_the_series_limit_passes_and_one_over_is_refused_naming_the_flag() {
        assert!(check_series_per_push(&[family(2), family(1)], 3).is_ok());
        let e = check_series_per_push(&[family(2), family(2)], 3).unwrap_err();
        assert!(e.contains("4 series"), "{e}");
        assert!(e.contains("--push.max-series-per-push"), "{e}");
    }

    #[test]
    fn the_total_counts_the_replaced_group_out_and_the_new_one_in() {
        assert!(check_series_total(10, 0, 5, 15).is_ok());
        assert!(check_series_total(10, 4, 9, 15).is_ok());
        let e = check_series_total(10, 4, 10, 15).unwrap_err();
        assert!(e.contains("16"), "{e}");
        assert!(e.contains("--push.max-series-total"), "{e}");
    }

    #[test]
    fn a_push_that_shrinks_its_group_passes_even_over_the_total() {
        // The limit was lowered after the store grew: shrinking must stay possible.
        assert!(check_series_total(100, 10, 5, 50).is_ok());
        assert!(check_series_total(100, 10, 11, 50).is_err());
    }
}
