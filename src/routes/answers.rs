//! The routers' own answers, as Go writes them: ServeMux's and httprouter's redirects, `404`,
//! `405` with `Allow`, and the automatic `OPTIONS` answer (decided in [`crate::routing`]).

use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse};

use crate::error::plain_text;
use crate::routing::httprouter::Resolution;
use crate::routing::path::percent_escape;
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
    let cleaned = escape_location(&cleaned);
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
pub(super) fn add_slash_redirect(req: &HttpRequest, location: String) -> HttpResponse {
    let mut location = escape_location(&location);
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
    let mut target = escape_location(&location);
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

/// A redirect's path as a browser must read it: every byte that may not appear in a URL path
/// (`\`, space, quotes, non-ASCII, ...) percent-escaped, as Go's `URL.String` writes it;
/// escapes already there (`%2F`) are kept. Without it `GET /\evil.com/./` would redirect to
/// `/\evil.com/`, which browsers follow to the host `evil.com`.
fn escape_location(path: &str) -> String {
    percent_escape(path, |b| {
        matches!(
            b,
            b'-' | b'_'
                | b'.'
                | b'~'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'@'
                | b'/'
                | b'%'
        )
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backslash_in_a_redirect_is_escaped_so_it_names_no_host() {
        assert_eq!(escape_location("/\\evil.com/"), "/%5Cevil.com/");
        assert_eq!(escape_location("/a b/\"é\"<>"), "/a%20b/%22%C3%A9%22%3C%3E");
    }

    #[test]
    fn escapes_and_path_characters_are_kept() {
        for path in [
            "/metrics/job/a%2Fb",
            "/api/v1/",
            "/-/healthy",
            "/a@b!$&'()*+,;=:~",
        ] {
            assert_eq!(escape_location(path), path);
        }
    }
}
