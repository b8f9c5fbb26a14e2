//! The HTTP layer's error type and its one mapping to status codes and bodies.
//!
//! Client errors carry upstream's message as the body (plain text, newline-terminated, as Go's
//! `http.Error` writes it). Server errors answer an opaque body; the cause goes to the log.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

use crate::gateway::GatewayError;
use crate::grouping_key::GroupingKeyError;
use crate::parse::ParseError;

/// Everything a handler can fail with.
#[derive(Debug)]
pub enum ApiError {
    /// The request is malformed: bad grouping key, unparsable body.
    BadRequest(String),
    /// The push was understood but refused by the consistency check.
    Inconsistent(String),
    /// The body is larger than `--push.max-body-bytes` once decoded.
    TooLarge(String),
    /// Something broke on our side; the message is for the log only.
    Internal(String),
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::BadRequest(m) | ApiError::TooLarge(m) => f.write_str(m),
            ApiError::Inconsistent(m) => write!(
                f,
                "pushed metrics are invalid or inconsistent with existing metrics: {m}"
            ),
            ApiError::Internal(m) => write!(f, "internal error: {m}"),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) | ApiError::Inconsistent(_) => StatusCode::BAD_REQUEST,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let body = match self {
            ApiError::Internal(m) => {
                log::error!("{m}");
                "Internal Server Error".to_string()
            }
            other => other.to_string(),
        };
        plain_text(self.status_code(), format!("{body}\n"))
    }
}

/// A `text/plain` answer with upstream's headers for error bodies.
pub fn plain_text(status: StatusCode, body: impl Into<String>) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, "text/plain; charset=utf-8"))
        .insert_header((
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .body(body.into())
}

impl From<GroupingKeyError> for ApiError {
    fn from(e: GroupingKeyError) -> Self {
        ApiError::BadRequest(e.to_string())
    }
}

impl From<ParseError> for ApiError {
    fn from(e: ParseError) -> Self {
        ApiError::BadRequest(e.to_string())
    }
}

impl From<GatewayError> for ApiError {
    fn from(e: GatewayError) -> Self {
        match e {
            GatewayError::Rejected(m) => ApiError::Inconsistent(m),
            GatewayError::Limit(m) => ApiError::BadRequest(m),
            GatewayError::Store(e) => ApiError::Internal(e.to_string()),
            e @ GatewayError::NoAnswer => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        ApiError::Internal(format!("blocking task failed: {e}"))
    }
}

impl From<askama::Error> for ApiError {
    fn from(e: askama::Error) -> Self {
        ApiError::Internal(format!("rendering a page: {e}"))
    }
}
