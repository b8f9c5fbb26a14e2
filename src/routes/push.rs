//! PUT, POST and DELETE on `/metrics/job/<job>{/<label>/<value>}`: grouping key, body,
//! then the gateway; the answer is sent only after the change is committed.

use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::http::{header, Method};
use actix_web::{web, HttpRequest, HttpResponse};

use super::AppState;
use crate::error::ApiError;
use crate::gateway::PushMethod;
use crate::grouping_key::GroupingKey;
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
    let result = if req.method() == Method::DELETE {
        delete(state, job, base64_job, labels).await
    } else {
        let method = if req.method() == Method::PUT {
            PushMethod::Replace
        } else {
            PushMethod::Merge
        };
        push(req, state, method, job, base64_job, labels, body).await
    };
    result.unwrap_or_else(|e| {
        if let ApiError::Inconsistent(_) | ApiError::BadRequest(_) = &e {
            let peer = req
                .peer_addr()
                .map(|a| a.ip().to_string())
                .unwrap_or_default();
            log::error!(
                "{} {} from {peer} rejected: {e}",
                req.method(),
                req.uri().path()
            );
        }
        actix_web::ResponseError::error_response(&e)
    })
}

async fn push(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    method: PushMethod,
    job: &str,
    base64_job: bool,
    labels: &str,
    body: Vec<u8>,
) -> Result<HttpResponse, ApiError> {
    let key = GroupingKey::from_path(job, base64_job, labels, state.config.names)?;
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let families = parse_body(content_type, &body, state.config.names)?;
    let now = now_ns();
    let gateway = state.gateway.clone();
    web::block(move || gateway.push(&key, method, families, now)).await??;
    Ok(if state.config.disable_consistency_check {
        HttpResponse::Accepted().finish()
    } else {
        HttpResponse::Ok().finish()
    })
}

async fn delete(
    state: &web::Data<AppState>,
    job: &str,
    base64_job: bool,
    labels: &str,
) -> Result<HttpResponse, ApiError> {
    let key = GroupingKey::from_path(job, base64_job, labels, state.config.names)?;
    let gateway = state.gateway.clone();
    web::block(move || gateway.delete(&key)).await??;
    Ok(HttpResponse::Accepted().finish())
}

/// The request time as upstream records it: Unix nanoseconds.
pub fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}
