//! Go formatting rules that the Pushgateway's wire format inherits.
//!
//! Upstream formats every float with `strconv.FormatFloat(v, 'g', -1, 64)` (text exposition,
//! JSON API) and quotes strings in error messages with `%q`. Clients and tests compare those
//! bytes, so they are reproduced here once.

use std::fmt::Write as _;

/// Go's `strconv.FormatFloat(v, 'g', -1, 64)`, which is also `fmt.Sprint(v)`.
///
/// Shortest digits that round-trip, in exponent form iff the decimal exponent is < -4 or >= 6
/// (Go's threshold for the shortest form): `1234567` is `1.234567e+06`, `123456` stays `123456`.
pub fn format_float(v: f64) -> String {
    let mut out = Vec::with_capacity(24);
    append_float(&mut out, v);
    // Only ASCII is ever appended.
    String::from_utf8(out).unwrap_or_default()
}

/// Appends [`format_float`]'s output to `out` without allocating (scrapes call this per sample).
pub fn append_float(out: &mut Vec<u8>, v: f64) {
    if v.is_nan() {
        out.extend_from_slice(b"NaN");
        return;
    }
    if v.is_infinite() {
        out.extend_from_slice(if v > 0.0 { b"+Inf" } else { b"-Inf" });
        return;
    }
    // `{:e}` yields the shortest round-trip digits as `d.ddde<exp>`; 32 bytes hold any f64.
    let mut buf = [0u8; 40];
    let mut cursor = std::io::Cursor::new(&mut buf[..]);
    let _ = std::io::Write::write_fmt(&mut cursor, format_args!("{v:e}"));
    let len = cursor.position() as usize;
    let sci = &buf[..len];
    let e = sci.iter().position(|&b| b == b'e').unwrap_or(len);
    let (mantissa, exp_digits) = (&sci[..e], sci.get(e + 1..).unwrap_or(b"0"));
    let exp: i32 = std::str::from_utf8(exp_digits)
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(0);
    if !(-4..6).contains(&exp) {
        out.extend_from_slice(mantissa);
        out.push(b'e');
        out.push(if exp < 0 { b'-' } else { b'+' });
        let abs = exp.unsigned_abs();
        if abs < 10 {
            out.push(b'0');
        }
        let _ = std::io::Write::write_fmt(out, format_args!("{abs}"));
    } else {
        // Rust's Display prints the same shortest digits without an exponent.
        let _ = std::io::Write::write_fmt(out, format_args!("{v}"));
    }
}

/// Go's `strconv.Quote` (`%q`): double-quoted, with Go escape sequences for control and
/// non-printable characters.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{07}' => out.push_str("\\a"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0C}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{0B}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if is_printable(c) => out.push(c),
            c if (c as u32) < 0x10000 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
    out.push('"');
    out
}

/// Like [`quote`] for bytes that may not be UTF-8: invalid bytes become `\xNN`, as Go does.
pub fn quote_bytes(bytes: &[u8]) -> String {
    let mut out = String::from("\"");
    for chunk in bytes.utf8_chunks() {
        let valid = quote(chunk.valid());
        out.push_str(&valid[1..valid.len() - 1]);
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out.push('"');
    out
}

/// An approximation of Go's `unicode.IsPrint`: graphic characters and the ASCII space.
fn is_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    let cp = c as u32;
    // Format characters, surrogates, private use and non-characters are not printable in Go.
    !matches!(cp, 0xAD | 0x600..=0x605 | 0x200B..=0x200F | 0x2028..=0x202E | 0x2060..=0x206F
        | 0xFEFF | 0xFFF9..=0xFFFB | 0xE000..=0xF8FF | 0xFFFE | 0xFFFF | 0xF0000..)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_format_like_go_shortest_g() {
        let cases = [
            (1.0, "1"),
            (0.0, "0"),
            (-0.0, "-0"),
            (-1.0, "-1"),
            (3.25, "3.25"),
            (123456.0, "123456"),
            (1234567.0, "1.234567e+06"),
            (0.00001, "1e-05"),
            (0.0001, "0.0001"),
            (1e20, "1e+20"),
            (1e21, "1e+21"),
            (1e100, "1e+100"),
            (1.7954027570564053e9, "1.7954027570564053e+09"),
            (1.583781848025745e9, "1.583781848025745e+09"),
            (-2.5e-7, "-2.5e-07"),
            (99.23, "99.23"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
        ];
        for (v, want) in cases {
            assert_eq!(format_float(v), want, "formatting {v:e}");
        }
    }

    #[test]
    fn quote_escapes_like_go() {
        assert_eq!(quote("abc"), "\"abc\"");
        assert_eq!(quote("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
        assert_eq!(quote("\u{1}\u{7f}"), "\"\\x01\\x7f\"");
        assert_eq!(quote("Προμηθεύς"), "\"Προμηθεύς\"");
        assert_eq!(quote("\u{a0}"), "\"\\u00a0\"");
        assert_eq!(quote_bytes(b"a\xffb"), "\"a\\xffb\"");
    }
}
