//! The HTTP handlers, thin: each turns a request into a call on the gateway (or a document
//! built from the cache) and its answer. Every request enters through [`dispatch`], which asks
//! [`crate::routing`] where it goes; handlers return `Result<HttpResponse, ApiError>` and the
//! one mapping of errors to answers is [`crate::error`]'s.

mod answers;
mod api_v1;
mod body;
mod delete_groups;
mod health;
mod instrument;
mod lifecycle;
mod metrics;
mod push;
mod readiness;
mod sender;
mod static_files;
mod status;

pub(crate) use body::discard_rest;
pub(crate) use readiness::{serve, Readiness};

use std::io::Write;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use actix_web::dev::ServerHandle;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use flate2::write::GzEncoder;
use flate2::Compression;
use tokio::sync::Semaphore;

use crate::config::Config;
use crate::error::{plain_text, ApiError, DatabaseOutage};
use crate::exposition::gzip::GzipCache;
use crate::exposition::negotiate::accepts_gzip_in;
use crate::gateway::Gateway;
use crate::metrics::SelfMetrics;
use crate::routing::httprouter::{PatternError, Resolution};
use crate::routing::{Route, Routed, Routes};

/// State shared by every worker.
pub(crate) struct AppState {
    pub(crate) gateway: Arc<Gateway>,
    /// Turns to decode, parse and prepare a push: at most one per core at once, so hostile
    /// pushes neither take every blocking thread (scrapes render there) nor multiply the
    /// memory a push needs while it is prepared.
    pub(crate) preparations: Semaphore,
    /// Database outages, logged once each.
    pub(crate) outage: DatabaseOutage,
    pub(crate) config: Config,
    pub(crate) self_metrics: SelfMetrics,
    /// `/metrics` compressed in segments, kept from scrape to scrape.
    pub(crate) gzip: GzipCache,
    routes: Routes,
    /// When the gateway started (the JSON API's `start_time`).
    pub(crate) start_time: jiff::Timestamp,
    /// Set once the server runs, so `/-/quit` can stop it.
    pub(crate) server: Arc<OnceLock<ServerHandle>>,
    /// A quit was requested; a second one is refused.
    pub(crate) quitting: AtomicBool,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Builds the route tables for the configured prefix; a prefix that cannot form a route
    /// pattern is an error.
    pub(crate) fn new(
        gateway: Arc<Gateway>,
        config: Config,
        server: Arc<OnceLock<ServerHandle>>,
    ) -> Result<AppState, PatternError> {
        Ok(AppState {
            routes: Routes::new(&config)?,
            preparations: Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            ),
            outage: DatabaseOutage::default(),
            start_time: jiff::Timestamp::now(),
            gateway,
            config,
            self_metrics: SelfMetrics::new(),
            gzip: GzipCache::new(),
            server,
            quitting: AtomicBool::new(false),
        })
    }
}

/// The one entry point for every request once the gateway is ready: routes it, then records
/// it as upstream's instrumentation would ([`instrument`]). The caller keeps the body stream,
/// to finish it on HTTP/2 ([`body::discard_rest`]).
pub(crate) async fn dispatch(
    req: HttpRequest,
    payload: &mut web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let started = Instant::now();
    let response = route_request(&req, payload, &state)
        .await
        .unwrap_or_else(|e| e.error_response());
    state.outage.observe(&response);
    instrument::record(&req, &state.self_metrics.http, started, &response);
    response
}

