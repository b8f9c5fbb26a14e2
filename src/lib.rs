//! A wire-compatible Prometheus Pushgateway that keeps every pushed metric group in SQLite.
//!
//! # Layout
//! Dependencies run one way, down this list: a module uses only modules of its own layer or
//! of the layers above it in the list.
//!
//! **Vocabulary** (leaves):
//! * [`proto`]: the `io.prometheus.client` protobuf messages.
//! * [`names`]: metric and label name rules, UTF-8 names and their escaping schemes.
//! * [`go_strconv`]: Go's float and string formatting, which the wire formats inherit.
//! * [`duration`]: Go and Prometheus duration syntax.
//! * [`clock`]: the time the gateway records, in Unix nanoseconds.
//! * [`version`]: what this build reports about itself.
//! * [`grouping_key`]: the group a push URL names, `@base64` forms included.
//! * [`family`]: one pushed family sanitised against its key and rendered for serving.
//! * [`native_histogram`]: Prometheus's walk of native histogram buckets.
//! * [`history`]: the pushed history's types and the values recorded per push.
//! * [`import`]: the original Pushgateway's persistence file (Go gob), read for migration.
//! * [`metrics`]: the gateway's own metrics (names table, HTTP, storage, process).
//! * [`parse`]: push bodies (Content-Encoding, delimited protobuf, the strict text parser).
//! * [`limits`]: the `--push.max-*` and `--web.read-timeout` guard rails, error text bounds.
//! * [`lifetime`]: opt-in expiry's vocabulary: `--push.expire-after` and the
//!   `Pushgateway-Expire-After` header, deadlines, when the expiry scheduler runs.
//! * [`selector`]: series selectors over grouping labels (`match[]` of `delete_groups`).
//!
//! **State**:
//! * [`cache`]: the in-memory copy of every group, indexed by group and by metric name.
//! * [`consistency`]: would the store still expose valid metrics after this push?
//! * [`store`]: all SQL (groups, families, history, pruning); migrations in `migrations/`.
//! * [`exposition`]: `/metrics` in text, protobuf and (with `--web.enable-openmetrics`)
//!   OpenMetrics, laid out from the cache; gzip in segments kept from scrape to scrape.
//!
//! **Service**:
//! * [`gateway`]: the one way into the store: plan, check, commit, update the cache.
//!
//! **HTTP** (names nothing from [`store`]):
//! * [`routing`]: upstream's ServeMux and httprouter answers; the route tables.
//! * [`routes`]: the thin handlers; [`error`]: their error type and its one mapping.
//! * [`api`]: the JSON documents; [`status_page`]: the browser page's views (templates in
//!   `templates/`, assets in `static/`).
//! * [`web_config`]: `--web.config.file`: TLS, client certificates, basic auth, headers.
//!
//! **Start-up**: [`cli`] (flags as typed) → [`config`] (resolved) → [`startup`]
//! (the original's file imported, store opened, listeners bound, cache warmed in the
//! background), [`logging`]; [`upgrade`]: the original Pushgateway's persistence file found
//! at `--persistence.file` converted in place into a database, and the `import` command;
//! [`healthcheck`]: the `healthcheck` command, a probe for container health checks.
//!
//! **Fuzzing**: `fuzzing` (hidden) runs the push's input paths on arbitrary bytes for the
//! targets in `fuzz/` and the corpus replay in `tests/api/fuzz_corpus.rs`; nothing uses it.
//!
//! # Data flow
//! ```text
//! PUT|POST|DELETE P/metrics/job/<job>/...
//!   routing::Routes::resolve ─► routes::body (≤ 64 MiB, ≤ 60 s) ─► routes::push
//!     ─► (encoded slash? 400) GroupingKey::from_path
//!     ─► blocking pool, one push per core at a time: parse::encoding (gzip, snappy)
//!        ─► parse::parse_body (text or protobuf) ─► gateway.prepare_push (sanitise,
//!        check_family, render: family::FamilyData)
//!     ─► gateway.push: queued for the writer thread, answer awaited (group commit):
//!        BEGIN IMMEDIATE; per queued change, in its own SAVEPOINT: plan::plan_push against
//!        the group as the batch left it ─► consistency::check_push ─► group row, family
//!        rows, history record; COMMIT ─► cache updated for the whole batch ─► 200
//! GET P/metrics ─► routes::metrics ─► exposition::Snapshot::take(cache)   (Arcs, read lock)
//!   ─► exposition::pieces(snapshot, own metrics) ─► body: the pieces copied in 16 KiB runs,
//!      or exposition::gzip (segments kept while their pieces stay the same)
//! GET P/api/v1/… ─► routes::api_v1 ─► api::metrics_document(cache) | gateway.history ─► JSON
//! GET P/ ─► routes::status ─► status_page::StatusPage(cache) ─► askama ─► HTML
//! start-up ─► upgrade (the original's file? import it in place) ─► store::open (PRAGMAs,
//!          migrations) ─► bind (only /-/healthy 200, the rest 503)
//!          ─► background: gateway::Gateway::warm (store ─► cache) ─► ready, pruner started
//! ```
#![forbid(unsafe_code)]
#![warn(missing_debug_implementations)]

pub(crate) mod api;
pub(crate) mod cache;
pub mod cli;
pub(crate) mod clock;
pub mod config;
pub(crate) mod consistency;
pub(crate) mod duration;
pub(crate) mod error;
pub(crate) mod exposition;
pub(crate) mod family;
#[doc(hidden)]
pub mod fuzzing;
pub(crate) mod gateway;
pub mod go_strconv;
pub mod grouping_key;
pub mod healthcheck;
pub(crate) mod history;
pub(crate) mod import;
pub(crate) mod lifetime;
pub(crate) mod limits;
pub mod logging;
pub(crate) mod metrics;
pub mod names;
pub(crate) mod native_histogram;
pub mod parse;
pub mod proto;
pub(crate) mod routes;
pub(crate) mod routing;
pub(crate) mod selector;
pub mod startup;
pub(crate) mod status_page;
pub mod store;
pub mod upgrade;
pub mod version;
pub(crate) mod web_config;
