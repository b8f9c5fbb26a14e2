//! Integration tests: the real server on an ephemeral loopback port, spoken to over HTTP.

mod cli;
mod consistency;
mod helpers;
mod limits;
mod logging;
mod metrics;
mod persistence;
mod push;
mod routing;
mod self_metrics;
mod systemd;
mod wire;
