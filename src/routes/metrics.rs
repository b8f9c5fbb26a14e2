//! GET `/metrics`: rendered from the cache (never from SQL), negotiated like upstream's
//! promhttp handler, plus OpenMetrics for scrapers that ask for it.

use std::io::Write;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use flate2::write::GzEncoder;
use flate2::Compression;

use super::AppState;
use crate::exposition::negotiate::{accepts_gzip_in, content_type, negotiate, Format};
use crate::exposition::{render, Encoding};

/// Serves the exposition.
pub async fn metrics(req: &HttpRequest, state: &web::Data<AppState>) -> HttpResponse {
    let header_str = |name| {
        req.headers()
            .get(name)
            .and_then(|v: &header::HeaderValue| v.to_str().ok())
    };
    let negotiated = negotiate(header_str(header::ACCEPT));
    let encoding = match negotiated.format {
        Format::ProtoDelimited => Encoding::Protobuf,
        Format::OpenMetrics => Encoding::OpenMetrics,
        _ => Encoding::Text,
    };
    let gzip = accepts_gzip_in(
        req.headers()
            .get_all(header::ACCEPT_ENCODING)
            .filter_map(|v| v.to_str().ok()),
    );
    let state = state.clone();
    let escaping = negotiated.escaping;
    let rendered = web::block(move || {
        let own = state.self_metrics.gather(&state.gateway);
        let body = render(&state.gateway.cache(), &own, encoding, escaping);
        if gzip {
            // Fastest level: scrapes of large stores are CPU-bound on compression.
            let mut encoder =
                GzEncoder::new(Vec::with_capacity(body.len() / 4), Compression::fast());
            encoder.write_all(&body).and_then(|_| encoder.finish())
        } else {
            Ok(body)
        }
    })
    .await;
    match rendered {
        Ok(Ok(body)) => {
            let mut response = HttpResponse::Ok();
            response.insert_header((header::CONTENT_TYPE, content_type(&negotiated)));
            if gzip {
                response.insert_header((header::CONTENT_ENCODING, "gzip"));
            }
            response.body(body)
        }
        Ok(Err(e)) => {
            log::error!("compressing /metrics: {e}");
            HttpResponse::InternalServerError().finish()
        }
        Err(e) => {
            log::error!("rendering /metrics: {e}");
            HttpResponse::InternalServerError().finish()
        }
    }
}
