//! GET `/metrics`: rendered from the cache (never from SQL), negotiated like upstream's
//! promhttp handler; OpenMetrics only with `--web.enable-openmetrics`.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use super::{blocking, wants_gzip, AppState, Body};
use crate::error::ApiError;
use crate::exposition::negotiate::{
    content_type, negotiate, negotiate_including_openmetrics, Format,
};
use crate::exposition::{render, Encoding};

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
    let body = blocking(move || {
        let own = state.self_metrics.gather(&state.gateway.storage_figures());
        let bytes = render(&state.gateway.cache(), &own, encoding, escaping);
        Body::encode(bytes, gzip)
    })
    .await?;
    Ok(body.respond(&content_type(&negotiated)))
}
