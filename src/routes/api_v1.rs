//! The JSON API's thin handlers under `P/api/v1/`.
//!
//! Upstream mounts a second httprouter on Go's ServeMux at `P/api/v1/` behind
//! `http.StripPrefix`, without the body decoding of the main router (upstream's main.go; the
//! mount is [`crate::routing::servemux::mount`]). Only the API's own handlers add CORS
//! headers, never its router's 404 and 405 answers (upstream's api/v1/api.go). The documents
//! themselves are built by [`crate::api`].

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use super::answers::router_answer;
use super::{blocking, instrument, lifecycle, AppState};
use crate::api;
use crate::error::ApiError;
use crate::routing::httprouter::Resolution;
use crate::routing::ApiRoute;

/// Headers every API handler (not the router's own answers) sets.
const CORS_HEADERS: [(&str, &str); 5] = [
    (
        "Access-Control-Allow-Headers",
        "Accept, Authorization, Content-Type, Origin",
    ),
    ("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS"),
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Expose-Headers", "Date"),
    ("Cache-Control", "no-cache, no-store, must-revalidate"),
];

/// Notes the `handler` label the request is counted under (upstream's names).
fn counted(req: &HttpRequest, route: ApiRoute) -> ApiRoute {
    instrument::count_as(
        req,
        match route {
            ApiRoute::Options => "api/v1/options",
            ApiRoute::Status => "api/v1/status",
            ApiRoute::Metrics => "api/v1/metrics",
            ApiRoute::Wipe => "wipe",
            ApiRoute::History => "api/v1/history",
            ApiRoute::DeleteGroups => "api/v1/admin/delete_groups",
            ApiRoute::HistorySeries => "api/v1/history/series",
        },
    );
    route
}

/// Answers a request the API router resolved.
pub(super) async fn dispatch(
    req: &HttpRequest,
    payload: &mut web::Payload,
    state: &web::Data<AppState>,
    resolution: Resolution<ApiRoute>,
) -> Result<HttpResponse, ApiError> {
    let Resolution::Matched { value, .. } = resolution else {
        return Ok(router_answer(req, resolution));
    };
    match counted(req, value) {
        ApiRoute::Options => Ok(with_cors(HttpResponse::Ok()).finish()),
        ApiRoute::Status => Ok(status(state)),
        ApiRoute::Metrics => metrics(state).await,
        ApiRoute::Wipe => lifecycle::wipe(req, state).await,
        ApiRoute::History => history(req, state).await.map(without_cors),
        ApiRoute::DeleteGroups => super::delete_groups::delete_groups(req, payload, state)
            .await
            .map(without_cors),
        ApiRoute::HistorySeries => history_series(req, state).await.map(without_cors),
    }
}

fn with_cors(mut builder: actix_web::HttpResponseBuilder) -> actix_web::HttpResponseBuilder {
    for (name, value) in CORS_HEADERS {
        builder.insert_header((name, value));
    }
    builder
}

/// The history's answer without the CORS headers the rest of the API sends: it lists client
/// addresses, user names and error texts, which no other site's page may read, even with
/// authentication off (the history is not in upstream, so no client relies on CORS there).
fn without_cors(mut response: HttpResponse) -> HttpResponse {
    for (name, _) in CORS_HEADERS {
        if name.starts_with("Access-Control-") {
            response.headers_mut().remove(name);
        }
    }
    response
}

fn json(body: Vec<u8>) -> HttpResponse {
    with_cors(HttpResponse::Ok())
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .body(body)
}

/// GET `/api/v1/status`.
fn status(state: &AppState) -> HttpResponse {
    json(api::status_document(
        &state.config.flags,
        &crate::version::build_information(),
        state.start_time,
        &jiff::tz::TimeZone::system(),
    ))
}

/// GET `/api/v1/metrics`, from the cache. The groups are copied (cheap: families are shared)
/// so the cache lock is released before the document is built on a blocking thread.
async fn metrics(state: &web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let groups: Vec<_> = state.gateway.cache().groups().cloned().collect();
    let body = blocking(move || {
        Ok::<_, ApiError>(api::metrics_document(
            &groups,
            &jiff::tz::TimeZone::system(),
        ))
    })
    .await?;
    Ok(json(body))
}

/// GET `/api/v1/history`: pushed history records, newest first, from the database.
async fn history(req: &HttpRequest, state: &web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let query = match api::history::parse_query(req.query_string()) {
        Ok(q) => q,
        Err(message) => return Ok(bad_data(message)),
    };
    let gateway = state.gateway.clone();
    let limit = query.limit;
    let records = blocking(move || gateway.history(&query)).await?;
    Ok(json(
        api::history::history_document(&records, limit).into_bytes(),
    ))
}

/// A 400 answer naming what was wrong with the request's parameters.
fn bad_data(message: String) -> HttpResponse {
    let body = serde_json::json!({"status": "error", "errorType": "bad_data", "error": message});
    with_cors(HttpResponse::BadRequest())
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .body(body.to_string())
}

/// GET `/api/v1/history/series`: a group's pushed values over time, from the database. Like
/// the history, it carries error texts, so other sites' pages get no CORS access.
async fn history_series(
    req: &HttpRequest,
    state: &web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let query = match api::series::parse_query(req.query_string(), state.config.names) {
        Ok(q) => q,
        Err(message) => return Ok(bad_data(message)),
    };
    let gateway = state.gateway.clone();
    let body = blocking(move || {
        gateway
            .history_series(&query)
            .map(|answer| api::series::series_document(&query, &answer))
    })
    .await?;
    Ok(json(body.into_bytes()))
}
