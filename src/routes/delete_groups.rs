//! `POST P/api/v1/admin/delete_groups` (`--web.enable-admin-api`): delete the groups that
//! series selectors over grouping labels name, or with `dry_run=true` list them. Parameters
//! and answer are [`crate::api::delete_groups`]'s; the delete is one change of the writer
//! ([`crate::gateway::Gateway::delete_groups`]), so it is one transaction.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use super::body::read_body;
use super::sender::{client, history_request};
use super::{blocking, AppState};
use crate::api::delete_groups::{asks_dry_run, deleted_document, error_document, parse_request};
use crate::clock::now_ns;
use crate::error::{committed, ApiError};
use crate::gateway::GatewayError;

/// The handler; a request refused as it stands is a 400 with Prometheus's error document, and
/// (unless it asked for a dry run) recorded in the history as rejected.
pub(super) async fn delete_groups(
    req: &HttpRequest,
    payload: &mut web::Payload,
    state: &web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body = match read_body(req, payload, &state.config.limits).await {
        Ok(body) => body,
        Err(response) => return Ok(response),
    };
    let mut request = history_request(req, body.len());
    request.method = "DELETE_GROUPS".to_string();
    let now = now_ns();
    let form = if is_form(req) {
        match String::from_utf8(body) {
            Ok(form) => form,
            Err(_) => return Ok(bad_data("the form body is not UTF-8")),
        }
    } else {
        String::new()
    };
    // Parsing many selectors, and a dry run's pass over every group, are CPU work in
    // proportion to the request and the store: on the blocking pool.
    let (query, params) = (req.query_string().to_string(), form.clone());
    let parsed = blocking(move || Ok::<_, ApiError>(parse_request(&query, &params))).await?;
    let parsed = match parsed {
        Ok(parsed) => parsed,
        Err(message) => {
            if !asks_dry_run(req.query_string(), &form) {
                record_refusal(state, request, now, &message).await;
            }
            return Ok(bad_data(&message));
        }
    };
    let dry_run = parsed.dry_run;
    let selected = if dry_run {
        let gateway = state.gateway.clone();
        blocking(move || Ok::<_, ApiError>(gateway.select_groups(&parsed.query))).await?
    } else {
        state
            .gateway
            .delete_groups(parsed.query, now, request.clone())
            .await
    };
    let groups = match selected {
        Ok(groups) => groups,
        Err(GatewayError::Refused(message)) => {
            if !dry_run {
                record_refusal(state, request, now, &message).await;
            }
            return Ok(bad_data(&message));
        }
        Err(e) => return Err(e.into()),
    };
    if !dry_run {
        log::info!(
            "deleted {} groups via the admin API: client={} selector={}",
            groups.len(),
            client(req),
            form_or_query_selector(req.query_string(), &form)
        );
    }
    let body = deleted_document(dry_run, &groups, &jiff::tz::TimeZone::system());
    let response = HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .body(body);
    Ok(if dry_run {
        response
    } else {
        committed(response)
    })
}

/// Whether the body is a form (`application/x-www-form-urlencoded`), as Go's `ParseForm`
/// reads it; any other body is ignored.
fn is_form(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// The request's parameters as sent, for the log line.
fn form_or_query_selector(query: &str, form: &str) -> String {
    [query, form]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("&")
}

fn bad_data(message: &str) -> HttpResponse {
    HttpResponse::BadRequest()
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .body(error_document(message))
}

async fn record_refusal(
    state: &web::Data<AppState>,
    request: crate::history::Request,
    now: i64,
    message: &str,
) {
    log::error!(
        "delete_groups rejected: client={} reason={message}",
        request.client_address.as_deref().unwrap_or("unknown")
    );
    let recorded = state
        .gateway
        .record_rejected(None, now, request, 400, message.to_string())
        .await;
    if let Err(e) = recorded {
        log::error!("recording a rejected delete_groups in the history: {e}");
    }
}
