//! GET `/metrics`: rendered from the cache (never from SQL), negotiated like upstream's
//! promhttp handler; OpenMetrics only with `--web.enable-openmetrics`.
//!
//! The exposition's pieces are sent in runs of [`SEND_CHUNK`] bytes copied from them as the
//! connection takes them, or gzipped from the segments kept by [`crate::exposition::gzip`].

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

/// The bytes handed to the connection at a time. A large store has a hundred thousand pieces
/// (one per group and family), each costing more to hand over on its own than to copy; runs of
/// this size are copied once more by the connection into its write buffer, which then stays
/// small, and are allocated and freed one after another, in memory that stays mapped.
const SEND_CHUNK: usize = 16 << 10;

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
            let chunks = Runs::new(pieces).map(Ok::<_, Infallible>);
            HttpResponse::Ok()
                .insert_header((header::CONTENT_TYPE, content_type))
                .body(SizedStream::new(length, futures_util::stream::iter(chunks)))
        }
    })
}

/// What the blocking pool hands back: compressed bytes, or the pieces to send in runs.
enum Answer {
    Gzip(Body),
    Pieces(Vec<Piece>),
}

/// The pieces' bytes in runs of [`SEND_CHUNK`] (the last one shorter), copied as the
/// connection asks for the next.
struct Runs<T> {
    pieces: std::vec::IntoIter<T>,
    /// The piece being copied, and how much of it is.
    current: Option<(T, usize)>,
}

impl<T: AsRef<[u8]>> Runs<T> {
    fn new(pieces: Vec<T>) -> Runs<T> {
        Runs {
            pieces: pieces.into_iter(),
            current: None,
        }
    }
}

impl<T: AsRef<[u8]>> Iterator for Runs<T> {
    type Item = Bytes;

    fn next(&mut self) -> Option<Bytes> {
        let mut run = Vec::with_capacity(SEND_CHUNK);
        while run.len() < SEND_CHUNK {
            let (piece, at) = match &mut self.current {
                Some(current) => current,
                None => match self.pieces.next() {
                    Some(piece) => self.current.insert((piece, 0)),
                    None => break,
                },
            };
            let bytes = &piece.as_ref()[*at..];
            let n = bytes.len().min(SEND_CHUNK - run.len());
            run.extend_from_slice(&bytes[..n]);
            *at += n;
            if n == bytes.len() {
                self.current = None;
            }
        }
        (!run.is_empty()).then(|| Bytes::from(run))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_hold_every_byte_in_order_in_full_chunks_but_the_last() {
        let sizes = [
            0,
            1,
            700,
            SEND_CHUNK - 701,
            SEND_CHUNK,
            0,
            3 * SEND_CHUNK + 5,
            2,
        ];
        let pieces: Vec<Vec<u8>> = sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| (0..n).map(|b| (b * 31 + i) as u8).collect())
            .collect();
        let runs: Vec<Bytes> = Runs::new(pieces.clone()).collect();
        assert_eq!(runs.concat(), pieces.concat());
        let (last, full) = runs.split_last().unwrap();
        assert!(full.iter().all(|r| r.len() == SEND_CHUNK));
        assert_eq!(last.len(), sizes.iter().sum::<usize>() % SEND_CHUNK);
        assert_eq!(Runs::new(vec![Vec::<u8>::new(); 3]).count(), 0);
        assert_eq!(Runs::new(vec![vec![7u8; SEND_CHUNK]]).count(), 1);
    }
}
