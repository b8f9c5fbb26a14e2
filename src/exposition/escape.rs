//! Name escaping and string quoting shared by the text and OpenMetrics writers.
//!
//! Since 1.11 upstream rewrites every metric and label name that is not a valid *legacy*
//! name before encoding, according to the `escaping=` scheme negotiated for the scrape
//! (`model.EscapeMetricFamily` + `model.EscapeName`, prometheus/common v0.69.0). Under
//! `allow-utf-8` nothing is rewritten and the writers quote such names instead. Both
//! formats quote names and escape strings the same way, so those rules live here too.

use std::borrow::Cow;

use crate::names::{is_legacy_metric_name, Escaping};

/// The label whose *value* is a metric name and is therefore escaped like one.
const METRIC_NAME_LABEL: &str = "__name__";

/// Upstream `model.EscapeName`: `name` rewritten under `scheme`, without the legacy-name
/// shortcut that the exposition applies first (see [`exposed_name`]).
///
/// Legacy-valid names come back unchanged for every scheme except [`Escaping::Dots`], which
/// upstream applies to every name: `_` always doubles there (`a_b` → `a__b`), so that `.`
/// can become `_dot_` without ambiguity. The empty name is returned as it is.
pub fn escape_name(name: &str, scheme: Escaping) -> Cow<'_, str> {
    if name.is_empty() {
        return Cow::Borrowed(name);
    }
    match scheme {
        Escaping::AllowUtf8 => Cow::Borrowed(name),
        Escaping::Underscores => {
            if is_legacy_metric_name(name) {
                return Cow::Borrowed(name);
            }
            Cow::Owned(
                name.char_indices()
                    .map(|(i, c)| if is_legacy_char(c, i) { c } else { '_' })
                    .collect(),
            )
        }
        Escaping::Dots => {
            let mut out = String::with_capacity(name.len() + 8);
            for (i, c) in name.char_indices() {
                match c {
                    '_' => out.push_str("__"),
                    '.' => out.push_str("_dot_"),
                    c if is_legacy_char(c, i) => out.push(c),
                    _ => out.push_str("__"),
                }
            }
            Cow::Owned(out)
        }
        Escaping::Values => {
            if is_legacy_metric_name(name) {
                return Cow::Borrowed(name);
            }
            let mut out = String::with_capacity(name.len() + 16);
            out.push_str("U__");
            for (i, c) in name.char_indices() {
                match c {
                    '_' => out.push_str("__"),
                    c if is_legacy_char(c, i) => out.push(c),
                    // A `str` holds only valid scalar values, so upstream's `_FFFD_` case for
                    // invalid runes cannot arise here.
                    c => {
                        out.push('_');
                        push_hex(&mut out, c as u32);
                        out.push('_');
                    }
                }
            }
            Cow::Owned(out)
        }
    }
}

/// A metric or label name as the exposition writes it under `scheme`.
///
/// Upstream escapes a family name, a label name, and the value of a `__name__` label only
/// when it is not a legacy *metric* name. Label names are checked with the metric-name rule
/// too, so `a:b` passes through unescaped. This shortcut is why `Dots` leaves `foo_bar`
/// alone in exposition although [`escape_name`] would double its underscore.
pub fn exposed_name(name: &str, scheme: Escaping) -> Cow<'_, str> {
    if is_legacy_metric_name(name) {
        Cow::Borrowed(name)
    } else {
        escape_name(name, scheme)
    }
}

/// The name and value of one label pair as the exposition writes them under `scheme`.
/// Absent fields are the empty string, as Go's getters return.
pub fn exposed_label<'a>(
    name: Option<&'a str>,
    value: Option<&'a str>,
    scheme: Escaping,
) -> (Cow<'a, str>, Cow<'a, str>) {
    let name = name.unwrap_or("");
    let value = value.unwrap_or("");
    if name == METRIC_NAME_LABEL {
        (Cow::Borrowed(name), exposed_name(value, scheme))
    } else {
        (exposed_name(name, scheme), Cow::Borrowed(value))
    }
}

/// Appends `name` bare if it is a legacy metric name, else double-quoted and escaped like a
/// label value. Used for metric and label names alike, as upstream does.
pub fn push_name(out: &mut Vec<u8>, name: &str) {
    if is_legacy_metric_name(name) {
        out.extend_from_slice(name.as_bytes());
    } else {
        out.push(b'"');
        push_escaped(out, name, true);
        out.push(b'"');
    }
}

