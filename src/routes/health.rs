//! `/-/healthy` and `/-/ready`. Before the cache is warm, [`super::readiness`] answers every
//! route but `/-/healthy` (`/-/ready` included) with 503, so reaching this handler means ready;
//! once ready, the gateway is healthy while the database still takes writes, and says why
//! not when it does not.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse, ResponseError};

use super::{blocking, AppState};
use crate::error::{committed, plain_text, ApiError};
use crate::gateway::Unavailable;

/// Upstream's answer: 200, body `OK`.
pub(super) fn ok() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("OK")
}

/// `/-/healthy`: [`ok`] when a write transaction can be committed now. A database that is
/// locked, full or failing is named with the status a change would get (503 `database is
/// locked`, 507 `disk full`, ...); any other failure is a 500.
///
/// A small probe can pass on a disk too full for a push, or past a failing sector: after a
/// change failed with `disk full` or an I/O error, that is the answer until a change commits
/// again. A lock, once the probe gets it, is over.
pub(super) async fn healthy(state: &web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let gateway = state.gateway.clone();
    let probe = blocking(move || Ok::<_, ApiError>(gateway.probe_writable())).await?;
    Ok(health_answer(
        probe.map_err(ApiError::from),
        state.outage.current(),
    ))
}

/// The answer for a write probe's outcome, given the outage a failed change reported.
fn health_answer(probe: Result<(), ApiError>, outage: Option<Unavailable>) -> HttpResponse {
    match (probe, outage) {
        (Ok(()), Some(what @ (Unavailable::DiskFull | Unavailable::Io))) => ApiError::Unavailable {
            what,
            detail: "the last change failed; a write probe passed".into(),
        }
        .error_response(),
        (Ok(()), _) => committed(ok()),
        (Err(e @ ApiError::Unavailable { .. }), _) => e.error_response(),
        (Err(cause), _) => {
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

    fn unavailable(what: Unavailable) -> ApiError {
        ApiError::Unavailable {
            what,
            detail: "database: x".into(),
        }
    }

    #[test]
    fn a_failed_write_probe_names_the_outage_or_is_a_500() {
        let r = health_answer(Err(ApiError::Internal("attempt to write".into())), None);
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let r = health_answer(Err(unavailable(Unavailable::Locked)), None);
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(health_answer(Ok(()), None).status(), StatusCode::OK);
    }

    #[test]
    fn a_full_disk_stays_unhealthy_until_a_change_commits_but_a_lock_does_not() {
        let r = health_answer(Ok(()), Some(Unavailable::DiskFull));
        assert_eq!(r.status(), StatusCode::INSUFFICIENT_STORAGE);
        let r = health_answer(Ok(()), Some(Unavailable::Io));
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let r = health_answer(Ok(()), Some(Unavailable::Locked));
        assert_eq!(r.status(), StatusCode::OK);
    }
}
