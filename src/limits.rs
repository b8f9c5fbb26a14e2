//! Guard rails upstream does not have: the largest request body (`--push.max-body-bytes`,
//! 413, 64 MiB by default), the most series in one push (`--push.max-series-per-push`, 400,
//! 1,000,000 by default), the most labels in a push's grouping key
//! (`--push.max-grouping-labels`, 400, 64 by default), the most series stored in total (`--push.max-series-total`, 400,
//! off by default), and the longest error text an answer, a history record or a log line
//! carries.
//!
//! A body that stops arriving is answered 408 after `--web.read-timeout` (60 s by default).
//!
//! The defaults bound what one request can cost: a decoded body is held in memory whole, and
//! every series of a push costs several hundred bytes while it is prepared (an empty metric is
//! 2 bytes of protobuf), so the series limit is checked while the body is parsed.
//!
//! A push refused by a limit changes nothing in the store (not even the group's
//! `push_failure_time_seconds`, which would itself add series). The series counted against
//! the total are the ones `/metrics` shows for pushed groups, each group's
//! `push_time_seconds` and `push_failure_time_seconds` included.

use std::time::Duration;

/// The default of `--push.max-body-bytes`: 64 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 << 20;

/// The default of `--push.max-series-per-push`.
pub const DEFAULT_MAX_SERIES_PER_PUSH: usize = 1_000_000;

/// The default of `--push.max-grouping-labels`.
pub const DEFAULT_MAX_GROUPING_LABELS: usize = 64;

/// The longest error message kept, in bytes. Longer ones (a parse error quoting a megabyte
/// of name, a metric with thousands of labels) are cut and end in `…`.
pub const MAX_MESSAGE_BYTES: usize = 4096;

/// `text` cut to at most `max` bytes (at a character boundary), marked with `…` when cut.
pub fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max.saturating_sub('…'.len_utf8());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

/// The default of `--web.read-timeout`.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(60);

/// The configured limits; `None` means no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// Largest request body, before and after Content-Encoding decoding.
    pub max_body_bytes: Option<usize>,
    /// How long a request body may take to arrive.
    pub read_timeout: Option<Duration>,
    /// Most series in one push.
    pub max_series_per_push: Option<usize>,
    /// Most labels in a push's grouping key.
    pub max_grouping_labels: Option<usize>,
    /// Most series stored after a push.
    pub max_series_total: Option<usize>,
}

/// The 408 body for a request body that did not arrive within `--web.read-timeout`.
pub fn body_too_slow(timeout: Duration) -> String {
    format!(
        "request body did not arrive within {} set by --web.read-timeout\n",
        crate::duration::format_go_duration(timeout)
    )
}

/// The 413 body for a request body over `--push.max-body-bytes`.
pub fn body_too_large(limit: usize) -> String {
    format!("request body exceeds the limit of {limit} bytes set by --push.max-body-bytes\n")
}

/// The 400 body for a push of more series than `--push.max-series-per-push` allows. Parsing
/// stops at the first series over the limit, so the total is not known.
pub fn too_many_series(max: usize) -> String {
    format!("push has more than {max} series, the limit set by --push.max-series-per-push")
}

/// Refuses a push whose grouping key has more labels than `--push.max-grouping-labels`
/// allows: each of its series gets every grouping label, so 3,000 labels in a 23 KB URL and
/// 800 series in a 10 KB body would store 2.4 million labels.
pub fn check_grouping_labels(labels: usize, max: usize) -> Result<(), String> {
    if labels > max {
        return Err(format!(
            "grouping key has {labels} labels, more than the limit of {max} set by --push.max-grouping-labels"
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

    #[test]
    fn a_long_message_is_cut_at_a_character_boundary() {
        let cut = truncate("é".repeat(5_000), MAX_MESSAGE_BYTES);
        assert!(cut.len() <= MAX_MESSAGE_BYTES, "{}", cut.len());
        assert!(cut.ends_with('…'));
        assert_eq!(truncate("short".into(), 10), "short");
        assert_eq!(truncate("exactly10!".into(), 10), "exactly10!");
    }

    #[test]
    fn a_grouping_key_at_the_label_limit_passes_and_one_over_is_refused_naming_the_flag() {
        assert!(check_grouping_labels(64, 64).is_ok());
        let e = check_grouping_labels(65, 64).unwrap_err();
        assert!(e.contains("65 labels"), "{e}");
        assert!(e.contains("--push.max-grouping-labels"), "{e}");
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
