//! `/-/healthy` and `/-/ready`. Before the cache is warm, [`super::readiness`] answers every
//! route but `/-/healthy` (`/-/ready` included) with 503, so reaching this handler means ready;
//! once ready, the gateway is healthy while the database still takes writes.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};

use super::AppState;
use crate::error::plain_text;
use crate::store::probe_writable;

/// Upstream's answer: 200, body `OK`.
pub fn ok() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("OK")
}

/// `/-/healthy`: [`ok`] when a write transaction can be committed now, else 500.
pub async fn healthy(state: &web::Data<AppState>) -> HttpResponse {
    let state = state.clone();
    let probe = web::block(move || -> Result<(), String> {
        let mut conn = state.gateway.pool().get().map_err(|e| e.to_string())?;
        probe_writable(&mut conn).map_err(|e| e.to_string())
    })
    .await
    .unwrap_or_else(|e| Err(e.to_string()));
    health_answer(probe)
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
