//! Push bodies: Content-Encoding first, then protobuf or text by Content-Type, as upstream.

pub mod encoding;
pub mod protobuf;
pub mod text;

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
/// Protobuf is chosen only by the exact delimited media type, anything else is text. Protobuf
/// names then meet the text parser's rules ([`protobuf::check_names`]): upstream stores an
/// invalid metric name and serves broken exposition, and refuses an invalid label name only
/// after recording a failed push.
pub fn parse_body(
    content_type: Option<&str>,
    body: &[u8],
    names: NameValidation,
) -> Result<Vec<MetricFamily>, ParseError> {
    if content_type.is_some_and(protobuf::is_delimited_protobuf) {
        let families = protobuf::parse_delimited(body).map_err(|e| ParseError(e.to_string()))?;
        protobuf::check_names(&families, names).map_err(|e| ParseError(e.to_string()))?;
        Ok(families)
    } else {
        text::parse(body, names).map_err(|e| ParseError(e.to_string()))
    }
}
