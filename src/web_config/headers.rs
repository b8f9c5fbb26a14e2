//! `http_server_config.headers`: extra response headers, limited as exporter-toolkit limits
//! them to a few security headers (exact names; some with a fixed set of values), so a file
//! cannot be used to forge arbitrary response headers.

use std::collections::BTreeMap;

use actix_web::http::header::{HeaderName, HeaderValue};

/// Header names that may be configured and, where the value is an enumeration, its values.
const ALLOWED: &[(&str, &[&str])] = &[
    ("Strict-Transport-Security", &[]),
    ("X-Content-Type-Options", &["nosniff"]),
    ("X-Frame-Options", &["deny", "sameorigin"]),
    ("X-XSS-Protection", &[]),
    ("Content-Security-Policy", &[]),
];

/// Checks the configured headers and turns them into ready-to-insert pairs.
pub fn validate(
    headers: &BTreeMap<String, String>,
) -> Result<Vec<(HeaderName, HeaderValue)>, String> {
    headers
        .iter()
        .map(|(name, value)| {
            let (_, values) = ALLOWED
                .iter()
                .find(|(allowed, _)| allowed == name)
                .ok_or_else(|| format!("HTTP header {name:?} can not be configured"))?;
            if !values.is_empty() && !values.contains(&value.as_str()) {
                return Err(format!(
                    "invalid value for {name}: expected one of {values:?}, got {value:?}"
                ));
            }
            let header_name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|e| format!("HTTP header {name:?}: {e}"))?;
            let header_value = HeaderValue::from_str(value).map_err(|_| {
                format!("HTTP header {name}: value {value:?} is not a valid header value")
            })?;
            Ok((header_name, header_value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn security_headers_are_accepted() {
        let h = validate(&headers(&[
            ("X-Frame-Options", "sameorigin"),
            ("Strict-Transport-Security", "max-age=31536000"),
        ]))
        .unwrap();
        assert_eq!(h.len(), 2);
    }

    #[test]
    fn other_header_names_are_refused() {
        let e = validate(&headers(&[("Server", "x")])).unwrap_err();
        assert!(e.contains("\"Server\" can not be configured"), "{e}");
        // Names are matched exactly, as exporter-toolkit does.
        assert!(validate(&headers(&[("x-frame-options", "deny")])).is_err());
    }

    #[test]
    fn enumerated_headers_only_take_their_values() {
        let e = validate(&headers(&[("X-Frame-Options", "allow")])).unwrap_err();
        assert!(e.contains("X-Frame-Options"), "{e}");
        assert!(validate(&headers(&[("X-Content-Type-Options", "nosniff")])).is_ok());
    }

    #[test]
    fn values_that_cannot_be_sent_are_refused() {
        assert!(validate(&headers(&[("Content-Security-Policy", "a\nb")])).is_err());
    }
}
