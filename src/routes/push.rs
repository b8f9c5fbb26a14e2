//! PUT, POST and DELETE on `/metrics/job/<job>{/<label>/<value>}`: grouping key, body,
//! then the gateway; the answer is sent only after the change is committed. Every request,
//! accepted or not, ends up in the pushed history.
//!
//! A refused request logs one line at error level: who (the client's address), what (method
//! and grouping key, or the path when the key itself is invalid) and why (the 400's text).

use actix_web::http::{header, Method};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};

use super::body::content_encoding;
use super::sender::{client, history_request};
use super::{blocking, AppState};
use crate::clock::now_ns;
use crate::error::{committed, ApiError};
use crate::gateway::PushMethod;
use crate::grouping_key::GroupingKey;
use crate::history::Request;
use crate::lifetime::{self, lifetime_from_header};
use crate::limits;
use crate::parse::encoding::{decode_body, BodyDecodeError};
use crate::parse::parse_body;
use crate::routing::encoded_slash;

/// Plain bodies up to this size are prepared without waiting for a turn: at most a
/// millisecond or so of work each.
const SMALL_PUSH_BYTES: usize = 64 << 10;

/// Handles one request on a group route.
pub(super) async fn group(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    job: &str,
    base64_job: bool,
    labels: &str,
    body: Vec<u8>,
) -> HttpResponse {
    let request = history_request(req, body.len());
    let now = now_ns();
    let names = state.config.names;
    let key = match encoded_slash::refusal(req.uri().path(), job, base64_job, labels, names) {
        Some(message) => Err(message),
        None => GroupingKey::from_path(job, base64_job, labels, names).map_err(|e| e.to_string()),
    };
    let result = match (&key, req.method()) {
        (Err(e), _) => Err(ApiError::BadRequest(e.clone())),
        (Ok(key), &Method::DELETE) => delete(state, key.clone(), now, request.clone()).await,
        (Ok(key), method) => {
            let method = if method == Method::PUT {
                PushMethod::Replace
            } else {
                PushMethod::Merge
            };
            push(req, state, method, key.clone(), body, now, request.clone()).await
        }
    };
    let Err(e) = result else {
        return result.unwrap_or_else(|e| e.error_response());
    };
    let key = key.ok();
    if let ApiError::BadRequest(_) | ApiError::Inconsistent(_) | ApiError::TooLarge(_) = &e {
        let group = key
            .as_ref()
            .map(|k| k.to_string())
            .unwrap_or_else(|| request.path.clone());
        log::error!("{}", rejection_line(&client(req), req.method(), &group, &e));
    }
    if let ApiError::BadRequest(message) | ApiError::TooLarge(message) = &e {
        // Refused before the store saw it: record it on its own.
        let status = e.status_code().as_u16();
        let recorded = state
            .gateway
            .record_rejected(key, now, request, status, message.clone())
            .await;
        if let Err(err) = recorded {
            log::error!("recording a rejected push in the history: {err}");
        }
    }
    e.error_response()
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

async fn push(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    method: PushMethod,
    key: GroupingKey,
    raw_body: Vec<u8>,
    now: i64,
    request: Request,
) -> Result<HttpResponse, ApiError> {
    let encoding = content_encoding(req).map(str::to_owned);
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let caps = state.config.limits;
    let names = state.config.names;
    // Opt-in expiry: a bad lifetime refuses the push before anything else is looked at.
    let lifetime = lifetime_from_header(
        req.headers()
            .get_all(lifetime::HEADER)
            .map(|v| v.as_bytes()),
    )
    .map_err(ApiError::BadRequest)?;
    if let Some(max) = caps.max_grouping_labels {
        limits::check_grouping_labels(key.labels().len(), max).map_err(ApiError::BadRequest)?;
    }
    // Decoding, parsing and preparing are CPU work proportional to the body: large or encoded
    // bodies take one of a turn per core, on the blocking pool, and wait here without holding
    // a thread; small plain ones (bounded work, the usual push) never queue behind them.
    let turn = if raw_body.len() > SMALL_PUSH_BYTES || encoding.is_some() {
        let turn = state.preparations.acquire().await;
        Some(turn.map_err(|e| ApiError::Internal(format!("waiting to prepare a push: {e}")))?)
    } else {
        None
    };
    let gateway = state.gateway.clone();
    let prepared = blocking(move || {
        let body = decode_body(encoding.as_deref(), &raw_body, caps.max_body_bytes).map_err(
            |e| match e {
                BodyDecodeError::TooLarge { limit } => {
                    ApiError::TooLarge(limits::body_too_large(limit).trim_end().to_string())
                }
                e => ApiError::BadRequest(e.to_string()),
            },
        )?;
        let families = parse_body(
            content_type.as_deref(),
            &body,
            names,
            caps.max_series_per_push,
        )?;
        // The bytes are parsed: free them before the families are prepared.
        drop(body);
        drop(raw_body);
        Ok::<_, ApiError>(gateway.prepare_push(key, method, families, now, request, lifetime))
    })
    .await?;
    drop(turn);
    // Queued for the writer; the answer comes after the COMMIT that holds it.
    state.gateway.push(prepared).await?;
    Ok(committed(if state.config.disable_consistency_check {
        HttpResponse::Accepted().finish()
    } else {
        HttpResponse::Ok().finish()
    }))
}

async fn delete(
    state: &web::Data<AppState>,
    key: GroupingKey,
    now: i64,
    request: Request,
) -> Result<HttpResponse, ApiError> {
    state.gateway.delete(key, now, request).await?;
    Ok(committed(HttpResponse::Accepted().finish()))
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
