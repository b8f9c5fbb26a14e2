//! Integration tests: the real server on an ephemeral loopback port, spoken to over HTTP.

mod cli;
mod consistency;
mod ha;
mod helpers;
mod history;
mod metrics;
mod persistence;
mod push;
mod readiness;
mod routing;
mod wire;
