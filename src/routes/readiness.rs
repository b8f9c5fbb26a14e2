//! Serving before the cache is warm. Start-up binds the listeners first and loads the database
//! into the cache in the background (a large database takes seconds), so an orchestrator sees
//! a live process at once. Until the cache is complete only `/-/healthy` answers 200; every other
//! request, `/-/ready` included, gets 503: a push applied to a cold cache would be checked
//! against groups not loaded yet, and a scrape would be incomplete.
//!
//! The shared [`AppState`] (and so the gateway) only exists once warming finishes: no handler
//! can reach a cold cache, whatever route it serves.

use std::sync::OnceLock;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::{body, dispatch, health, AppState};
use crate::config::Config;
use crate::limits::Limits;
use crate::routing::httprouter::{PatternError, Resolution};
use crate::routing::{Route, Routes};

/// The application state, set once when the cache is warm.
pub(crate) struct Readiness {
    app: OnceLock<web::Data<AppState>>,
    /// The route tables, used before warming only to recognise `/-/healthy`.
    routes: Routes,
    /// The body limits, to finish a request's body on HTTP/2 whatever the answer.
    limits: Limits,
}

impl std::fmt::Debug for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Readiness")
            .field("ready", &self.is_ready())
            .finish_non_exhaustive()
    }
}

impl Readiness {
    /// Not ready yet. Builds the route table, so a bad route prefix fails before binding.
    pub(crate) fn new(config: &Config) -> Result<Readiness, PatternError> {
        Ok(Readiness {
            app: OnceLock::new(),
            routes: Routes::new(config)?,
            limits: config.limits,
        })
    }

    /// Every route is served from now on.
    pub(crate) fn set_ready(&self, state: AppState) {
        let _ = self.app.set(web::Data::new(state));
    }

    /// Whether the cache is warm.
    pub(crate) fn is_ready(&self) -> bool {
        self.app.get().is_some()
    }
}

/// The entry point of every request: [`dispatch`] once ready, the start-up answers before.
/// On HTTP/2 the rest of an unread body is read before the answer goes
/// ([`body::discard_rest`]), unless it is the 408 for a body that stopped arriving.
pub(crate) async fn serve(
    req: HttpRequest,
    mut payload: web::Payload,
    readiness: web::Data<Readiness>,
) -> HttpResponse {
    let version = req.version();
    let response = match readiness.app.get() {
        Some(state) => dispatch(req, &mut payload, state.clone()).await,
        None => match readiness
            .routes
            .resolve_main(req.method().as_str(), req.uri().path())
        {
            Resolution::Matched {
                value: Route::Healthy,
                ..
            } => health::ok(),
            _ => starting(),
        },
    };
    // A body that timed out will not arrive now.
    if response.status() != StatusCode::REQUEST_TIMEOUT {
        body::discard_rest(version, &mut payload, &readiness.limits).await;
    }
    response
}

/// 503 while the database is loading; pushers retry (every push route is idempotent).
fn starting() -> HttpResponse {
    HttpResponse::build(StatusCode::SERVICE_UNAVAILABLE)
        .content_type("text/plain; charset=utf-8")
        .insert_header(("Retry-After", "1"))
        .body("Service Unavailable: the gateway is loading its database\n")
}