/// Upstream's routing answers, or the matched route's handler.
async fn route_request(
    req: &HttpRequest,
    payload: &mut web::Payload,
    state: &web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let resolution = match state
        .routes
        .resolve(req.method().as_str(), req.uri().path())
    {
        Routed::CleanPath(cleaned) => return Ok(answers::clean_path_redirect(req, cleaned)),
        Routed::MalformedEscape => return Ok(answers::malformed_escape()),
        Routed::NotUtf8 => {
            return Ok(plain_text(
                StatusCode::BAD_REQUEST,
                "URL path is not valid UTF-8 after percent-decoding\n",
            ))
        }
        Routed::ApiAddSlash(location) => return Ok(answers::add_slash_redirect(req, location)),
        // Go's 301 from ServeMux, as for the API mount's missing slash.
        Routed::EncodedSlashRedirect(location) => {
            return Ok(answers::add_slash_redirect(req, location))
        }
        Routed::ApiNotFound => return Ok(answers::not_found()),
        Routed::Api(resolution) => return api_v1::dispatch(req, payload, state, resolution).await,
        Routed::Main(resolution) => resolution,
    };
    let body = match body::read_body(req, payload, &state.config.limits).await {
        Ok(body) => body,
        Err(response) => return Ok(response),
    };
    let Resolution::Matched { value, params } = resolution else {
        // Upstream undoes the Content-Encoding of every request before routing.
        if let Err(e) = body::check_request_encoding(req, &body) {
            return Ok(body::decode_error_response(req, e));
        }
        return Ok(answers::router_answer(req, resolution));
    };
    // Group routes undo the Content-Encoding themselves, off the async workers and so that a
    // push whose body cannot be decoded is recorded in the history.
    if !matches!(value, Route::Group { .. }) {
        if let Err(e) = body::check_request_encoding(req, &body) {
            return Ok(body::decode_error_response(req, e));
        }
    }
    let param = |name| params.get(name).unwrap_or_default();
    match instrument::matched(req, value) {
        Route::Healthy => health::healthy(state).await,
        Route::Ready => Ok(health::ok()),
        Route::Metrics => metrics::metrics(req, state).await,
        Route::Group { base64_job } => {
            Ok(push::group(req, state, param("job"), base64_job, param("labels"), body).await)
        }
        Route::Quit => Ok(lifecycle::quit(state)),
        Route::QuitGet => Ok(lifecycle::quit_get()),
        Route::Status => status::page(req, state).await,
        Route::StatusGroup => status::group(req, state, param("path")).await,
        Route::Static => Ok(static_files::serve(param("filepath"))),
    }
}

/// Runs `work` on the blocking pool (SQL, rendering, compression: nothing slow runs on the
/// async workers) and turns its failure, or the pool's, into an [`ApiError`].
async fn blocking<T, E>(work: impl FnOnce() -> Result<T, E> + Send + 'static) -> Result<T, ApiError>
where
    T: Send + 'static,
    E: Into<ApiError> + Send + 'static,
{
    web::block(work).await?.map_err(Into::into)
}

/// Whether the client accepts a gzipped answer.
fn wants_gzip(req: &HttpRequest) -> bool {
    accepts_gzip_in(
        req.headers()
            .get_all(header::ACCEPT_ENCODING)
            .filter_map(|v| v.to_str().ok()),
    )
}

/// An answer's body as sent: gzipped when the client accepts it. Built on the blocking pool
/// ([`Body::encode`]), sent with [`Body::respond`].
struct Body {
    bytes: Vec<u8>,
    gzip: bool,
}

impl Body {
    /// `bytes`, gzipped when `gzip` (at the fastest level: large scrapes are CPU-bound on
    /// compression).
    fn encode(bytes: Vec<u8>, gzip: bool) -> Result<Body, ApiError> {
        if !gzip {
            return Ok(Body { bytes, gzip });
        }
        let mut encoder = GzEncoder::new(Vec::with_capacity(bytes.len() / 8), Compression::fast());
        encoder
            .write_all(&bytes)
            .and_then(|_| encoder.finish())
            .map(|bytes| Body { bytes, gzip })
            .map_err(|e| ApiError::Internal(format!("compressing an answer: {e}")))
    }

    /// A 200 with this body as `content_type`.
    fn respond(self, content_type: &str) -> HttpResponse {
        let mut response = HttpResponse::Ok();
        response.insert_header((header::CONTENT_TYPE, content_type.to_string()));
        if self.gzip {
            response.insert_header((header::CONTENT_ENCODING, "gzip"));
        }
        response.body(self.bytes)
    }
}
