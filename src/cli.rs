//! Command-line flags, named and defaulted exactly as upstream's, as typed by the user.
//!
//! Only syntax is checked here; [`crate::config::Config`] resolves the values (addresses,
//! durations, the route prefix) once, so the rest of the crate never sees raw flag strings.

use std::path::PathBuf;

use clap::{ArgAction, Parser, Subcommand};

/// The gateway's flags. `--flag=value` and `--flag value` both work; boolean flags also
/// accept `--no-<flag>` as upstream's kingpin does.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "pushgateway",
    version,
    about = "The Pushgateway, keeping every pushed metric group durably in SQLite.",
    disable_help_subcommand = true
)]
pub struct Cli {
    /// Addresses to listen on for the web interface, API and telemetry (repeatable).
    #[arg(long = "web.listen-address", global = true, default_value = ":9091", action = ArgAction::Append)]
    pub listen_addresses: Vec<String>,

    /// Path under which to expose the gateway's metrics.
    #[arg(long = "web.telemetry-path", default_value = "/metrics")]
    pub telemetry_path: String,

    /// The URL under which the gateway is reachable from outside (its path prefixes the page's links).
    #[arg(long = "web.external-url", global = true, default_value = "")]
    pub external_url: String,

    /// Path to a configuration file that can enable TLS, client certificates, basic auth and
    /// extra response headers (exporter-toolkit format). Empty: plain HTTP, no authentication.
    #[arg(long = "web.config.file", global = true, default_value = "")]
    pub web_config_file: String,

    /// Prefix for the internal routes. Defaults to the path of --web.external-url.
    #[arg(long = "web.route-prefix", global = true, default_value = "")]
    pub route_prefix: String,

    /// Enable shutdown via HTTP request (PUT or POST /-/quit).
    #[arg(long = "web.enable-lifecycle", action = ArgAction::SetTrue, overrides_with = "no_enable_lifecycle")]
    pub enable_lifecycle: bool,
    #[arg(long = "no-web.enable-lifecycle", action = ArgAction::SetTrue, hide = true)]
    no_enable_lifecycle: bool,

    /// Enable API endpoints for admin actions.
    #[arg(long = "web.enable-admin-api", action = ArgAction::SetTrue, overrides_with = "no_enable_admin_api")]
    pub enable_admin_api: bool,
    #[arg(long = "no-web.enable-admin-api", action = ArgAction::SetTrue, hide = true)]
    no_enable_admin_api: bool,

    /// Serve OpenMetrics from /metrics to scrapers that ask for it (Prometheus does, first).
    /// Off, as in the original: bucket and quantile label values then change (`le="1"` becomes
    /// `le="1.0"`), so the scraper stores different series.
    #[arg(long = "web.enable-openmetrics", action = ArgAction::SetTrue, overrides_with = "no_enable_openmetrics")]
    pub enable_openmetrics: bool,
    #[arg(long = "no-web.enable-openmetrics", action = ArgAction::SetTrue, hide = true)]
    no_enable_openmetrics: bool,

    /// SQLite database file holding every pushed group. Empty: an in-memory database (lost on
    /// exit). The original Pushgateway's persistence file found here is imported into a new
    /// database at the same path at start-up; the original file is kept as `<file>.original`.
    #[arg(long = "persistence.file", global = true, default_value = "")]
    pub persistence_file: String,

    /// Accepted for compatibility. Every push is committed to the database before it is
    /// acknowledged, so there is no periodic write to tune.
    #[arg(long = "persistence.interval", default_value = "5m")]
    pub persistence_interval: String,

    /// Answer pushes with 202 instead of 200. Pushes that would make the exposition invalid are
    /// still refused (recorded as failed pushes), because storing them would break every scrape.
    #[arg(long = "push.disable-consistency-check", action = ArgAction::SetTrue, overrides_with = "no_disable_consistency_check")]
    pub disable_consistency_check: bool,
    #[arg(long = "no-push.disable-consistency-check", action = ArgAction::SetTrue, hide = true)]
    no_disable_consistency_check: bool,

    /// Allow UTF-8 characters in metric and label names.
    #[arg(long = "push.enable-utf8-names", action = ArgAction::SetTrue, overrides_with = "no_enable_utf8_names")]
    pub enable_utf8_names: bool,
    #[arg(long = "no-push.enable-utf8-names", action = ArgAction::SetTrue, hide = true)]
    no_enable_utf8_names: bool,

    /// How long pushed history (every push, delete and wipe, and the values pushed) is kept,
    /// e.g. 12h, 7d, 4w.
    #[arg(long = "history.retention", default_value = "7d")]
    pub history_retention: String,

