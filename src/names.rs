//! Metric- and label-name validation schemes (Prometheus `model.ValidationScheme`).
//!
//! Without `--push.enable-utf8-names` names follow the legacy rules; with it any non-empty
//! UTF-8 string is a valid name. Every module that validates a name asks this one.

/// Which names are acceptable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum NameValidation {
    /// `[a-zA-Z_:][a-zA-Z0-9_:]*` for metrics, `[a-zA-Z_][a-zA-Z0-9_]*` for labels.
    #[default]
    Legacy,
    /// Any non-empty UTF-8 string.
    Utf8,
}

impl NameValidation {
    /// Whether `name` is a valid metric name under this scheme.
    pub fn is_valid_metric_name(self, name: &str) -> bool {
        match self {
            NameValidation::Legacy => is_legacy_metric_name(name),
            NameValidation::Utf8 => !name.is_empty(),
        }
    }

    /// Whether `name` is a valid label name under this scheme.
    pub fn is_valid_label_name(self, name: &str) -> bool {
        match self {
            NameValidation::Legacy => is_legacy_label_name(name),
            NameValidation::Utf8 => !name.is_empty(),
        }
    }
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`
pub fn is_legacy_metric_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    match bytes.next() {
        Some(b) if b.is_ascii_alphabetic() || b == b'_' || b == b':' => {}
        _ => return false,
    }
    bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`
pub fn is_legacy_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    match bytes.next() {
        Some(b) if b.is_ascii_alphabetic() || b == b'_' => {}
        _ => return false,
    }
    bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// How names that are not valid legacy names are written in exposition (`escaping=` in
/// Content-Type/Accept, Prometheus `model.EscapingScheme`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Escaping {
    /// Names are written as they are, quoted where the format needs it (`allow-utf-8`).
    AllowUtf8,
    /// Every invalid character becomes `_` (`underscores`, the default).
    #[default]
    Underscores,
    /// `.` becomes `_dot_`, `_` becomes `__`, others `__<hex>__` (`dots`).
    Dots,
    /// `U__` value encoding (`values`).
    Values,
}

impl Escaping {
    /// Parses an `escaping=` parameter value; unknown values are `None`.
    pub fn from_param(value: &str) -> Option<Escaping> {
        match value {
            "allow-utf-8" => Some(Escaping::AllowUtf8),
            "underscores" => Some(Escaping::Underscores),
            "dots" => Some(Escaping::Dots),
            "values" => Some(Escaping::Values),
            _ => None,
        }
    }

    /// The parameter value, as written into a Content-Type.
    pub fn as_param(self) -> &'static str {
        match self {
            Escaping::AllowUtf8 => "allow-utf-8",
            Escaping::Underscores => "underscores",
            Escaping::Dots => "dots",
            Escaping::Values => "values",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_metric_names_allow_colons_but_not_leading_digits() {
        assert!(is_legacy_metric_name("a:b_c1"));
        assert!(is_legacy_metric_name(":x"));
        assert!(!is_legacy_metric_name("1a"));
        assert!(!is_legacy_metric_name("a.b"));
        assert!(!is_legacy_metric_name(""));
    }

    #[test]
    fn legacy_label_names_reject_colons() {
        assert!(is_legacy_label_name("_a1"));
        assert!(!is_legacy_label_name("a:b"));
        assert!(!is_legacy_label_name("a-b"));
        assert!(!is_legacy_label_name(""));
    }

    #[test]
    fn utf8_scheme_accepts_any_non_empty_name() {
        assert!(NameValidation::Utf8.is_valid_metric_name("a.b"));
        assert!(NameValidation::Utf8.is_valid_label_name("Προμηθεύς"));
        assert!(!NameValidation::Utf8.is_valid_label_name(""));
    }
}
