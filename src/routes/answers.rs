//! The routers' own answers, as Go writes them: ServeMux's and httprouter's redirects, `404`,
//! `405` with `Allow`, and the automatic `OPTIONS` answer (decided in [`crate::routing`]).

use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse};

use crate::error::plain_text;
use crate::routing::httprouter::Resolution;
use crate::routing::servemux::CLEAN_PATH_REDIRECT_STATUS;

/// httprouter's answers other than a match (a match is the caller's to handle).
pub(super) fn router_answer<T>(req: &HttpRequest, resolution: Resolution<T>) -> HttpResponse {
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
        Resolution::NotFound | Resolution::Matched { .. } => not_found(),
    }
}

/// Go's `404 page not found`.
pub(super) fn not_found() -> HttpResponse {
    plain_text(StatusCode::NOT_FOUND, "404 page not found\n")
}

/// ServeMux's redirect to the cleaned path, query kept.
pub(super) fn clean_path_redirect(req: &HttpRequest, cleaned: String) -> HttpResponse {
    let location = match req.uri().query() {
        Some(q) => format!("{cleaned}?{q}"),
        None => cleaned,
    };
    let status =
        StatusCode::from_u16(CLEAN_PATH_REDIRECT_STATUS).unwrap_or(StatusCode::TEMPORARY_REDIRECT);
    HttpResponse::build(status)
        .insert_header((header::LOCATION, location))
        .finish()
}

/// Go's server on a malformed `%` escape: `400 Bad Request`, connection closed.
pub(super) fn malformed_escape() -> HttpResponse {
    HttpResponse::BadRequest()
        .insert_header((header::CONNECTION, "close"))
        .body("400 Bad Request")
}

/// ServeMux's redirect from `P/api/v1` to `P/api/v1/`: 301, query kept, and Go's small HTML
/// body for GET and HEAD only.
pub(super) fn add_slash_redirect(req: &HttpRequest, mut location: String) -> HttpResponse {
    if let Some(q) = req.uri().query().filter(|q| !q.is_empty()) {
        location = format!("{location}?{q}");
    }
    let mut response = HttpResponse::MovedPermanently();
    response.insert_header((header::LOCATION, location.clone()));
    if matches!(req.method().as_str(), "GET" | "HEAD") {
        response
            .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
            .body(moved_permanently_body(&location))
    } else {
        response.finish()
    }
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
            .body(moved_permanently_body(&target))
    } else {
        response.finish()
    }
}

/// Go's `http.Redirect` body for a GET: a link to the new location.
fn moved_permanently_body(location: &str) -> String {
    format!(
        "<a href=\"{}\">Moved Permanently</a>.\n\n",
        html_escape(location)
    )
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}