    /// The most pushed sample values kept in the history (oldest pruned first); 0 records no
    /// values, only the push records.
    #[arg(long = "history.max-rows", default_value_t = 1_000_000)]
    pub history_max_rows: u64,

    /// The most push records (every push, delete and wipe) kept in the history, oldest pruned
    /// first. 0: no limit but --history.retention.
    #[arg(long = "history.max-records", default_value_t = 1_000_000)]
    pub history_max_records: u64,

    /// Largest request body accepted, in bytes, as sent and once Content-Encoding is undone
    /// (413 above it). 0: no limit.
    #[arg(long = "push.max-body-bytes", default_value_t = crate::limits::DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,

    /// Most series accepted in one push (400 above it, found while parsing). 0: no limit.
    #[arg(long = "push.max-series-per-push", default_value_t = crate::limits::DEFAULT_MAX_SERIES_PER_PUSH)]
    pub max_series_per_push: usize,

    /// Most labels in a push's grouping key, job included (400 above it): every pushed series
    /// gets them all, so they multiply what a push stores. 0: no limit.
    #[arg(long = "push.max-grouping-labels", default_value_t = crate::limits::DEFAULT_MAX_GROUPING_LABELS)]
    pub max_grouping_labels: usize,

    /// Most series the gateway stores in total; a push that would exceed it is refused with
    /// 400. 0: no limit.
    #[arg(long = "push.max-series-total", default_value = "0")]
    pub max_series_total: usize,

    /// How long a group lives after its last successful push before it is deleted, e.g. 90m,
    /// 24h (Go duration syntax). A push's Pushgateway-Expire-After header overrides it for its
    /// group. 0: groups never expire, as in the original.
    #[arg(long = "push.expire-after", default_value = "0")]
    pub expire_after: String,

    /// How long a request body may take to arrive once its headers are read (408 after it),
    /// e.g. 60s, 5m. 0s: no limit.
    #[arg(long = "web.read-timeout", default_value = "60s")]
    pub read_timeout: String,

    /// Only log messages with the given severity or above: debug, info, warn, error.
    #[arg(long = "log.level", default_value = "info")]
    pub log_level: String,

    /// Output format of log messages: logfmt, json.
    #[arg(long = "log.format", default_value = "logfmt")]
    pub log_format: String,

    /// `healthcheck` probes a running gateway instead of serving; the global flags above say
    /// where it listens and how to talk to it. `import` converts the original's persistence
    /// file.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What to do instead of serving.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Probe a running gateway (for container health checks); exit 0 when it is healthy.
    ///
    /// Sends GET /-/healthy (or /-/ready) to the port of --web.listen-address on loopback,
    /// under --web.route-prefix, with TLS and basic auth when --web.config.file asks for them.
    Healthcheck(HealthcheckArgs),

    /// Import the original Pushgateway's persistence file into a new database, then exit.
    ///
    /// Without --persistence.file (or with FILE's own path) FILE is converted in place, as
    /// start-up does: FILE becomes the database and the original file is kept as
    /// FILE.original. With --persistence.file naming another path, FILE is left as it is and
    /// the database is created there; it must not exist or must be empty.
    Import(ImportArgs),
}

/// The import command's own arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct ImportArgs {
    /// The original's persistence file (what its --persistence.file named).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

/// The subcommand's own flags; the server's flags say where and how to reach the gateway.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Probe options")]
pub struct HealthcheckArgs {
    /// Probe /-/ready (every route is served: the database is loaded) instead of /-/healthy
    /// (the gateway answers and can write its database).
    #[arg(long)]
    pub ready: bool,

    /// Basic-auth user to probe as. Default: the only user of the web config file's
    /// basic_auth_users.
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,

    /// File holding the basic-auth password (a final newline is ignored). Without it, the
    /// password is read from the environment variable PUSHGATEWAY_HEALTHCHECK_PASSWORD.
    #[arg(long = "password-file", value_name = "PATH")]
    pub password_file: Option<PathBuf>,

    /// PEM client certificate (chain) to present when the web config file requires one.
    #[arg(
        long = "client-cert-file",
        value_name = "PATH",
        requires = "client_key_file"
    )]
    pub client_cert_file: Option<PathBuf>,

    /// PEM private key of --client-cert-file.
    #[arg(
        long = "client-key-file",
        value_name = "PATH",
        requires = "client_cert_file"
    )]
    pub client_key_file: Option<PathBuf>,

    /// Give up after this long: connecting, the TLS handshake and the answer together.
    #[arg(long, default_value = "3s", value_name = "DURATION")]
    pub timeout: String,
}
