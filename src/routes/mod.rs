//! Request dispatch: upstream's routing answers, then the handler of the matched route.
//!
//! Upstream routes with Go's ServeMux in front of httprouter; clients see its exact answers
//! (path-cleaning redirects, 404/405 with `Allow`, automatic OPTIONS, trailing-slash and
//! case-fixing redirects). [`crate::router`] reproduces them, so every request enters through
//! [`dispatch`] and is handed to one of the handlers below.

mod api_v1;
mod health;
mod instrument;
mod lifecycle;
mod metrics;
mod push;
mod readiness;
mod static_files;
mod status;

pub use readiness::{serve, Readiness};

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use actix_web::dev::ServerHandle;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;

use crate::config::Config;
use crate::error::plain_text;
use crate::gateway::Gateway;
use crate::limits::body_too_large;
use crate::parse::encoding::{decode_body, BodyDecodeError};
use crate::router::{
    clean_path, percent_decode, PatternError, Resolution, Router, CLEAN_PATH_REDIRECT_STATUS,
};
use crate::self_metrics::SelfMetrics;

/// What a matched route does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Healthy,
    Ready,
    Metrics,
    /// PUT, POST or DELETE of a group; `base64_job` for the `job@base64` form.
    Group {
        base64_job: bool,
    },
    Quit,
    /// `GET /-/quit`, unprefixed whatever the route prefix, as upstream.
    QuitGet,
    /// `GET P/` and `GET P/status`: the status page.
    Status,
    /// `GET P/status/group/job@base64/…`: one group's families for the status page.
    StatusGroup,
    /// `GET P/static/*filepath`: the status page's assets.
    Static,
}

/// State shared by every worker.
pub struct AppState {
    pub gateway: Arc<Gateway>,
    pub config: Config,
    pub self_metrics: SelfMetrics,
    router: Router<Route>,
    /// The router behind the `P/api/v1/` mount.
    api_router: Router<api_v1::ApiRoute>,
    /// When the gateway started (the JSON API's `start_time`).
    pub start_time: jiff::Timestamp,
    /// Set once the server runs, so `/-/quit` can stop it.
    pub server: Arc<OnceLock<ServerHandle>>,
    /// A quit was requested; a second one is refused.
    pub quitting: AtomicBool,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Builds the route table for the configured prefix; a prefix that cannot form a route
    /// pattern is an error.
    pub fn new(
        gateway: Arc<Gateway>,
        config: Config,
        server: Arc<OnceLock<ServerHandle>>,
    ) -> Result<AppState, PatternError> {
        Ok(AppState {
            router: route_table(&config)?,
            api_router: api_v1::route_table(&config)?,
            start_time: jiff::Timestamp::now(),
            gateway,
            config,
            self_metrics: SelfMetrics::new(),
            server,
            quitting: AtomicBool::new(false),
        })
    }
}

/// Upstream's route table (main router) under the route prefix.
fn route_table(config: &Config) -> Result<Router<Route>, PatternError> {
    let p = &config.route_prefix;
    let mut r = Router::new();
    r.add("GET", &format!("{p}/-/healthy"), Route::Healthy)?;
    r.add("GET", &format!("{p}/-/ready"), Route::Ready)?;
    r.add("GET", &config.telemetry_path, Route::Metrics)?;
    for (segment, base64_job) in [("job", false), ("job@base64", true)] {
        for method in ["PUT", "POST", "DELETE"] {
            let route = Route::Group { base64_job };
            r.add(method, &format!("{p}/metrics/{segment}/:job"), route)?;
            r.add(
                method,
                &format!("{p}/metrics/{segment}/:job/*labels"),
                route,
            )?;
        }
    }
    r.add("PUT", &format!("{p}/-/quit"), Route::Quit)?;
    r.add("POST", &format!("{p}/-/quit"), Route::Quit)?;
    r.add("GET", "/-/quit", Route::QuitGet)?;
    r.add("GET", &format!("{p}/"), Route::Status)?;
    r.add("GET", &format!("{p}/status"), Route::Status)?;
    r.add(
        "GET",
        &format!("{p}/status/group/*path"),
        Route::StatusGroup,
    )?;
    r.add("GET", &format!("{p}/static/*filepath"), Route::Static)?;
    Ok(r)
}

/// The one entry point for every request: routes it, then records it as upstream's
/// instrumentation would ([`instrument`]).
pub async fn dispatch(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let started = Instant::now();
    let response = route_request(req.clone(), payload, state.clone()).await;
    instrument::record(&req, &state.self_metrics.http, started, &response);
    response
}

