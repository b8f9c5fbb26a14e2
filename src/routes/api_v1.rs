//! The JSON API under `P/api/v1/`: its mount, its own router, and its thin handlers.
//!
//! Upstream mounts a second httprouter on Go's ServeMux at `P/api/v1/` behind
//! `http.StripPrefix`, without the body decoding of the main router (spec §1.1, §1.3). The
//! visible consequences are reproduced here: `P/api/v1` redirects to `P/api/v1/`, the router
//! sees the path without `P/api/v1` (so its trailing-slash redirects lose the prefix), and only
//! the API's own handlers add CORS headers, never its 404 and 405 answers (spec §1.4, §5.1).
//! The documents themselves are built by [`crate::api`].

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use super::instrument;
use super::{lifecycle, router_answer, AppState};
use crate::api;
use crate::config::Config;
use crate::router::{escape_path, percent_decode, PatternError, Resolution, Router};

/// What a route of the API router does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiRoute {
    /// `OPTIONS /*path`: the CORS answer.
    Options,
    Status,
    Metrics,
    /// `PUT /admin/wipe`, routed only with `--web.enable-admin-api`.
    Wipe,
    /// `GET /history`: the pushed history (not in upstream).
    History,
}

/// Upstream's API router; patterns are relative to the `P/api/v1` mount.
pub fn route_table(config: &Config) -> Result<Router<ApiRoute>, PatternError> {
    let mut r = Router::new();
    r.add("OPTIONS", "/*path", ApiRoute::Options)?;
    r.add("GET", "/status", ApiRoute::Status)?;
    r.add("GET", "/metrics", ApiRoute::Metrics)?;
    r.add("GET", "/history", ApiRoute::History)?;
    if config.enable_admin_api {
        r.add("PUT", "/admin/wipe", ApiRoute::Wipe)?;
    }
    Ok(r)
}

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

/// Where a request stands relative to the `P/api/v1/` mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mount {
    /// Not under the mount: the main router handles it.
    Outside,
    /// Exactly `P/api/v1`: ServeMux redirects (301) to this path with a slash.
    AddSlash(String),
    /// Under the mount, but `StripPrefix` cannot strip the prefix from the raw path.
    NotFound,
    /// Under the mount: the path the API router sees.
    Inside(String),
}

/// ServeMux's match of the mount pattern `P/api/v1/`, then `StripPrefix("P/api/v1")`.
///
/// ServeMux compares the escaped path segment by segment, unescaping each segment, so
/// `/api/v%31/status` is under the mount; `StripPrefix` then trims both the decoded path and,
/// when the raw path is not the default escaping of it, the raw path, and answers 404 when
/// either does not start with the prefix.
pub fn mount(raw_path: &str, decoded_path: &str, prefix: &str) -> Mount {
    let strip = format!("{prefix}/api/v1");
    let mount_segments: Vec<&str> = strip.split('/').skip(1).collect();
    let Some(raw_rest) = raw_path.strip_prefix('/') else {
        return Mount::Outside;
    };
    let raw_segments: Vec<&str> = raw_rest.split('/').collect();
    if raw_segments.len() < mount_segments.len() {
        return Mount::Outside;
    }
    let segments_match = mount_segments
        .iter()
        .zip(&raw_segments)
        .all(|(want, got)| percent_decode(got).is_ok_and(|d| d == want.as_bytes()));
    if !segments_match {
        return Mount::Outside;
    }
    if raw_segments.len() == mount_segments.len() {
        return Mount::AddSlash(format!("{raw_path}/"));
    }
    let raw_is_default_escaping = escape_path(decoded_path) == raw_path;
    match decoded_path.strip_prefix(&strip) {
        Some(rest) if raw_is_default_escaping || raw_path.starts_with(&strip) => {
            Mount::Inside(rest.to_string())
        }
        _ => Mount::NotFound,
    }
}

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
        },
    );
    route
}

/// Answers a request under the API mount; `None` when the path is outside it.
pub async fn dispatch(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    raw_path: &str,
    decoded_path: &str,
) -> Option<HttpResponse> {
    let path = match mount(raw_path, decoded_path, &state.config.route_prefix) {
        Mount::Outside => return None,
        Mount::AddSlash(location) => return Some(add_slash_redirect(req, location)),
        Mount::NotFound => return Some(router_answer::<ApiRoute>(req, Resolution::NotFound)),
        Mount::Inside(path) => path,
    };
    let answer = match state.api_router.resolve(req.method().as_str(), &path) {
        Resolution::Matched { value, .. } => match counted(req, value) {
            ApiRoute::Options => with_cors(HttpResponse::Ok()).finish(),
            ApiRoute::Status => status(state),
            ApiRoute::Metrics => metrics(state).await,
            ApiRoute::Wipe => lifecycle::wipe(req, state).await,
            ApiRoute::History => history(req, state).await,
        },
        other => router_answer(req, other),
    };
    Some(answer)
}

