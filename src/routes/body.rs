//! Request bodies: read as sent within `--push.max-body-bytes` (413) and `--web.read-timeout`
//! (408), then their Content-Encoding undone only where a route takes a body.
//!
//! Upstream undoes the Content-Encoding of every request, so a GET with `Content-Encoding:
//! gzip` and a broken body is a 400. Routes that take no body keep that answer for a short
//! body, but only the first [`ENCODING_PROBE_BYTES`] are ever decoded: a 1 MiB gzip that
//! inflates to 1 GiB costs nothing on `/-/healthy`. Push bodies are decoded with the rest of
//! their preparation, off the async workers ([`super::push`]).
//!
//! On HTTP/2 an answer sent before the whole body arrived is followed by a reset of the
//! request's stream (RFC 9113 allows it, with NO_ERROR), and clients such as curl then
//! report a framing error instead of the answer. So on HTTP/2 the rest of the body is read
//! and discarded, within the same limits, before any answer ([`discard_rest`]).

use std::time::Duration;

use actix_web::error::PayloadError;
use actix_web::http::{header, StatusCode, Version};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse};
use futures_util::{Stream, StreamExt};

use super::sender::client;
use crate::error::plain_text;
use crate::limits::{
    body_too_large, body_too_slow, Limits, DEFAULT_MAX_BODY_BYTES, DEFAULT_READ_TIMEOUT,
};
use crate::parse::encoding::{check_encoding, BodyDecodeError};

/// How much of the body of a route that takes none is decoded to check its encoding.
pub(super) const ENCODING_PROBE_BYTES: usize = 64 * 1024;

/// Reads the whole body as sent. A body over `--push.max-body-bytes` (declared or read) is a
/// 413 and reading stops there; one that has not arrived within `--web.read-timeout` is a
/// 408. Both close the connection, as the rest of the body is not read.
pub(super) async fn read_body<S>(
    req: &HttpRequest,
    payload: &mut S,
    limits: &Limits,
) -> Result<Vec<u8>, HttpResponse>
where
    S: Stream<Item = Result<Bytes, PayloadError>> + Unpin,
{
    let max = limits.max_body_bytes;
    if let Some(max) = max {
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|n| n > max as u64) {
            return Err(too_large(req, max));
        }
    }
    let read = async {
        let mut raw = Vec::new();
        while let Some(chunk) = payload.next().await {
            match chunk {
                Ok(bytes) => raw.extend_from_slice(&bytes),
                Err(e) => return Err(plain_text(StatusCode::BAD_REQUEST, format!("{e}\n"))),
            }
            if let Some(max) = max.filter(|m| raw.len() > *m) {
                return Err(too_large(req, max));
            }
        }
        Ok(raw)
    };
    match limits.read_timeout {
        Some(timeout) => match actix_web::rt::time::timeout(timeout, read).await {
            Ok(read) => read,
            Err(_elapsed) => Err(too_slow(req, timeout)),
        },
        None => read.await,
    }
}

/// Checks the Content-Encoding of the body of a route that takes none, decoding at most
/// [`ENCODING_PROBE_BYTES`] of it.
pub(super) fn check_request_encoding(req: &HttpRequest, raw: &[u8]) -> Result<(), BodyDecodeError> {
    check_encoding(content_encoding(req), raw, ENCODING_PROBE_BYTES)
}

/// The request's Content-Encoding header, if it is text.
pub(super) fn content_encoding(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
}

/// The answer to a body that cannot be decoded: 413 over the size limit, else 400.
pub(super) fn decode_error_response(req: &HttpRequest, e: BodyDecodeError) -> HttpResponse {
    match e {
        BodyDecodeError::TooLarge { limit } => too_large(req, limit),
        e => plain_text(StatusCode::BAD_REQUEST, format!("{e}\n")),
    }
}

/// On HTTP/2, reads and discards what is left of the request body before an answer is sent,
/// so the answer is not followed by a reset that some clients report instead of it. Reading
/// costs only bandwidth (nothing is kept): up to 64 MiB, or `--push.max-body-bytes` if that
/// is more, so that a 413 for a body over a smaller limit is complete too, within
/// `--web.read-timeout` (60 s without it); past either the answer goes out anyway. On
/// HTTP/1.1 an unread body is the connection's business (413 and 408 close it).
pub(crate) async fn discard_rest<S>(version: Version, payload: &mut S, limits: &Limits)
where
    S: Stream<Item = Result<Bytes, PayloadError>> + Unpin,
{
    if version != Version::HTTP_2 {
        return;
    }
    let max = limits
        .max_body_bytes
        .unwrap_or(0)
        .max(DEFAULT_MAX_BODY_BYTES);
    let timeout = limits.read_timeout.unwrap_or(DEFAULT_READ_TIMEOUT);
    let drain = async {
        let mut read = 0usize;
        while let Some(Ok(chunk)) = payload.next().await {
            read += chunk.len();
            if read > max {
                break;
            }
        }
    };
    let _ = actix_web::rt::time::timeout(timeout, drain).await;
}

/// The 413 for a body over `--push.max-body-bytes`, logged once. The connection is closed,
/// as the rest of the body is not read.
fn too_large(req: &HttpRequest, limit: usize) -> HttpResponse {
    refuse(req, StatusCode::PAYLOAD_TOO_LARGE, body_too_large(limit))
}

/// The 408 for a body that did not arrive within `--web.read-timeout`, logged once; the
/// connection is closed.
fn too_slow(req: &HttpRequest, timeout: Duration) -> HttpResponse {
    refuse(req, StatusCode::REQUEST_TIMEOUT, body_too_slow(timeout))
}

fn refuse(req: &HttpRequest, status: StatusCode, message: String) -> HttpResponse {
    log::error!(
        "request refused: client={} method={} path={} reason={}",
        client(req),
        req.method(),
        req.uri().path(),
        message.trim_end()
    );
    let mut response = plain_text(status, message);
    response
        .head_mut()
        .set_connection_type(actix_web::http::ConnectionType::Close);
    response
}