/// Appends `s` with `\` → `\\` and newline → `\n`, and also `"` → `\"` if `quotes` is set.
///
/// Text-format HELP leaves quotes alone; label values, quoted names, OpenMetrics HELP and
/// UNIT escape them.
pub fn push_escaped(out: &mut Vec<u8>, s: &str, quotes: bool) {
    let mut rest = s.as_bytes();
    // Copy unescaped runs in one go; the special characters are all ASCII.
    while let Some(pos) = rest
        .iter()
        .position(|&b| b == b'\\' || b == b'\n' || (quotes && b == b'"'))
    {
        out.extend_from_slice(&rest[..pos]);
        out.extend_from_slice(match rest[pos] {
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            _ => b"\\\"",
        });
        rest = &rest[pos + 1..];
    }
    out.extend_from_slice(rest);
}

/// Whether `c` at byte offset `i` may appear in a legacy metric name.
fn is_legacy_char(c: char, i: usize) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == ':' || (c.is_ascii_digit() && i > 0)
}

/// Lower-case hexadecimal without padding, as Go's `strconv.FormatInt(v, 16)`.
fn push_hex(out: &mut String, v: u32) {
    use std::fmt::Write;
    let _ = write!(out, "{v:x}");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(name: &str) -> [String; 4] {
        [
            Escaping::AllowUtf8,
            Escaping::Underscores,
            Escaping::Dots,
            Escaping::Values,
        ]
        .map(|s| escape_name(name, s).into_owned())
    }

    #[test]
    fn legacy_names_stay_unchanged_except_that_dots_doubles_underscores() {
        assert_eq!(
            all("no:escaping_required"),
            [
                "no:escaping_required",
                "no:escaping_required",
                "no:escaping__required",
                "no:escaping_required"
            ]
        );
    }

    #[test]
    fn dotted_names_escape_per_scheme() {
        assert_eq!(
            all("my.sys.load_total"),
            [
                "my.sys.load_total",
                "my_sys_load_total",
                "my_dot_sys_dot_load__total",
                "U__my_2e_sys_2e_load__total"
            ]
        );
        assert_eq!(
            all("http.status:sum"),
            [
                "http.status:sum",
                "http_status:sum",
                "http_dot_status:sum",
                "U__http_2e_status:sum"
            ]
        );
    }

    #[test]
    fn multibyte_characters_become_one_replacement_each() {
        assert_eq!(
            all("label with 😱"),
            [
                "label with 😱",
                "label_with__",
                "label__with____",
                "U__label_20_with_20__1f631_"
            ]
        );
        assert_eq!(all("花火"), ["花火", "__", "____", "U___82b1__706b_"]);
    }

    #[test]
    fn a_leading_digit_is_invalid_but_later_digits_are_not() {
        assert_eq!(all("1a.2"), ["1a.2", "_a_2", "__a_dot_2", "U___31_a_2e_2"]);
    }

    #[test]
    fn the_empty_name_is_never_rewritten() {
        assert_eq!(all(""), ["", "", "", ""]);
    }

    #[test]
    fn exposition_leaves_legacy_names_alone_even_under_dots() {
        assert_eq!(exposed_name("foo_bar", Escaping::Dots), "foo_bar");
        assert_eq!(exposed_name("a.b_c", Escaping::Dots), "a_dot_b__c");
        // Label names are checked with the metric-name rule, which allows colons.
        assert_eq!(exposed_name("a:b", Escaping::Values), "a:b");
    }

    #[test]
    fn the_name_label_has_its_value_escaped_instead_of_its_name() {
        let (n, v) = exposed_label(Some("__name__"), Some("a.b"), Escaping::Underscores);
        assert_eq!((n.as_ref(), v.as_ref()), ("__name__", "a_b"));
        let (n, v) = exposed_label(Some("a.b"), Some("x.y"), Escaping::Underscores);
        assert_eq!((n.as_ref(), v.as_ref()), ("a_b", "x.y"));
        let (n, v) = exposed_label(None, None, Escaping::Values);
        assert_eq!((n.as_ref(), v.as_ref()), ("", ""));
    }

    #[test]
    fn names_are_quoted_only_when_not_legacy_valid() {
        let mut out = Vec::new();
        push_name(&mut out, "a:b_1");
        out.push(b' ');
        push_name(&mut out, "a.\"b\"\\\n");
        out.push(b' ');
        push_name(&mut out, "");
        assert_eq!(out, b"a:b_1 \"a.\\\"b\\\"\\\\\\n\" \"\"");
    }

    #[test]
    fn strings_escape_quotes_only_when_asked() {
        let mut out = Vec::new();
        push_escaped(&mut out, "a\\b\n\"c\"Ω", false);
        assert_eq!(out, "a\\\\b\\n\"c\"Ω".as_bytes());
        out.clear();
        push_escaped(&mut out, "a\\b\n\"c\"Ω", true);
        assert_eq!(out, "a\\\\b\\n\\\"c\\\"Ω".as_bytes());
    }
}
