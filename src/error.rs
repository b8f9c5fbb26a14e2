//! The HTTP layer's error type and its one mapping to status codes and bodies.
//!
//! Client errors carry upstream's message as the body (plain text, newline-terminated, as Go's
//! `http.Error` writes it). A database that cannot take the change answers with what is wrong
//! (503 `database is locked`, 507 `disk full`, ...), logged once per outage
//! ([`DatabaseOutage`]). Other server errors answer an opaque body; the cause goes to the log.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

use crate::gateway::{GatewayError, Unavailable};
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
    /// The database cannot take the change now (locked, full, failing); nothing changed.
    /// `detail` is SQLite's message, for the log.
    Unavailable { what: Unavailable, detail: String },
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
            ApiError::Unavailable { what, .. } => f.write_str(what.cause()),
            ApiError::Internal(m) => write!(f, "internal error: {m}"),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) | ApiError::Inconsistent(_) => StatusCode::BAD_REQUEST,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unavailable { what, .. } => match what {
                Unavailable::Locked | Unavailable::Busy => StatusCode::SERVICE_UNAVAILABLE,
                Unavailable::DiskFull => StatusCode::INSUFFICIENT_STORAGE,
                Unavailable::Io | Unavailable::ReadOnly => StatusCode::INTERNAL_SERVER_ERROR,
            },
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
        let mut response = plain_text(self.status_code(), format!("{body}\n"));
        if let ApiError::Unavailable { what, detail } = self {
            if matches!(what, Unavailable::Locked | Unavailable::Busy) {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            // Logged by the outage tracker, once per outage rather than once per request.
            response.extensions_mut().insert(Outage {
                what: *what,
                detail: detail.clone(),
            });
        }
        response
    }
}

/// A database failure an answer reports, attached to the answer for [`DatabaseOutage`].
#[derive(Debug, Clone)]
struct Outage {
    what: Unavailable,
    detail: String,
}

/// Marks an answer as the outcome of a change (or probe) the database committed: the end of
/// an outage, if one was going on.
#[derive(Debug, Clone, Copy)]
struct Committed;

/// Marks `response` as reporting a committed change or a successful write probe.
pub(crate) fn committed(mut response: HttpResponse) -> HttpResponse {
    response.extensions_mut().insert(Committed);
    response
}

/// Logs database outages once each: the first failing answer logs the cause at error level,
/// later ones of the same kind are counted, and the next committed change logs the recovery.
#[derive(Debug, Default)]
pub(crate) struct DatabaseOutage {
    /// The outage going on, and how many answers it failed.
    current: std::sync::Mutex<Option<(Unavailable, u64)>>,
}

impl DatabaseOutage {
    /// Notes what `response` says about the database.
    pub(crate) fn observe(&self, response: &HttpResponse) {
        let extensions = response.extensions();
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(outage) = extensions.get::<Outage>() {
            match current.as_mut() {
                Some((what, failed)) if *what == outage.what => *failed += 1,
                _ => {
                    log::error!(
                        "database unavailable: {} ({}); changes are refused until it recovers",
                        outage.what.cause(),
                        outage.detail
                    );
                    *current = Some((outage.what, 1));
                }
            }
        } else if extensions.get::<Committed>().is_some() {
            if let Some((what, failed)) = current.take() {
                log::warn!(
                    "database available again after {} ({failed} answers failed)",
                    what.cause()
                );
            }
        }
    }

    /// The outage going on, if any.
    pub(crate) fn current(&self) -> Option<Unavailable> {
        self.current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .map(|(what, _)| what)
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
            GatewayError::Refused(m) => ApiError::BadRequest(m),
            GatewayError::Store(e) => match e.unavailable() {
                Some(what) => ApiError::Unavailable {
                    what,
                    detail: e.to_string(),
                },
                None => ApiError::Internal(e.to_string()),
            },
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

#[cfg(test)]
mod tests {
    use super::*;

    fn unavailable(what: Unavailable) -> ApiError {
        ApiError::Unavailable {
            what,
            detail: "database: database is locked".into(),
        }
    }

    #[actix_web::test]
    async fn each_outage_has_its_status_and_names_its_cause() {
        for (what, status, body) in [
            (Unavailable::Locked, 503, "database is locked\n"),
            (Unavailable::Busy, 503, "database is busy\n"),
            (Unavailable::DiskFull, 507, "disk full\n"),
            (Unavailable::Io, 500, "database I/O error\n"),
            (Unavailable::ReadOnly, 500, "database is read-only\n"),
        ] {
            let response = unavailable(what).error_response();
            assert_eq!(response.status().as_u16(), status, "{what:?}");
            let bytes = actix_web::body::to_bytes(response.into_body())
                .await
                .unwrap();
            assert_eq!(bytes, body.as_bytes(), "{what:?}");
        }
    }

    #[test]
    fn an_outage_is_current_until_a_change_is_committed() {
        let outage = DatabaseOutage::default();
        assert_eq!(outage.current(), None);
        outage.observe(&unavailable(Unavailable::Locked).error_response());
        outage.observe(&unavailable(Unavailable::Locked).error_response());
        assert_eq!(outage.current(), Some(Unavailable::Locked));
        // An answer that committed nothing (a 400, a scrape) ends nothing.
        outage.observe(&plain_text(StatusCode::BAD_REQUEST, "bad\n"));
        assert_eq!(outage.current(), Some(Unavailable::Locked));
        outage.observe(&unavailable(Unavailable::DiskFull).error_response());
        assert_eq!(outage.current(), Some(Unavailable::DiskFull));
        outage.observe(&committed(HttpResponse::Ok().finish()));
        assert_eq!(outage.current(), None);
    }
}
