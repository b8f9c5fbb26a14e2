//! Request bodies: read as sent (bounded by `--push.max-body-bytes`), then their
//! Content-Encoding undone as upstream does for every request.

use std::borrow::Cow;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;

use super::sender::client;
use crate::error::plain_text;
use crate::limits::body_too_large;
use crate::parse::encoding::{decode_body, BodyDecodeError};

/// Reads the whole body as sent. With `--push.max-body-bytes`, a body over the limit
/// (declared or read) is a 413, and reading stops there.
pub(super) async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: Option<usize>,
) -> Result<Vec<u8>, HttpResponse> {
    if let Some(limit) = limit {
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            return Err(too_large(req, limit));
        }
    }
    let mut raw = Vec::new();
    while let Some(chunk) = payload.next().await {
        match chunk {
            Ok(bytes) => raw.extend_from_slice(&bytes),
            Err(e) => return Err(plain_text(StatusCode::BAD_REQUEST, format!("{e}\n"))),
        }
        if let Some(limit) = limit.filter(|l| raw.len() > *l) {
            return Err(too_large(req, limit));
        }
    }
    Ok(raw)
}

/// Undoes the request's Content-Encoding (gzip, snappy) as upstream does for every request,
/// so a GET with `Content-Encoding: gzip` and no body is a 400, like upstream's. `limit`
/// caps the decoded size (`--push.max-body-bytes`).
pub(super) fn decode_request_body<'a>(
    req: &HttpRequest,
    raw: &'a [u8],
    limit: Option<usize>,
) -> Result<Cow<'a, [u8]>, BodyDecodeError> {
    let encoding = req
        .headers()
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok());
    decode_body(encoding, raw, limit)
}

/// The answer to a body that cannot be decoded: 413 over the size limit, else 400.
pub(super) fn decode_error_response(req: &HttpRequest, e: BodyDecodeError) -> HttpResponse {
    match e {
        BodyDecodeError::TooLarge { limit } => too_large(req, limit),
        e => plain_text(StatusCode::BAD_REQUEST, format!("{e}\n")),
    }
}

/// The 413 for a body over `--push.max-body-bytes`, logged once. The connection is closed,
/// as the rest of the body is not read.
fn too_large(req: &HttpRequest, limit: usize) -> HttpResponse {
    let message = body_too_large(limit);
    log::error!(
        "request refused: client={} method={} path={} reason={}",
        client(req),
        req.method(),
        req.uri().path(),
        message.trim_end()
    );
    let mut response = plain_text(StatusCode::PAYLOAD_TOO_LARGE, message);
    response
        .head_mut()
        .set_connection_type(actix_web::http::ConnectionType::Close);
    response
}