/// ServeMux's redirect from `P/api/v1` to `P/api/v1/`: 301, query kept, and Go's small HTML
/// body for GET and HEAD only.
fn add_slash_redirect(req: &HttpRequest, mut location: String) -> HttpResponse {
    if let Some(q) = req.uri().query().filter(|q| !q.is_empty()) {
        location = format!("{location}?{q}");
    }
    let mut response = HttpResponse::MovedPermanently();
    response.insert_header((header::LOCATION, location.clone()));
    if matches!(req.method().as_str(), "GET" | "HEAD") {
        response
            .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
            .body(format!(
                "<a href=\"{}\">Moved Permanently</a>.\n\n",
                super::html_escape(&location)
            ))
    } else {
        response.finish()
    }
}

fn with_cors(mut builder: actix_web::HttpResponseBuilder) -> actix_web::HttpResponseBuilder {
    for (name, value) in CORS_HEADERS {
        builder.insert_header((name, value));
    }
    builder
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
        &api::build_information(),
        state.start_time,
        &jiff::tz::TimeZone::system(),
    ))
}

/// GET `/api/v1/metrics`, from the cache. The groups are copied (cheap: families are shared)
/// so the cache lock is released before the document is built on a blocking thread.
async fn metrics(state: &web::Data<AppState>) -> HttpResponse {
    let groups: Vec<_> = state.gateway.cache().groups().cloned().collect();
    let built =
        web::block(move || api::metrics_document(&groups, &jiff::tz::TimeZone::system())).await;
    match built {
        Ok(body) => json(body),
        Err(e) => crate::error::ApiError::from(e).error_response_owned(),
    }
}

/// GET `/api/v1/history`: pushed history records, newest first, from the database.
async fn history(req: &HttpRequest, state: &web::Data<AppState>) -> HttpResponse {
    let query = match crate::history::parse_query(req.query_string()) {
        Ok(q) => q,
        Err(message) => {
            let body =
                serde_json::json!({"status": "error", "errorType": "bad_data", "error": message});
            return with_cors(HttpResponse::BadRequest())
                .insert_header((header::CONTENT_TYPE, "application/json"))
                .body(body.to_string());
        }
    };
    let gateway = state.gateway.clone();
    let rows = web::block(move || {
        let conn = gateway
            .pool()
            .get()
            .map_err(crate::store::StoreError::from)?;
        crate::store::history::query(&conn, &query)
            .map(|rows| (rows, query.limit))
            .map_err(crate::store::StoreError::from)
    })
    .await;
    match rows {
        Ok(Ok((rows, limit))) => json(crate::history::history_document(&rows, limit).into_bytes()),
        Ok(Err(e)) => crate::error::ApiError::from(e).error_response_owned(),
        Err(e) => crate::error::ApiError::from(e).error_response_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inside(p: &str) -> Mount {
        Mount::Inside(p.to_string())
    }

    #[test]
    fn paths_under_the_mount_lose_the_mount_prefix() {
        assert_eq!(
            mount("/api/v1/status", "/api/v1/status", ""),
            inside("/status")
        );
        assert_eq!(mount("/api/v1/", "/api/v1/", ""), inside("/"));
        assert_eq!(
            mount("/pg/api/v1/status/", "/pg/api/v1/status/", "/pg"),
            inside("/status/")
        );
    }

    #[test]
    fn the_bare_mount_path_is_redirected_to_it_with_a_slash() {
        assert_eq!(
            mount("/api/v1", "/api/v1", ""),
            Mount::AddSlash("/api/v1/".into())
        );
        assert_eq!(
            mount("/pg/api/v1", "/pg/api/v1", "/pg"),
            Mount::AddSlash("/pg/api/v1/".into())
        );
    }

    #[test]
    fn other_paths_are_outside_the_mount() {
        for (raw, prefix) in [
            ("/api/v2/status", ""),
            ("/api", ""),
            ("/API/v1/status", ""),
            ("/api/v1x/status", ""),
            ("/api/v1/status", "/pg"),
            ("/metrics", ""),
            ("/", ""),
        ] {
            assert_eq!(mount(raw, raw, prefix), Mount::Outside, "{raw} {prefix}");
        }
    }

    #[test]
    fn escaped_mount_segments_match_but_cannot_be_stripped() {
        assert_eq!(
            mount("/api/v%31/status", "/api/v1/status", ""),
            Mount::NotFound
        );
        // An encoded slash is part of one segment, so it does not match `api` then `v1`.
        assert_eq!(
            mount("/api%2Fv1/status", "/api/v1/status", ""),
            Mount::Outside
        );
        // Escapes after the mount are fine.
        assert_eq!(
            mount("/api/v1/st%61tus", "/api/v1/status", ""),
            inside("/status")
        );
    }
}
