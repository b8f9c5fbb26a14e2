//! The status page: `GET P/` and `GET P/status` (the page), `GET P/status/group/job@base64/…`
//! (one group's families as an HTML fragment). Views and templates live in
//! [`crate::status_page`].

use std::io::Write;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use flate2::write::GzEncoder;
use flate2::Compression;
use jiff::tz::TimeZone;

use super::AppState;
use crate::error::{plain_text, ApiError};
use crate::exposition::negotiate::accepts_gzip_in;
use crate::status_page::families::{GroupFamilies, PushView};
use crate::store::history::HistoryQuery;

/// How many of a group's latest pushes the opened group shows.
const RECENT_PUSHES: u32 = 10;
use crate::status_page::{parse_group_path, StatusPage};

/// The page. Rendered off the async workers: with many groups it takes milliseconds.
pub async fn page(req: &HttpRequest, state: &web::Data<AppState>) -> HttpResponse {
    let gzip = wants_gzip(req);
    let state = state.clone();
    let rendered = web::block(move || {
        let tz = TimeZone::system();
        let page = {
            let cache = state.gateway.cache();
            StatusPage::new(
                &cache,
                &state.config,
                state.self_metrics.start_time_seconds(),
                &tz,
            )
        };
        encode(page.render()?, gzip)
    })
    .await;
    match rendered {
        Ok(Ok(body)) => html(body, gzip),
        Ok(Err(e)) => e.error_response_owned(),
        Err(e) => ApiError::from(e).error_response_owned(),
    }
}

/// The families of the group at `path` (the route's catch-all, the group's
/// [`to_base64_path`](crate::grouping_key::GroupingKey::to_base64_path)); 400 when it names
/// no valid group, 404 when no such group exists (any more).
pub async fn group(req: &HttpRequest, state: &web::Data<AppState>, path: &str) -> HttpResponse {
    let Some(key) = parse_group_path(path, state.config.names) else {
        return plain_text(
            StatusCode::BAD_REQUEST,
            "expected a group path /job@base64/<job>{/<name>@base64/<value>}\n",
        );
    };
    let canonical = key.canonical();
    let key = key.upstream_key();
    let gateway = state.gateway.clone();
    // The group's latest pushes come from the history; a failure only leaves them out.
    let recent = web::block(move || -> Result<_, String> {
        let conn = gateway.pool().get().map_err(|e| e.to_string())?;
        let query = HistoryQuery {
            grouping_key: Some(canonical),
            limit: RECENT_PUSHES,
            ..Default::default()
        };
        crate::store::history::query(&conn, &query).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|r| r)
    .unwrap_or_else(|e| {
        log::warn!("reading the recent pushes of a group: {e}");
        Vec::new()
    });
    let gzip = wants_gzip(req);
    let state = state.clone();
    let rendered = web::block(move || {
        let tz = TimeZone::system();
        let mut view = {
            let cache = state.gateway.cache();
            let group = cache.group(&key)?;
            GroupFamilies::new(group, state.config.names, &tz)
        };
        view.recent = recent.iter().map(|row| PushView::new(row, &tz)).collect();
        Some(
            view.render()
                .map_err(ApiError::from)
                .and_then(|b| encode(b, gzip)),
        )
    })
    .await;
    match rendered {
        Ok(Some(Ok(body))) => html(body, gzip),
        Ok(Some(Err(e))) => e.error_response_owned(),
        Ok(None) => plain_text(StatusCode::NOT_FOUND, "group not found\n"),
        Err(e) => ApiError::from(e).error_response_owned(),
    }
}

fn wants_gzip(req: &HttpRequest) -> bool {
    accepts_gzip_in(
        req.headers()
            .get_all(header::ACCEPT_ENCODING)
            .filter_map(|v| v.to_str().ok()),
    )
}

/// The rendered HTML as sent: gzipped when the client accepts it.
fn encode(body: String, gzip: bool) -> Result<Vec<u8>, ApiError> {
    if !gzip {
        return Ok(body.into_bytes());
    }
    let mut encoder = GzEncoder::new(Vec::with_capacity(body.len() / 8), Compression::fast());
    encoder
        .write_all(body.as_bytes())
        .and_then(|_| encoder.finish())
        .map_err(|e| ApiError::Internal(format!("compressing the status page: {e}")))
}

/// A `text/html` answer with a body from [`encode`].
fn html(body: Vec<u8>, gzip: bool) -> HttpResponse {
    let mut response = HttpResponse::Ok();
    response.insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"));
    if gzip {
        response.insert_header((header::CONTENT_ENCODING, "gzip"));
    }
    response.body(body)
}
