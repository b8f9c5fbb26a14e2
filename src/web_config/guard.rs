//! The middleware in front of every route: rate limit, extra headers and basic auth, in
//! exporter-toolkit's order (a rate-limited request is refused before anything else; the
//! extra headers are on every other answer, 401 included). A login that finds the bcrypt
//! queue full is answered 429 ([`super::auth`]).
//!
//! A refusal is a complete answer on HTTP/2 too: the request's body is read (and discarded)
//! first, as [`crate::routes::discard_rest`] explains.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::web;

use super::auth::{parse_authorization, BasicAuth, Verdict};
use crate::error::plain_text;
use crate::limits::Limits;
use crate::routes::discard_rest;
use actix_web::{HttpMessage, HttpResponse};

/// The user a request authenticated as, put into the request's extensions by [`guard`] for
/// the pushed history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AuthenticatedUser(pub(crate) String);

/// What the middleware enforces; registered as app data, shared by every worker.
#[derive(Debug, Default)]
pub struct HttpGuard {
    pub(super) headers: Vec<(HeaderName, HeaderValue)>,
    pub(super) auth: Option<Arc<BasicAuth>>,
    pub(super) limiter: Option<RateLimiter>,
    /// The body limits, to read a refused request's body on HTTP/2.
    pub(super) body_limits: Limits,
}

/// What the guard decided about a request.
enum Decision {
    /// Let it through, as this user (with basic auth).
    Pass(Option<String>),
    Unauthorized,
    /// The bcrypt queue is full.
    Busy,
}

impl HttpGuard {
    fn add_headers(&self, headers: &mut actix_web::http::header::HeaderMap) {
        for (name, value) in &self.headers {
            headers.insert(name.clone(), value.clone());
        }
    }

    /// Sets the body limits used when a refused request's body is read on HTTP/2.
    pub fn with_body_limits(mut self, limits: Limits) -> HttpGuard {
        self.body_limits = limits;
        self
    }

    /// Whether the request may pass, and as whom.
    async fn authorized(&self, req: &ServiceRequest) -> Decision {
        let Some(auth) = &self.auth else {
            return Decision::Pass(None);
        };
        let Some(credentials) = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|h| parse_authorization(h.as_bytes()))
        else {
            return Decision::Unauthorized;
        };
        let user = String::from_utf8_lossy(&credentials.user).into_owned();
        match auth.check(credentials).await {
            Verdict::Valid => Decision::Pass(Some(user)),
            Verdict::Invalid => Decision::Unauthorized,
            Verdict::Busy => Decision::Busy,
        }
    }

    /// The refusal `resp` for `req`, once its body is read on HTTP/2.
    async fn refuse<B>(
        &self,
        mut req: ServiceRequest,
        resp: HttpResponse,
    ) -> ServiceResponse<EitherBody<B>> {
        let mut payload = req.take_payload();
        discard_rest(req.version(), &mut payload, &self.body_limits).await;
        req.into_response(resp).map_into_right_body()
    }
}

/// exporter-toolkit's `rate_limit`: a token bucket of `burst` tokens refilled one per
/// `interval`; a request finding it empty is answered 429.
#[derive(Debug)]
pub struct RateLimiter {
    interval: Duration,
    burst: f64,
    /// Tokens left and when they were counted.
    bucket: Mutex<(f64, Instant)>,
}

impl RateLimiter {
    pub fn new(interval: Duration, burst: u64) -> RateLimiter {
        RateLimiter {
            interval,
            burst: burst as f64,
            bucket: Mutex::new((burst as f64, Instant::now())),
        }
    }

    /// Takes a token if one is left.
    pub fn allow(&self) -> bool {
        let Ok(mut bucket) = self.bucket.lock() else {
            return false;
        };
        let now = Instant::now();
        let refill = now.duration_since(bucket.1).as_secs_f64() / self.interval.as_secs_f64();
        bucket.0 = (bucket.0 + refill).min(self.burst);
        bucket.1 = now;
        if bucket.0 >= 1.0 {
            bucket.0 -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The middleware function, wired with `actix_web::middleware::from_fn`. It reads the
/// [`HttpGuard`] from the app data; without one it refuses every request rather than serve
/// unprotected.
pub async fn guard<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    let Some(guard) = req.app_data::<web::Data<HttpGuard>>().cloned() else {
        log::error!("web configuration missing from the application");
        let resp = plain_text(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error\n");
        return Ok(req.into_response(resp).map_into_right_body());
    };
    if let Some(limiter) = &guard.limiter {
        if !limiter.allow() {
            let resp = plain_text(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests\n");
            return Ok(guard.refuse(req, resp).await);
        }
    }
    let user = match guard.authorized(&req).await {
        Decision::Pass(user) => user,
        Decision::Unauthorized => {
            let mut resp = plain_text(StatusCode::UNAUTHORIZED, "Unauthorized\n");
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic"));
            guard.add_headers(resp.headers_mut());
            return Ok(guard.refuse(req, resp).await);
        }
        Decision::Busy => {
            let mut resp = plain_text(
                StatusCode::TOO_MANY_REQUESTS,
                "Too Many Requests: too many logins are being checked, try again\n",
            );
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            guard.add_headers(resp.headers_mut());
            return Ok(guard.refuse(req, resp).await);
        }
    };
    if let Some(user) = user {
        // The pushed history records who pushed.
        req.extensions_mut().insert(AuthenticatedUser(user));
    }
    let mut res = next.call(req).await?;
    guard.add_headers(res.headers_mut());
    Ok(res.map_into_left_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_limiter_allows_a_burst_then_refuses() {
        let l = RateLimiter::new(Duration::from_secs(3600), 2);
        assert!(l.allow());
        assert!(l.allow());
        assert!(!l.allow());
    }

    #[test]
    fn the_rate_limiter_refills_over_time() {
        let l = RateLimiter::new(Duration::from_millis(1), 1);
        assert!(l.allow());
        std::thread::sleep(Duration::from_millis(5));
        assert!(l.allow());
    }

    #[test]
    fn a_zero_burst_refuses_everything() {
        let l = RateLimiter::new(Duration::from_millis(1), 0);
        assert!(!l.allow());
    }
}
