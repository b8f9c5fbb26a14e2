//! How the status page writes numbers and times.
//!
//! Sample values follow upstream's page (`strconv.FormatFloat(v, 'f', -1, 64)`: shortest
//! round-trip digits, never an exponent). Times are RFC 3339 to the second in the server's
//! time zone, as upstream shows them, plus a UTC form for the `datetime` attribute that the
//! page's script turns into a relative age.

use jiff::tz::TimeZone;
use jiff::Timestamp;

/// Go's `strconv.FormatFloat(v, 'f', -1, 64)`: `1e21` is `1000000000000000000000`, `1e-7`
/// is `0.0000001`; NaN and the infinities as Prometheus writes them.
pub fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else {
        // Rust's Display prints the shortest round-trip digits without an exponent.
        format!("{v}")
    }
}

/// A point in time as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeView {
    /// RFC 3339 in UTC (`2024-05-01T12:00:00Z`), for `<time datetime>`.
    pub utc: String,
    /// RFC 3339 to the second in the server's zone (`Z` for UTC), as upstream shows it.
    pub local: String,
}

/// Formats Unix nanoseconds; `None` for 0 (never happened) or an out-of-range value.
pub fn time_view(unix_ns: i64, tz: &TimeZone) -> Option<TimeView> {
    if unix_ns <= 0 {
        return None;
    }
    let ts = Timestamp::from_nanosecond(i128::from(unix_ns)).ok()?;
    let zoned = ts.to_zoned(tz.clone());
    let offset = zoned.offset();
    let local = if offset.seconds() == 0 {
        zoned.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        zoned.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
    };
    Some(TimeView {
        utc: ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        local,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_never_use_an_exponent() {
        assert_eq!(format_value(1e21), "1000000000000000000000");
        assert_eq!(format_value(1e-7), "0.0000001");
        assert_eq!(format_value(42.5), "42.5");
        assert_eq!(format_value(3.0), "3");
        assert_eq!(format_value(-0.0), "-0");
        assert_eq!(format_value(0.1 + 0.2), "0.30000000000000004");
    }

    #[test]
    fn special_values_are_written_as_prometheus_writes_them() {
        assert_eq!(format_value(f64::NAN), "NaN");
        assert_eq!(format_value(f64::INFINITY), "+Inf");
        assert_eq!(format_value(f64::NEG_INFINITY), "-Inf");
    }

    #[test]
    fn times_are_rfc3339_seconds_with_z_for_utc() {
        let t = time_view(1_714_564_800_123_456_789, &TimeZone::UTC).unwrap();
        assert_eq!(t.utc, "2024-05-01T12:00:00Z");
        assert_eq!(t.local, "2024-05-01T12:00:00Z");
    }

    #[test]
    fn times_in_other_zones_carry_their_offset() {
        let tz = TimeZone::fixed(jiff::tz::offset(2));
        let t = time_view(1_714_564_800_000_000_000, &tz).unwrap();
        assert_eq!(t.local, "2024-05-01T14:00:00+02:00");
        assert_eq!(t.utc, "2024-05-01T12:00:00Z");
    }

    #[test]
    fn a_zero_time_means_never() {
        assert_eq!(time_view(0, &TimeZone::UTC), None);
    }
}
