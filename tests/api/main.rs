//! Integration tests: the real server on an ephemeral loopback port, spoken to over HTTP.

mod browser;
mod cli;
mod consistency;
mod helpers;
mod metrics;
mod persistence;
mod push;
mod routing;
mod status_page;
mod wire;
