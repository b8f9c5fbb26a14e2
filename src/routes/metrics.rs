//! GET `/metrics`: rendered from the cache (never from SQL), negotiated like upstream's
//! promhttp handler; OpenMetrics only with `--web.enable-openmetrics`.
//!
//! The exposition's pieces are sent as they are (one copy, into the socket's buffer), or
//! gzipped from the segments kept by [`crate::exposition::gzip`].

use std::convert::Infallible;

use actix_web::body::SizedStream;
use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};

use super::{blocking, wants_gzip, AppState, Body};
use crate::error::ApiError;
use crate::exposition::negotiate::{
    content_type, negotiate, negotiate_including_openmetrics, Format,
};
use crate::exposition::{pieces, Encoding, Piece, Snapshot};

/// Serves the exposition.
pub(super) async fn metrics(
    req: &HttpRequest,
    state: &web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let negotiated = if state.config.enable_openmetrics {
        negotiate_including_openmetrics(accept)
    } else {
        negotiate(accept)
    };
    let encoding = match negotiated.format {
        Format::ProtoDelimited => Encoding::Protobuf,
        Format::OpenMetrics => Encoding::OpenMetrics,
        _ => Encoding::Text,
    };
    let gzip = wants_gzip(req);
    let state = state.clone();
    let escaping = negotiated.escaping;
    let content_type = content_type(&negotiated);
    let answer = blocking(move || {
        let own = state.self_metrics.gather(&state.gateway.storage_figures());
        let snapshot = Snapshot::take(&state.gateway.cache());
        let pieces = pieces(&snapshot, &own, encoding, escaping);
        drop(snapshot);
        if gzip {
            state
                .gzip
                .compress(encoding, escaping, &pieces)
                .map(|bytes| Answer::Gzip(Body { bytes, gzip }))
                .map_err(|e| ApiError::Internal(format!("compressing /metrics: {e}")))
        } else {
            Ok(Answer::Pieces(pieces))
        }
    })
    .await?;
    Ok(match answer {
        Answer::Gzip(body) => body.respond(&content_type),
        Answer::Pieces(pieces) => {
            let length = pieces.iter().map(|p| p.bytes().len() as u64).sum();
            let chunks = pieces
                .into_iter()
                .map(|p| Ok::<_, Infallible>(Bytes::from_owner(p)));
            HttpResponse::Ok()
                .insert_header((header::CONTENT_TYPE, content_type))
                .body(SizedStream::new(length, futures_util::stream::iter(chunks)))
        }
    })
}

/// What the blocking pool hands back: compressed bytes, or the pieces to send as they are.
enum Answer {
    Gzip(Body),
    Pieces(Vec<Piece>),
}
