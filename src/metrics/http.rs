//! Upstream's HTTP instrumentation: `pushgateway_http_requests_total{code,handler,method}` and
//! the `pushgateway_http_push_duration_seconds` / `pushgateway_http_push_size_bytes` summaries.
//!
//! Which requests count, and under which handler name, is decided by the routes
//! ([`crate::routes`]); this module only keeps the numbers. As upstream's vectors, each family
//! has no series until its first observation, and so is absent from `/metrics` until then.

use std::collections::BTreeMap;
use std::sync::Mutex;

use actix_web::http::header::{self, HeaderMap};
use actix_web::http::{Method, Version};
use actix_web::HttpRequest;

use super::names::own_family;
use super::summary::{Summary, PUSH_OBJECTIVES};
use crate::proto::{Counter, LabelPair, Metric, MetricFamily};

/// Name of the request counter.
pub const REQUESTS_TOTAL: &str = "pushgateway_http_requests_total";
/// Name of the push duration summary.
pub const PUSH_DURATION: &str = "pushgateway_http_push_duration_seconds";
/// Name of the push size summary.
pub const PUSH_SIZE: &str = "pushgateway_http_push_size_bytes";

/// The request counter and the push summaries, shared by every worker.
#[derive(Debug, Default)]
pub struct HttpMetrics {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Requests by (code, handler, method): label values in label-name order, so the map's
    /// order is upstream's series order.
    requests: BTreeMap<(String, &'static str, &'static str), u64>,
    /// By method label.
    push_duration: BTreeMap<&'static str, Summary>,
    push_size: BTreeMap<&'static str, Summary>,
}

impl HttpMetrics {
    /// An empty set: no series yet.
    pub fn new() -> HttpMetrics {
        HttpMetrics::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts one request answered with `code` by `handler`.
    pub fn count_request(&self, handler: &'static str, method: &Method, code: u16) {
        let key = (code.to_string(), handler, method_label(method));
        *self.lock().requests.entry(key).or_insert(0) += 1;
    }

    /// Observes one request that reached the push handler: how long it took and its
    /// approximate size ([`approximate_request_size`]).
    pub fn observe_push(&self, method: &Method, seconds: f64, size_bytes: usize) {
        let method = method_label(method);
        let mut inner = self.lock();
        inner
            .push_duration
            .entry(method)
            .or_insert_with(|| Summary::new(PUSH_OBJECTIVES))
            .observe(seconds);
        inner
            .push_size
            .entry(method)
            .or_insert_with(|| Summary::new(PUSH_OBJECTIVES))
            .observe(size_bytes as f64);
    }

    /// The families that have series, sorted by name.
    pub fn gather(&self) -> Vec<MetricFamily> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let mut out = Vec::new();
        for (name, summaries) in [
            (PUSH_DURATION, &mut inner.push_duration),
            (PUSH_SIZE, &mut inner.push_size),
        ] {
            if summaries.is_empty() {
                continue;
            }
            let metric = summaries
                .iter_mut()
                .map(|(method, summary)| Metric {
                    label: vec![LabelPair::new("method", *method)],
                    summary: Some(Box::new(summary.expire_and_snapshot())),
                    ..Default::default()
                })
                .collect();
            out.push(own_family(name, metric));
        }
        if !inner.requests.is_empty() {
            let metric = inner
                .requests
                .iter()
                .map(|((code, handler, method), count)| Metric {
                    label: vec![
                        LabelPair::new("code", code.as_str()),
                        LabelPair::new("handler", *handler),
                        LabelPair::new("method", *method),
                    ],
                    counter: Some(Box::new(Counter {
                        value: Some(*count as f64),
                        ..Default::default()
                    })),
                    ..Default::default()
                })
                .collect();
            out.push(own_family(REQUESTS_TOTAL, metric));
        }
        out
    }
}

/// The `method` label as upstream writes it: the standard methods in lower case, anything
/// else `unknown`.
pub fn method_label(method: &Method) -> &'static str {
    match method.as_str() {
        "GET" => "get",
        "PUT" => "put",
        "HEAD" => "head",
        "POST" => "post",
        "DELETE" => "delete",
        "CONNECT" => "connect",
        "OPTIONS" => "options",
        "NOTIFY" => "notify",
        "TRACE" => "trace",
        "PATCH" => "patch",
        _ => "unknown",
    }
}

