//! `/-/healthy` and `/-/ready`. The cache is warm before the listener opens, so a process
//! that answers at all is ready.

use actix_web::HttpResponse;

/// Upstream's answer: 200, body `OK`.
pub fn ok() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("OK")
}
