//! `/-/healthy` and `/-/ready`. Before the cache is warm, [`super::readiness`] answers every
//! route but `/-/healthy` (`/-/ready` included) with 503, so reaching this handler means ready.

use actix_web::HttpResponse;

/// Upstream's answer: 200, body `OK`.
pub fn ok() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("OK")
}