/// client_golang's approximate request size, which upstream observes for pushes: the
/// lengths of the URL as requested, the method, the protocol (`HTTP/1.1`), every header
/// name (once) and value except `Host` and `Transfer-Encoding` (Go's server moves those out
/// of the header map), the host, and the declared Content-Length (not the decoded body).
pub fn approximate_request_size(req: &HttpRequest) -> usize {
    let uri = req.uri();
    let target = uri.path_and_query().map_or(uri.path(), |pq| pq.as_str());
    request_size(
        target,
        req.method().as_str(),
        proto_name(req.version()),
        req.headers(),
        uri.authority().map(|a| a.as_str()),
    )
}

fn request_size(
    target: &str,
    method: &str,
    proto: &str,
    headers: &HeaderMap,
    authority: Option<&str>,
) -> usize {
    let mut size = target.len() + method.len() + proto.len();
    for name in headers.keys() {
        if name == header::HOST || name == header::TRANSFER_ENCODING {
            continue;
        }
        size += name.as_str().len();
        size += headers.get_all(name).map(|v| v.len()).sum::<usize>();
    }
    let host = headers
        .get(header::HOST)
        .map(|h| h.len())
        .or(authority.map(str::len))
        .unwrap_or(0);
    let chunked = headers.contains_key(header::TRANSFER_ENCODING);
    let content_length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|_| !chunked)
        .unwrap_or(0);
    size + host + content_length
}

/// Go's `Request.Proto` for each HTTP version.
fn proto_name(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2.0",
        Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn request_size_adds_url_method_proto_headers_host_and_content_length() {
        // A curl-like POST of a 17-byte body.
        let req = TestRequest::post()
            .uri("/metrics/job/some_job")
            .insert_header(("host", "localhost:9091"))
            .insert_header(("user-agent", "curl/7.88.1"))
            .insert_header(("accept", "*/*"))
            .insert_header(("content-length", "17"))
            .insert_header(("content-type", "application/x-www-form-urlencoded"))
            .to_http_request();
        let expected = "/metrics/job/some_job".len()
            + "POST".len()
            + "HTTP/1.1".len()
            + "User-Agent".len()
            + "curl/7.88.1".len()
            + "Accept".len()
            + "*/*".len()
            + "Content-Length".len()
            + "17".len()
            + "Content-Type".len()
            + "application/x-www-form-urlencoded".len()
            + "localhost:9091".len()
            + 17;
        assert_eq!(approximate_request_size(&req), expected);
        assert_eq!(expected, 155);
    }

    #[test]
    fn request_size_counts_a_repeated_header_name_once_and_every_value() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::HeaderName::from_static("x-a"),
            header::HeaderValue::from_static("12"),
        );
        headers.append(
            header::HeaderName::from_static("x-a"),
            header::HeaderValue::from_static("345"),
        );
        assert_eq!(
            request_size("/q?x=1", "PUT", "HTTP/1.1", &headers, None),
            6 + 3 + 8 + 3 + 2 + 3
        );
    }

    #[test]
    fn chunked_bodies_add_no_content_length_and_hide_their_transfer_encoding() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::TRANSFER_ENCODING,
            header::HeaderValue::from_static("chunked"),
        );
        assert_eq!(
            request_size("/m", "PUT", "HTTP/1.1", &headers, Some("h:1")),
            2 + 3 + 8 + 3
        );
    }

    #[test]
    fn methods_are_lower_case_and_unknown_ones_are_unknown() {
        assert_eq!(method_label(&Method::PUT), "put");
        assert_eq!(method_label(&Method::OPTIONS), "options");
        assert_eq!(
            method_label(&Method::from_bytes(b"BREW").unwrap()),
            "unknown"
        );
    }

    #[test]
    fn families_appear_only_once_used_with_labels_in_upstream_order() {
        let m = HttpMetrics::new();
        assert!(m.gather().is_empty());
        m.count_request("push", &Method::PUT, 400);
        m.count_request("push", &Method::PUT, 200);
        m.count_request("push", &Method::PUT, 200);
        let families = m.gather();
        assert_eq!(families.len(), 1);
        let f = &families[0];
        assert_eq!(f.name(), REQUESTS_TOTAL);
        assert_eq!(f.r#type(), crate::proto::MetricType::Counter);
        let first = &f.metric[0];
        let labels: Vec<_> = first
            .label
            .iter()
            .map(|l| (l.name().to_string(), l.value().to_string()))
            .collect();
        assert_eq!(
            labels,
            [("code", "200"), ("handler", "push"), ("method", "put")]
                .map(|(a, b)| (a.to_string(), b.to_string()))
        );
        assert_eq!(first.counter.as_ref().unwrap().value, Some(2.0));

        m.observe_push(&Method::POST, 0.25, 100);
        let names: Vec<_> = m.gather().iter().map(|f| f.name().to_string()).collect();
        assert_eq!(names, [PUSH_DURATION, PUSH_SIZE, REQUESTS_TOTAL]);
    }
}
