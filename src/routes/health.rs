//! `/-/healthy` and `/-/ready`. Before the cache is warm, [`super::readiness`] answers every
//! route but `/-/healthy` (`/-/ready` included) with 503, so reaching this handler means ready;
//! once ready, the gateway is healthy while the database still takes writes.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};

use super::{blocking, AppState};
use crate::error::{plain_text, ApiError};

/// Upstream's answer: 200, body `OK`.
pub(super) fn ok() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("OK")
}

/// `/-/healthy`: [`ok`] when a write transaction can be committed now, else 500.
pub(super) async fn healthy(state: &web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let gateway = state.gateway.clone();
    let probe = blocking(move || Ok::<_, ApiError>(gateway.probe_writable())).await?;
    Ok(health_answer(probe.map_err(|e| e.to_string())))
}

/// The answer for a write probe's outcome; the cause goes to the log, not to the client.
fn health_answer(probe: Result<(), String>) -> HttpResponse {
    match probe {
        Ok(()) => ok(),
        Err(cause) => {
            log::warn!("unhealthy: the database cannot be written: {cause}");
            plain_text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "database is not writable\n",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_probe_is_a_500_with_a_short_reason() {
        let r = health_answer(Err("attempt to write a readonly database".into()));
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(health_answer(Ok(())).status(), StatusCode::OK);
    }
}
