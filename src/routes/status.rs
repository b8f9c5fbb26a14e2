//! The status page: `GET P/` and `GET P/status` (the page), `GET P/status/group/job@base64/…`
//! (one group's families as an HTML fragment). Views and templates live in
//! [`crate::status_page`].

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use jiff::tz::TimeZone;

use super::{blocking, wants_gzip, AppState, Body};
use crate::error::{plain_text, ApiError};
use crate::history::HistoryQuery;
use crate::status_page::families::{GroupFamilies, PushView};
use crate::status_page::{parse_group_path, StatusPage};

/// How many of a group's latest pushes the opened group shows.
const RECENT_PUSHES: u32 = 10;

const HTML: &str = "text/html; charset=utf-8";

/// The page. Rendered off the async workers: with many groups it takes milliseconds.
pub(super) async fn page(
    req: &HttpRequest,
    state: &web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let gzip = wants_gzip(req);
    let state = state.clone();
    let body = blocking(move || {
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
        Body::encode(page.render()?.into_bytes(), gzip)
    })
    .await?;
    Ok(body.respond(HTML))
}

/// The families of the group at `path` (the route's catch-all, the group's
/// [`to_base64_path`](crate::grouping_key::GroupingKey::to_base64_path)); 400 when it names
/// no valid group, 404 when no such group exists (any more).
pub(super) async fn group(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    path: &str,
) -> Result<HttpResponse, ApiError> {
    let Some(key) = parse_group_path(path, state.config.names) else {
        return Ok(plain_text(
            StatusCode::BAD_REQUEST,
            "expected a group path /job@base64/<job>{/<name>@base64/<value>}\n",
        ));
    };
    let gzip = wants_gzip(req);
    let state = state.clone();
    let body = blocking(move || {
        let tz = TimeZone::system();
        let mut view = {
            let cache = state.gateway.cache();
            let Some(group) = cache.group(&key.upstream_key()) else {
                return Ok(None);
            };
            GroupFamilies::new(group, state.config.names, &tz)
        };
        // The group's latest pushes come from the history; a failure only leaves them out.
        let query = HistoryQuery {
            grouping_key: Some(key.canonical()),
            limit: RECENT_PUSHES,
            ..Default::default()
        };
        match state.gateway.history(&query) {
            Ok(records) => view.recent = records.iter().map(|r| PushView::new(r, &tz)).collect(),
            Err(e) => log::warn!("reading the recent pushes of a group: {e}"),
        }
        Body::encode(view.render()?.into_bytes(), gzip).map(Some)
    })
    .await?;
    Ok(match body {
        Some(body) => body.respond(HTML),
        None => plain_text(StatusCode::NOT_FOUND, "group not found\n"),
    })
}
