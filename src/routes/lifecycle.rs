//! Management actions: `/-/quit` (graceful shutdown, `--web.enable-lifecycle`) and the admin
//! wipe (`--web.enable-admin-api`).

use std::sync::atomic::Ordering;

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};

use super::sender::history_request;
use super::AppState;
use crate::clock::now_ns;
use crate::error::{committed, ApiError};

/// PUT or POST `/-/quit`: starts a graceful stop (in-flight requests finish) after answering.
pub(super) fn quit(state: &AppState) -> HttpResponse {
    if !state.config.enable_lifecycle {
        return HttpResponse::Forbidden()
            .content_type("text/plain; charset=utf-8")
            .body("Lifecycle API is not enabled.");
    }
    if state.quitting.swap(true, Ordering::SeqCst) {
        return HttpResponse::build(StatusCode::SERVICE_UNAVAILABLE)
            .content_type("text/plain; charset=utf-8")
            .body("Termination already requested.");
    }
    log::warn!("received termination request via web service, exiting gracefully");
    if let Some(handle) = state.server.get().cloned() {
        actix_web::rt::spawn(async move { handle.stop(true).await });
    }
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("Requesting termination... Goodbye!")
}

/// GET `/-/quit`: upstream's fixed 405, without an `Allow` header.
pub(super) fn quit_get() -> HttpResponse {
    HttpResponse::MethodNotAllowed()
        .content_type("text/plain; charset=utf-8")
        .body("Only POST or PUT requests allowed.")
}

/// PUT `/api/v1/admin/wipe`: deletes every group. Upstream answers 202 before the deletes
/// are applied; here they are committed first, so a following scrape is already empty.
pub(super) async fn wipe(
    req: &actix_web::HttpRequest,
    state: &web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut request = history_request(req, 0);
    request.method = "WIPE".to_string();
    let now = now_ns();
    let count = state.gateway.wipe(now, request).await?;
    log::info!("wiped {count} groups via the admin API");
    Ok(committed(HttpResponse::Accepted().finish()))
}
