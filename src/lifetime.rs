//! A group's lifetime (opt-in expiry): how long a group lives after its last successful push,
//! as `--push.expire-after` or a push's `Pushgateway-Expire-After` header says it, the
//! deadline that follows, and when the expiry scheduler runs next. Plain values and
//! functions; the scheduler thread itself is in [`crate::gateway`].

use std::time::Duration;

use crate::duration::parse_go_duration;

/// The request header that sets a push's lifetime (Go duration syntax, `0` for never).
pub const HEADER: &str = "Pushgateway-Expire-After";

/// The shortest time between two runs of the expiry scheduler: groups whose deadlines fall
/// close together are removed in one transaction, and each is gone well within a second of
/// its deadline.
pub const MIN_RUN_INTERVAL_NS: i64 = 200_000_000;

/// The longest lifetime: what Go's `time.Duration` can hold (about 292 years).
const MAX_LIFETIME_NS: u128 = i64::MAX as u128;

/// Parses a lifetime in Go duration syntax (`90m`, `1h30m`, `0` for never); the error says
/// what is wrong with `value`, for the answer to the push.
pub fn parse_lifetime(value: &str) -> Result<Duration, String> {
    let value = value.trim();
    if value.starts_with('-') {
        return Err(format!(
            "negative duration {value:?} (use 0 for a group that never expires)"
        ));
    }
    let lifetime = parse_go_duration(value).ok_or_else(|| {
        format!(
            "invalid duration {value:?} (use Go duration syntax, e.g. 90m, 1h30m, or 0 for never)"
        )
    })?;
    if lifetime.as_nanos() > MAX_LIFETIME_NS {
        return Err(format!("duration {value:?} is out of range"));
    }
    Ok(lifetime)
}

/// The lifetime a push's header values ask for: `None` when it sent none, an error naming the
/// header when it sent a bad one or several.
pub fn lifetime_from_header<'a>(
    mut values: impl Iterator<Item = &'a [u8]>,
) -> Result<Option<Duration>, String> {
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(format!("{HEADER}: sent more than once"));
    }
    let value = std::str::from_utf8(first).map_err(|_| format!("{HEADER}: not UTF-8"))?;
    parse_lifetime(value)
        .map(Some)
        .map_err(|e| format!("{HEADER}: {e}"))
}

/// The deadline of a group pushed at `pushed_ns` with `lifetime`: 0 (never) for a zero
/// lifetime.
pub fn deadline_ns(pushed_ns: i64, lifetime: Duration) -> i64 {
    if lifetime.is_zero() {
        return 0;
    }
    let lifetime = i64::try_from(lifetime.as_nanos()).unwrap_or(i64::MAX);
    pushed_ns.saturating_add(lifetime).max(1)
}

/// When the expiry scheduler runs next (Unix ns): at the earliest deadline, but not sooner
/// than [`MIN_RUN_INTERVAL_NS`] after its last run; `None` (wait until woken) when no group
/// expires.
pub fn next_run_ns(earliest_deadline: Option<i64>, last_run_ns: Option<i64>) -> Option<i64> {
    let deadline = earliest_deadline?;
    Some(match last_run_ns {
        Some(last) => deadline.max(last.saturating_add(MIN_RUN_INTERVAL_NS)),
        None => deadline,
    })
}

/// How long the scheduler sleeps at `now_ns` before running at `run_ns`: zero when it is
/// due, `None` when there is nothing to run (it waits until a push sets a deadline).
pub fn sleep_for(now_ns: i64, run_ns: Option<i64>) -> Option<Duration> {
    let run = run_ns?;
    Some(Duration::from_nanos(
        u64::try_from(run.saturating_sub(now_ns)).unwrap_or(0),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_use_go_duration_syntax_and_zero_means_never() {
        assert_eq!(parse_lifetime("90m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_lifetime("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_lifetime("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_lifetime("0"), Ok(Duration::ZERO));
        assert_eq!(parse_lifetime("0s"), Ok(Duration::ZERO));
        assert_eq!(deadline_ns(100, Duration::ZERO), 0);
        assert_eq!(deadline_ns(100, Duration::from_nanos(5)), 105);
        assert_eq!(deadline_ns(i64::MAX - 1, Duration::from_secs(9)), i64::MAX);
    }

    #[test]
    fn bad_lifetimes_say_what_is_wrong() {
        assert!(parse_lifetime("-5m").unwrap_err().contains("negative"));
        for bad in ["", "5", "5d", "abc", "1h x"] {
            let e = parse_lifetime(bad).unwrap_err();
            assert!(e.contains("invalid duration"), "{bad}: {e}");
        }
        assert!(parse_lifetime("3000000h")
            .unwrap_err()
            .contains("out of range"));
    }

    #[test]
    fn the_header_is_optional_single_and_named_in_errors() {
        assert_eq!(lifetime_from_header(std::iter::empty()), Ok(None));
        let one = [b"2s".as_slice()];
        assert_eq!(
            lifetime_from_header(one.into_iter()),
            Ok(Some(Duration::from_secs(2)))
        );
        let bad = [b"soon".as_slice()];
        let e = lifetime_from_header(bad.into_iter()).unwrap_err();
        assert!(
            e.starts_with("Pushgateway-Expire-After: invalid duration"),
            "{e}"
        );
        let two = [b"1s".as_slice(), b"2s".as_slice()];
        assert!(lifetime_from_header(two.into_iter())
            .unwrap_err()
            .contains("more than once"));
    }

    #[test]
    fn the_scheduler_runs_at_the_earliest_deadline_but_not_too_often() {
        assert_eq!(next_run_ns(None, Some(5)), None);
        assert_eq!(next_run_ns(Some(1_000), None), Some(1_000));
        let last = 10_000_000_000;
        // A deadline long after the last run: exactly then.
        assert_eq!(
            next_run_ns(Some(last + 999_000_000), Some(last)),
            Some(last + 999_000_000)
        );
        // Deadlines right after a run are gathered into the next one.
        assert_eq!(
            next_run_ns(Some(last + 1), Some(last)),
            Some(last + MIN_RUN_INTERVAL_NS)
        );
        assert_eq!(sleep_for(10, None), None);
        assert_eq!(sleep_for(10, Some(4)), Some(Duration::ZERO));
        assert_eq!(sleep_for(10, Some(25)), Some(Duration::from_nanos(15)));
    }
}