/// Upstream's routing answers, or the matched route's handler.
async fn route_request(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let raw_path = req.uri().path();
    if let Some(cleaned) = clean_path(raw_path) {
        let location = match req.uri().query() {
            Some(q) => format!("{cleaned}?{q}"),
            None => cleaned,
        };
        let status = StatusCode::from_u16(CLEAN_PATH_REDIRECT_STATUS)
            .unwrap_or(StatusCode::TEMPORARY_REDIRECT);
        return HttpResponse::build(status)
            .insert_header((header::LOCATION, location))
            .finish();
    }
    let Ok(decoded) = percent_decode(raw_path) else {
        return HttpResponse::BadRequest()
            .insert_header((header::CONNECTION, "close"))
            .body("400 Bad Request");
    };
    let Ok(path) = String::from_utf8(decoded) else {
        return plain_text(
            StatusCode::BAD_REQUEST,
            "URL path is not valid UTF-8 after percent-decoding\n",
        );
    };
    if let Some(answer) = api_v1::dispatch(&req, &state, raw_path, &path).await {
        return answer;
    }
    let limit = state.config.limits.max_body_bytes;
    let body = match read_body(&req, payload, limit).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let resolution = state.router.resolve(req.method().as_str(), &path);
    // Upstream undoes the Content-Encoding of every request before routing. Group routes do it
    // themselves so that a push whose body cannot be decoded is recorded in the history.
    if !matches!(
        resolution,
        Resolution::Matched {
            value: Route::Group { .. },
            ..
        }
    ) {
        if let Err(e) = decode_request_body(&req, &body, limit) {
            return decode_error_response(&req, e);
        }
    }
    match resolution {
        Resolution::Matched { value, params } => match instrument::matched(&req, value) {
            Route::Healthy => health::healthy(&state).await,
            Route::Ready => health::ok(),
            Route::Metrics => metrics::metrics(&req, &state).await,
            Route::Group { base64_job } => {
                let job = params.get("job").unwrap_or_default();
                let labels = params.get("labels").unwrap_or_default();
                push::group(&req, &state, job, base64_job, labels, body).await
            }
            Route::Quit => lifecycle::quit(&state),
            Route::QuitGet => lifecycle::quit_get(),
            Route::Status => status::page(&req, &state).await,
            Route::StatusGroup => {
                status::group(&req, &state, params.get("path").unwrap_or_default()).await
            }
            Route::Static => static_files::serve(params.get("filepath").unwrap_or_default()),
        },
        other => router_answer(&req, other),
    }
}

/// The router's own answers (redirect, 405, automatic OPTIONS, 404) for both routers.
fn router_answer<T>(req: &HttpRequest, resolution: Resolution<T>) -> HttpResponse {
    match resolution {
        Resolution::Redirect { status, location } => redirect(req, status, location),
        Resolution::MethodNotAllowed { allow } => HttpResponse::MethodNotAllowed()
            .insert_header((header::ALLOW, allow))
            .insert_header((header::CONTENT_TYPE, "text/plain; charset=utf-8"))
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .body("Method Not Allowed\n"),
        Resolution::Options { allow } => HttpResponse::Ok()
            .insert_header((header::ALLOW, allow))
            .finish(),
        // A match is the caller's to handle; it never reaches here.
        Resolution::NotFound | Resolution::Matched { .. } => {
            plain_text(StatusCode::NOT_FOUND, "404 page not found\n")
        }
    }
}

/// Reads the whole body as sent. With `--push.max-body-bytes`, a body over the limit
/// (declared or read) is a 413, and reading stops there.
async fn read_body(
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
pub fn decode_request_body<'a>(
    req: &HttpRequest,
    raw: &'a [u8],
    limit: Option<usize>,
) -> Result<std::borrow::Cow<'a, [u8]>, BodyDecodeError> {
    let encoding = req
        .headers()
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok());
    decode_body(encoding, raw, limit)
}

/// The answer to a body that cannot be decoded: 413 over the size limit, else 400.
pub fn decode_error_response(req: &HttpRequest, e: BodyDecodeError) -> HttpResponse {
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
        push::client(req),
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

/// httprouter's redirects: 301 with a small HTML body for GET, 307 without one otherwise.
fn redirect(req: &HttpRequest, status: u16, location: String) -> HttpResponse {
    let mut target = location;
    if let Some(q) = req.uri().query() {
        target = format!("{target}?{q}");
    }
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::TEMPORARY_REDIRECT);
    let mut response = HttpResponse::build(status);
    response.insert_header((header::LOCATION, target.clone()));
    if status == StatusCode::MOVED_PERMANENTLY {
        response
            .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
            .body(format!(
                "<a href=\"{}\">Moved Permanently</a>.\n\n",
                html_escape(&target)
            ))
    } else {
        response.finish()
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}
