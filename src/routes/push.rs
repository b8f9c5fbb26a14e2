//! PUT, POST and DELETE on `/metrics/job/<job>{/<label>/<value>}`: grouping key, body,
//! then the gateway; the answer is sent only after the change is committed. Every request,
//! accepted or not, ends up in the pushed history.

use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::http::{header, Method};
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse, ResponseError};

use super::{decode_request_body, AppState};
use crate::error::ApiError;
use crate::gateway::PushMethod;
use crate::grouping_key::GroupingKey;
use crate::history::Request;
use crate::parse::parse_body;

/// Handles one request on a group route.
pub async fn group(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    job: &str,
    base64_job: bool,
    labels: &str,
    body: Vec<u8>,
) -> HttpResponse {
    let request = history_request(req, body.len());
    let now = now_ns();
    let key = GroupingKey::from_path(job, base64_job, labels, state.config.names);
    let result = match (&key, req.method()) {
        (Err(e), _) => Err(ApiError::BadRequest(e.to_string())),
        (Ok(key), &Method::DELETE) => delete(state, key.clone(), now, request.clone()).await,
        (Ok(key), method) => {
            let method = if method == Method::PUT {
                PushMethod::Replace
            } else {
                PushMethod::Merge
            };
            push(req, state, method, key.clone(), &body, now, request.clone()).await
        }
    };
    let Err(e) = result else {
        return result.unwrap_or_else(|e| e.error_response());
    };
    let key = key.ok();
    if let ApiError::BadRequest(message) | ApiError::Inconsistent(message) = &e {
        log::error!(
            "{} {} from {} rejected: {message}",
            request.method,
            key.as_ref()
                .map(|k| k.to_string())
                .unwrap_or_else(|| request.path.clone()),
            request.client_address.as_deref().unwrap_or("unknown"),
        );
    }
    if let ApiError::BadRequest(message) = &e {
        // Refused before the store saw it: record it on its own.
        let gateway = state.gateway.clone();
        let message = message.clone();
        let recorded =
            web::block(move || gateway.record_rejected(key.as_ref(), now, &request, 400, &message))
                .await;
        if let Ok(Err(err)) | Err(err) = recorded.map_err(crate::store::StoreError::from_blocking) {
            log::error!("recording a rejected push in the history: {err}");
        }
    }
    e.error_response()
}

async fn push(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    method: PushMethod,
    key: GroupingKey,
    raw_body: &[u8],
    now: i64,
    request: Request,
) -> Result<HttpResponse, ApiError> {
    let body =
        decode_request_body(req, raw_body).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let families = parse_body(content_type, &body, state.config.names)?;
    let gateway = state.gateway.clone();
    web::block(move || gateway.push(&key, method, families, now, &request)).await??;
    Ok(if state.config.disable_consistency_check {
        HttpResponse::Accepted().finish()
    } else {
        HttpResponse::Ok().finish()
    })
}

async fn delete(
    state: &web::Data<AppState>,
    key: GroupingKey,
    now: i64,
    request: Request,
) -> Result<HttpResponse, ApiError> {
    let gateway = state.gateway.clone();
    web::block(move || gateway.delete(&key, now, &request)).await??;
    Ok(HttpResponse::Accepted().finish())
}

/// What the history records about the sender of a request.
pub fn history_request(req: &HttpRequest, body_bytes: usize) -> Request {
    Request {
        method: req.method().as_str().to_string(),
        path: req.uri().path().to_string(),
        client_address: req.peer_addr().map(|a| a.ip().to_string()),
        user: req
            .extensions()
            .get::<crate::history::AuthenticatedUser>()
            .map(|u| u.0.clone()),
        body_bytes,
    }
}

/// The request time as upstream records it: Unix nanoseconds.
pub fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}
