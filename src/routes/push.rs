//! PUT, POST and DELETE on `/metrics/job/<job>{/<label>/<value>}`: grouping key, body,
//! then the gateway; the answer is sent only after the change is committed.
//!
//! A refused request logs one line at error level: who (the client's address), what (method
//! and grouping key, or the path when the key itself is invalid) and why (the 400's text).

use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::http::{header, Method};
use actix_web::{web, HttpRequest, HttpResponse};

use super::AppState;
use crate::error::ApiError;
use crate::gateway::PushMethod;
use crate::grouping_key::GroupingKey;
use crate::limits;
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
            let group = GroupingKey::from_path(job, base64_job, labels, state.config.names)
                .map(|key| key.to_string())
                .unwrap_or_else(|_| req.uri().path().to_string());
            log::error!("{}", rejection_line(&client(req), req.method(), &group, &e));
        }
        actix_web::ResponseError::error_response(&e)
    })
}

/// The log line of a refused push or delete.
fn rejection_line(client: &str, method: &Method, group: &str, reason: &ApiError) -> String {
    let what = if method == Method::DELETE {
        "delete"
    } else {
        "push"
    };
    format!("{what} rejected: client={client} method={method} group={group} reason={reason}")
}

/// The client's address (`ip:port`) as the connection shows it.
pub fn client(req: &HttpRequest) -> String {
    req.peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|| "unknown".to_string())
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
    if let Some(max) = state.config.limits.max_series_per_push {
        limits::check_series_per_push(&families, max).map_err(ApiError::BadRequest)?;
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rejection_line_says_who_pushed_what_and_why() {
        let line = rejection_line(
            "127.0.0.1:5000",
            &Method::PUT,
            "{job=\"a\"}",
            &ApiError::Inconsistent("two\nlines".into()),
        );
        assert_eq!(
            line,
            "push rejected: client=127.0.0.1:5000 method=PUT group={job=\"a\"} reason=pushed metrics are invalid or inconsistent with existing metrics: two\nlines"
        );
        let line = rejection_line(
            "c",
            &Method::DELETE,
            "g",
            &ApiError::BadRequest("bad".into()),
        );
        assert!(line.starts_with("delete rejected: "), "{line}");
    }
}
