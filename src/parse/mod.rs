//! Push bodies: Content-Encoding first, then protobuf or text by Content-Type, as upstream.

pub mod encoding;
pub mod protobuf;
pub mod text;

use crate::go_strconv::quote;
use crate::names::NameValidation;
use crate::proto::MetricFamily;

/// A body that cannot be decoded or parsed; the message is upstream's where it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseError {}

/// Parses a decoded push body into metric families.
///
/// Protobuf is chosen only by the exact delimited media type, anything else is text. Unlike
/// upstream, protobuf family names are validated too: upstream stores an invalid name and then
/// serves broken exposition.
pub fn parse_body(
    content_type: Option<&str>,
    body: &[u8],
    names: NameValidation,
) -> Result<Vec<MetricFamily>, ParseError> {
    if content_type.is_some_and(protobuf::is_delimited_protobuf) {
        let families = protobuf::parse_delimited(body).map_err(|e| ParseError(e.to_string()))?;
        if let Some(bad) = families
            .iter()
            .find(|f| !names.is_valid_metric_name(f.name()))
        {
            return Err(ParseError(format!(
                "invalid metric name {} in protobuf body",
                quote(bad.name())
            )));
        }
        Ok(families)
    } else {
        text::parse(body, names).map_err(|e| ParseError(e.to_string()))
    }
}
