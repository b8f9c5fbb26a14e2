//! Integration tests: the real server on an ephemeral loopback port, spoken to over HTTP.

mod api_v1;
mod browser;
mod cli;
mod consistency;
mod container;
mod fuzz_corpus;
mod group_commit;
mod ha;
mod healthcheck;
mod helpers;
mod history;
mod hostile;
mod import;
mod limits;
mod logging;
mod metrics;
mod persistence;
mod prometheus;
mod push;
mod readiness;
mod routing;
mod self_metrics;
mod status_page;
mod systemd;
mod tls_auth;
mod wire;
