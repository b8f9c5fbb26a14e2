//! Who sent a request and when, as the log and the pushed history record it.

use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::{HttpMessage, HttpRequest};

use crate::history::Request;
use crate::web_config::AuthenticatedUser;

/// The client's address (`ip:port`) as the connection shows it.
pub(super) fn client(req: &HttpRequest) -> String {
    req.peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|| "unknown".to_string())
}

/// What the history records about the sender of a request.
pub(super) fn history_request(req: &HttpRequest, body_bytes: usize) -> Request {
    Request {
        method: req.method().as_str().to_string(),
        path: req.uri().path().to_string(),
        client_address: req.peer_addr().map(|a| a.ip().to_string()),
        user: req
            .extensions()
            .get::<AuthenticatedUser>()
            .map(|u| u.0.clone()),
        body_bytes,
    }
}

/// The request time as upstream records it: Unix nanoseconds.
pub(super) fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}
