//! The two duration syntaxes the flags use: Go's (`--persistence.interval=5m`, the web
//! config's rate-limit interval) and Prometheus's (`--history.retention=7d`), which adds days,
//! weeks and years but has no fractions.

use std::time::Duration;

/// Go's `time.ParseDuration`: a sequence of decimal numbers with units ns, us, µs, ms, s, m, h.
pub fn parse_go_duration(s: &str) -> Option<Duration> {
    let (negative, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Some(Duration::ZERO);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let nanos_per_unit = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += number * nanos_per_unit;
    }
    // A negative interval means "persist after every write" upstream; here it is only displayed.
    let _ = negative;
    Some(Duration::from_nanos(total as u64))
}

/// Go's `Duration.String()` for whole-second-or-larger values and the common small ones.
pub fn format_go_duration(d: Duration) -> String {
    let total = d.as_nanos();
    if total == 0 {
        return "0s".to_string();
    }
    if total < 1_000_000_000 {
        return if total.is_multiple_of(1_000_000) {
            format!("{}ms", total / 1_000_000)
        } else if total.is_multiple_of(1_000) {
            format!("{}µs", total / 1_000)
        } else {
            format!("{total}ns")
        };
    }
    let secs = d.as_secs();
    let frac = d.subsec_nanos();
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    let mut seconds = s.to_string();
    if frac > 0 {
        let f = format!("{frac:09}");
        seconds = format!("{s}.{}", f.trim_end_matches('0'));
    }
    if h > 0 {
        format!("{h}h{m}m{seconds}s")
    } else if m > 0 {
        format!("{m}m{seconds}s")
    } else {
        format!("{seconds}s")
    }
}

/// Prometheus's durations (`--history.retention`): `90s`, `30m`, `12h`, `7d`, `2w`, `1y`, or a
/// combination (`1d12h`).
pub fn parse_prometheus_duration(s: &str) -> Option<Duration> {
    if s == "0" {
        return Some(Duration::ZERO);
    }
    let mut rest = s;
    let mut total = 0u64;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let n: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "ms" => {
                total = total.checked_add(n / 1000)?;
                rest = &rest[unit_len..];
                continue;
            }
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            "w" => 604_800,
            "y" => 31_536_000,
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(seconds)?)?;
        rest = &rest[unit_len..];
    }
    Some(Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_parse_and_print() {
        assert_eq!(parse_go_duration("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_go_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_go_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_go_duration("abc"), None);
        assert_eq!(format_go_duration(Duration::from_secs(300)), "5m0s");
        assert_eq!(format_go_duration(Duration::from_secs(5400)), "1h30m0s");
        assert_eq!(format_go_duration(Duration::from_millis(1500)), "1.5s");
    }

    #[test]
    fn prometheus_durations_take_days_weeks_and_years() {
        assert_eq!(
            parse_prometheus_duration("7d"),
            Some(Duration::from_secs(7 * 86_400))
        );
        assert_eq!(
            parse_prometheus_duration("1d12h"),
            Some(Duration::from_secs(129_600))
        );
        assert_eq!(
            parse_prometheus_duration("90s"),
            Some(Duration::from_secs(90))
        );
        assert_eq!(parse_prometheus_duration("0"), Some(Duration::ZERO));
        assert_eq!(parse_prometheus_duration("7 days"), None);
        assert_eq!(parse_prometheus_duration(""), None);
    }
}
