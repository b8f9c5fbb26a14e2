//! A wire-compatible Prometheus Pushgateway that keeps every pushed metric group in SQLite.
//!
//! # Layout
//! * [`cli`] / [`config`]: upstream's flags as typed, then resolved once.
//! * [`startup`]: opens the store, binds, serves, warms the cache in the background.
//! * [`routes`]: upstream's routing answers ([`router`]) and the thin HTTP handlers.
//! * [`grouping_key`]: the group a push URL names, `@base64` forms included.
//! * [`parse`]: push bodies (Content-Encoding, protobuf, the strict text parser).
//! * [`group`]: pushed families sanitised against the key and prepared for serving.
//! * [`consistency`]: would the store still expose valid metrics after this push?
//! * [`gateway`]: one transaction per push, then the cache, in commit order.
//! * [`store`]: all SQL; migrations in `migrations/`.
//! * [`cache`]: the in-memory copy `/metrics` and the checks read, indexed by group and name.
//! * [`exposition`]: text, protobuf and OpenMetrics output and content negotiation.
//! * [`self_metrics`]: the gateway's own metrics.
//! * [`api`]: the JSON API's documents (`/api/v1/status`, `/api/v1/metrics`), byte-exact.
//! * [`self_metrics`]: the gateway's own metrics: [`http_metrics`] (requests, push
//!   summaries over [`summary`]) and [`storage_metrics`].
//! * [`limits`]: the optional `--push.max-*` guard rails.
//! * [`web_config`]: `--web.config.file`: TLS, client certificates, basic auth, extra headers.
//! * [`healthcheck`]: the `healthcheck` command, a probe for container health checks.
//! * [`status_page`]: the browser status page's views (templates in `templates/`, assets in
//!   `static/`), read from the cache.
//!
//! # Data flow
//! ```text
//! PUT|POST|DELETE /metrics/job/<job>/...
//!   routes::push ─► GroupingKey::from_path ─► parse::parse_body ─► web::block(gateway.push)
//!     gateway: prepare (sanitise, check, render) ─► writer lock ─► consistency::check_push
//!              ─► BEGIN IMMEDIATE … COMMIT ─► cache.put_group ─► unlock ─► 200
//! GET /metrics ─► routes::metrics ─► exposition::render(cache, own metrics) ─► body
//! GET P/api/v1/… ─► routes::api_v1 (own router, CORS) ─► api::metrics_document(cache) ─► JSON
//! start-up     ─► store::open (PRAGMAs, migrations) ─► bind (only /-/healthy 200, the rest 503)
//!              ─► background: store::load_all ─► cache ─► ready (every route served)
//! ```
#![forbid(unsafe_code)]
#![warn(missing_debug_implementations)]

pub mod api;
pub mod cache;
pub mod cli;
pub mod config;
pub mod consistency;
pub mod error;
pub mod exposition;
pub mod gateway;
pub mod gofmt;
pub mod group;
pub mod grouping_key;
pub mod healthcheck;
pub mod history;
pub mod http_metrics;
pub mod limits;
pub mod logging;
pub mod names;
pub mod parse;
pub mod proto;
pub mod router;
pub mod routes;
pub mod self_metrics;
pub mod startup;
pub mod status_page;
pub mod storage_metrics;
pub mod store;
pub mod summary;
pub mod web_config;
