//! Push bodies: Content-Encoding first, then protobuf or text by Content-Type, as upstream.

pub mod encoding;
pub mod protobuf;
pub mod text;

use crate::limits::{too_many_series, truncate, MAX_MESSAGE_BYTES};
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

/// Parses a decoded push body into metric families, refusing one of more than `max_series`
/// series (`--push.max-series-per-push`) as soon as parsing gets there.
///
/// Protobuf is chosen only by the exact delimited media type, anything else is text. Protobuf
/// names then meet the text parser's rules ([`protobuf::check_names`]): upstream stores an
/// invalid metric name and serves broken exposition, and refuses an invalid label name only
/// after recording a failed push. Error texts are cut at [`MAX_MESSAGE_BYTES`]: a parse error
/// can quote a megabyte-long name.
pub fn parse_body(
    content_type: Option<&str>,
    body: &[u8],
    names: NameValidation,
    max_series: Option<usize>,
) -> Result<Vec<MetricFamily>, ParseError> {
    let refused = |message: String| ParseError(truncate(message, MAX_MESSAGE_BYTES));
    if content_type.is_some_and(protobuf::is_delimited_protobuf) {
        let families =
            protobuf::parse_delimited_limited(body, max_series).map_err(|e| match e {
                protobuf::ProtobufRefusal::Invalid(e) => refused(e.to_string()),
                protobuf::ProtobufRefusal::TooManySeries(max) => refused(too_many_series(max)),
            })?;
        protobuf::check_names(&families, names).map_err(|e| refused(e.to_string()))?;
        Ok(families)
    } else {
        text::parse_limited(body, names, max_series).map_err(|e| match e {
            text::TextRefusal::Invalid(e) => refused(e.to_string()),
            text::TextRefusal::TooManySeries(max) => refused(too_many_series(max)),
        })
    }
}
