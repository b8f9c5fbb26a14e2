//! Upstream's HTTP instrumentation per route: which matched routes count in
//! `pushgateway_http_requests_total` and under which `handler` name, and which feed the push
//! summaries. Scrapes, `/-/quit` and the router's own answers (404, 405, redirects,
//! automatic OPTIONS) are not counted, nor requests refused before routing (a body that
//! cannot be decoded or is over `--push.max-body-bytes`), as upstream counts only inside
//! its handlers.

use std::time::Instant;

use actix_web::http::Method;
use actix_web::{HttpMessage, HttpRequest, HttpResponse};

use crate::metrics::http::{approximate_request_size, HttpMetrics};
use crate::routing::Route;

/// The `handler` label of a route, `None` for routes upstream does not count. Extend this
/// when adding a route.
pub fn handler_name(route: Route, method: &Method) -> Option<&'static str> {
    match route {
        Route::Healthy => Some("healthy"),
        Route::Ready => Some("ready"),
        Route::Group { .. } if method == Method::DELETE => Some("delete"),
        Route::Group { .. } => Some("push"),
        // The group fragment is part of the status page (upstream has no such route).
        Route::Status | Route::StatusGroup => Some("status"),
        Route::Static => Some("static"),
        Route::Metrics | Route::Quit | Route::QuitGet => None,
    }
}

/// The `handler` label a request is counted under, noted on the request for [`record`].
#[derive(Debug, Clone, Copy)]
struct Counted(&'static str);

/// Notes on the request which main-router route matched, for [`record`]; returns the route.
pub fn matched(req: &HttpRequest, route: Route) -> Route {
    if let Some(handler) = handler_name(route, req.method()) {
        count_as(req, handler);
    }
    route
}

/// Notes that the request is counted under `handler` (routes outside the main router).
pub fn count_as(req: &HttpRequest, handler: &'static str) {
    req.extensions_mut().insert(Counted(handler));
}

/// Counts the answered request if its route is counted, and observes pushes (PUT and POST
/// of a group, whatever the answer) in the push summaries.
pub fn record(req: &HttpRequest, metrics: &HttpMetrics, started: Instant, response: &HttpResponse) {
    let Some(Counted(handler)) = req.extensions().get::<Counted>().copied() else {
        return;
    };
    metrics.count_request(handler, req.method(), response.status().as_u16());
    if handler == "push" {
        metrics.observe_push(
            req.method(),
            started.elapsed().as_secs_f64(),
            approximate_request_size(req),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_routes_count_as_push_or_delete_by_method() {
        let group = Route::Group { base64_job: false };
        assert_eq!(handler_name(group, &Method::PUT), Some("push"));
        assert_eq!(handler_name(group, &Method::POST), Some("push"));
        assert_eq!(handler_name(group, &Method::DELETE), Some("delete"));
    }

    #[test]
    fn scrapes_and_quit_are_not_counted() {
        assert_eq!(handler_name(Route::Metrics, &Method::GET), None);
        assert_eq!(handler_name(Route::Quit, &Method::PUT), None);
        assert_eq!(handler_name(Route::QuitGet, &Method::GET), None);
    }
}
