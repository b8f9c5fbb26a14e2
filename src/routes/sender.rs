//! Who sent a request, as the log and the pushed history record it.

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
