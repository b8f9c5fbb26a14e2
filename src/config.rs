//! Resolved configuration: what the flags mean, computed once at start-up.

use std::collections::BTreeMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

use crate::cli::Cli;
use crate::duration::{format_go_duration, parse_go_duration, parse_prometheus_duration};
use crate::limits::Limits;
use crate::names::NameValidation;

/// Everything the application needs from the command line, validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen; `:9091` means every interface.
    pub listen: Vec<SocketAddr>,
    /// Prefix of every route, `""` or `/something` (upstream's `computeRoutePrefix`).
    pub route_prefix: String,
    /// Prefix of the status page's links (the external URL's path), `""` if none.
    pub external_path_prefix: String,
    /// Full path of the exposition route (prefix joined with `--web.telemetry-path`).
    pub telemetry_path: String,
    /// Database file; `None` keeps everything in an in-memory database.
    pub database: Option<PathBuf>,
    pub enable_lifecycle: bool,
    pub enable_admin_api: bool,
    /// `--web.enable-openmetrics`: `/metrics` may answer in OpenMetrics.
    pub enable_openmetrics: bool,
    /// Answer accepted pushes with 202 instead of 200.
    pub disable_consistency_check: bool,
    pub names: NameValidation,
    pub log_level: log::LevelFilter,
    pub log_format: LogFormat,
    /// What pushed history is kept.
    pub retention: crate::history::Retention,
    /// `--push.max-*` guard rails.
    pub limits: Limits,
    /// `--push.expire-after`: how long a group lives after its last successful push unless
    /// the push says otherwise; zero for never (the original's behaviour).
    pub expire_after: std::time::Duration,
    /// `--web.config.file`: TLS and authentication settings; `None` is plain HTTP.
    pub web_config_file: Option<PathBuf>,
    /// Every flag's value as upstream shows it in `/api/v1/status` and on the status page.
    pub flags: BTreeMap<String, String>,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Logfmt,
    Json,
}

/// A flag value that cannot be used; the message names the flag and the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

impl TryFrom<Cli> for Config {
    type Error = ConfigError;

    fn try_from(cli: Cli) -> Result<Config, ConfigError> {
        let listen = cli
            .listen_addresses
            .iter()
            .map(|a| resolve_listen_address(a))
            .collect::<Result<Vec<_>, _>>()?;
        let interval = parse_go_duration(&cli.persistence_interval).ok_or_else(|| {
            ConfigError(format!(
                "--persistence.interval: time: invalid duration {:?}",
                cli.persistence_interval
            ))
        })?;
        let log_level = match cli.log_level.as_str() {
            "debug" => log::LevelFilter::Debug,
            "info" => log::LevelFilter::Info,
            "warn" => log::LevelFilter::Warn,
            "error" => log::LevelFilter::Error,
            other => {
                return Err(ConfigError(format!(
                    "--log.level: unrecognized log level {other:?} (use debug, info, warn or error)"
                )))
            }
        };
        let log_format = match cli.log_format.as_str() {
            "logfmt" => LogFormat::Logfmt,
            "json" => LogFormat::Json,
            other => {
                return Err(ConfigError(format!(
                    "--log.format: unrecognized log format {other:?} (use logfmt or json)"
                )))
            }
        };
        let max_age = parse_prometheus_duration(&cli.history_retention)
            .filter(|d| !d.is_zero())
            .ok_or_else(|| {
                ConfigError(format!(
                    "--history.retention: invalid duration {:?} (use e.g. 12h, 7d, 4w)",
                    cli.history_retention
                ))
            })?;
        let retention = crate::history::Retention {
            max_age,
            max_sample_rows: cli.history_max_rows,
            max_records: cli.history_max_records,
        };
        let read_timeout = parse_go_duration(&cli.read_timeout)
            .or_else(|| parse_prometheus_duration(&cli.read_timeout))
            .ok_or_else(|| {
                ConfigError(format!(
                    "--web.read-timeout: invalid duration {:?} (use e.g. 30s, 5m, or 0s for none)",
                    cli.read_timeout
                ))
            })?;
        let expire_after = crate::lifetime::parse_lifetime(&cli.expire_after)
            .map_err(|e| ConfigError(format!("--push.expire-after: {e}")))?;
        let external_path = external_url_path(&cli.external_url)?;
        let route_prefix = compute_route_prefix(&cli.route_prefix, &external_path);
        let external_path_prefix = compute_route_prefix("", &external_path);
        if !cli.telemetry_path.starts_with('/') {
            return Err(ConfigError(format!(
                "--web.telemetry-path: {:?} must start with /",
                cli.telemetry_path
            )));
        }
        let telemetry_path = join_path(&route_prefix, &cli.telemetry_path);

        let flags = BTreeMap::from([
            (
                "history.max-rows".to_string(),
                cli.history_max_rows.to_string(),
            ),
            (
                "history.max-records".to_string(),
                cli.history_max_records.to_string(),
            ),
            (
                "history.retention".to_string(),
                cli.history_retention.clone(),
            ),
            ("log.format".to_string(), cli.log_format.clone()),
            ("log.level".to_string(), cli.log_level.clone()),
            ("persistence.file".to_string(), cli.persistence_file.clone()),
            (
                "persistence.interval".to_string(),
                format_go_duration(interval),
            ),
            (
                "push.disable-consistency-check".to_string(),
                cli.disable_consistency_check.to_string(),
            ),
            (
                "push.enable-utf8-names".to_string(),
                cli.enable_utf8_names.to_string(),
            ),
            ("push.expire-after".to_string(), cli.expire_after.clone()),
            (
                "push.max-body-bytes".to_string(),
                cli.max_body_bytes.to_string(),
            ),
            (
                "push.max-grouping-labels".to_string(),
                cli.max_grouping_labels.to_string(),
            ),
            (
                "push.max-series-per-push".to_string(),
                cli.max_series_per_push.to_string(),
            ),
            (
                "push.max-series-total".to_string(),
                cli.max_series_total.to_string(),
            ),
            (
                "web.enable-admin-api".to_string(),
                cli.enable_admin_api.to_string(),
            ),
            (
                "web.enable-openmetrics".to_string(),
                cli.enable_openmetrics.to_string(),
            ),
            (
                "web.enable-lifecycle".to_string(),
                cli.enable_lifecycle.to_string(),
            ),
            ("web.config.file".to_string(), cli.web_config_file.clone()),
            ("web.external-url".to_string(), cli.external_url.clone()),
            (
                "web.listen-address".to_string(),
                cli.listen_addresses.join(","),
            ),
            ("web.read-timeout".to_string(), cli.read_timeout.clone()),
            ("web.route-prefix".to_string(), route_prefix.clone()),
            ("web.telemetry-path".to_string(), cli.telemetry_path.clone()),
        ]);

        Ok(Config {
            listen,
            route_prefix,
            external_path_prefix,
            telemetry_path,
            database: (!cli.persistence_file.is_empty())
                .then(|| PathBuf::from(&cli.persistence_file)),
            enable_lifecycle: cli.enable_lifecycle,
            enable_admin_api: cli.enable_admin_api,
            enable_openmetrics: cli.enable_openmetrics,
            disable_consistency_check: cli.disable_consistency_check,
            names: if cli.enable_utf8_names {
                NameValidation::Utf8
            } else {
                NameValidation::Legacy
            },
            log_level,
            log_format,
            retention,
            limits: Limits {
                max_body_bytes: (cli.max_body_bytes > 0).then_some(cli.max_body_bytes),
                read_timeout: (!read_timeout.is_zero()).then_some(read_timeout),
                max_series_per_push: (cli.max_series_per_push > 0)
                    .then_some(cli.max_series_per_push),
                max_grouping_labels: (cli.max_grouping_labels > 0)
                    .then_some(cli.max_grouping_labels),
                max_series_total: (cli.max_series_total > 0).then_some(cli.max_series_total),
            },
            expire_after,
            web_config_file: (!cli.web_config_file.is_empty())
                .then(|| PathBuf::from(&cli.web_config_file)),
            flags,
        })
    }
}

/// `host:port`, `:port` (all interfaces) or `[v6]:port`.
fn resolve_listen_address(addr: &str) -> Result<SocketAddr, ConfigError> {
    let with_host = if addr.starts_with(':') {
        format!("0.0.0.0{addr}")
    } else {
        addr.to_string()
    };
    with_host
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| {
            ConfigError(format!(
                "--web.listen-address: cannot use {addr:?} (expected host:port or :port)"
            ))
        })
}

/// The path component of `--web.external-url`, as Go's `url.Parse` would give it: a URL
/// without a scheme is all path (`example.com/ext` → `example.com/ext`).
fn external_url_path(url: &str) -> Result<String, ConfigError> {
    if url.is_empty() {
        return Ok(String::new());
    }
    if url.starts_with(':') {
        return Err(ConfigError(format!(
            "--web.external-url: invalid URL: parse {url:?}: missing protocol scheme"
        )));
    }
    let without_query = url.split(['?', '#']).next().unwrap_or("");
    match without_query.split_once("://") {
        Some((_scheme, rest)) => Ok(rest
            .find('/')
            .map(|i| rest[i..].to_string())
            .unwrap_or_default()),
        None => Ok(without_query.to_string()),
    }
}

/// Upstream 1.11's rule: the explicit prefix, else the external URL's path; `/` means none;
/// a leading `/` is added and one trailing `/` removed.
pub fn compute_route_prefix(prefix: &str, external_path: &str) -> String {
    let prefix = if prefix.is_empty() {
        external_path
    } else {
        prefix
    };
    if prefix == "/" {
        return String::new();
    }
    let with_slash = if prefix.starts_with('/') || prefix.is_empty() {
        prefix.to_string()
    } else {
        format!("/{prefix}")
    };
    with_slash
        .strip_suffix('/')
        .unwrap_or(&with_slash)
        .to_string()
}

/// Go's `path.Join(prefix, p)` for the two shapes used here.
fn join_path(prefix: &str, p: &str) -> String {
    let joined = format!("{prefix}{p}");
    let trimmed = joined.trim_end_matches('/');
    if trimmed.is_empty() {
        "/".to_string()
    } else {
        trimmed.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn config(args: &[&str]) -> Result<Config, ConfigError> {
        let mut argv = vec!["pushgateway"];
        argv.extend_from_slice(args);
        Config::try_from(Cli::try_parse_from(argv).expect("flags parse"))
    }

    #[test]
    fn defaults_match_upstream() {
        let c = config(&[]).unwrap();
        assert_eq!(c.listen, vec!["0.0.0.0:9091".parse().unwrap()]);
        assert_eq!(c.telemetry_path, "/metrics");
        assert_eq!(c.route_prefix, "");
        assert!(c.database.is_none());
        assert_eq!(c.flags["persistence.interval"], "5m0s");
        assert_eq!(c.flags["web.listen-address"], ":9091");
    }

    #[test]
    fn both_flag_syntaxes_work() {
        let a = config(&["--persistence.file=/tmp/x.db", "--web.route-prefix", "/pg/"]).unwrap();
        assert_eq!(a.database, Some(PathBuf::from("/tmp/x.db")));
        assert_eq!(a.route_prefix, "/pg");
        assert_eq!(a.telemetry_path, "/pg/metrics");
    }

    #[test]
    fn route_prefix_follows_upstream_rules() {
        assert_eq!(compute_route_prefix("", ""), "");
        assert_eq!(compute_route_prefix("/", "/ext"), "");
        assert_eq!(compute_route_prefix("", "/ext/"), "/ext");
        assert_eq!(compute_route_prefix("foo//", ""), "/foo/");
        assert_eq!(compute_route_prefix("pg", ""), "/pg");
    }

    #[test]
    fn external_url_path_becomes_the_default_prefix() {
        let c = config(&["--web.external-url=http://example.com/ext/"]).unwrap();
        assert_eq!(c.route_prefix, "/ext");
        assert_eq!(c.external_path_prefix, "/ext");
        assert_eq!(c.flags["web.route-prefix"], "/ext");
        let c = config(&["--web.external-url=example.com/ext"]).unwrap();
        assert_eq!(c.route_prefix, "/example.com/ext");
        assert!(config(&["--web.external-url=::bad"]).is_err());
    }

    #[test]
    fn bad_values_are_named_in_the_error() {
        let e = config(&["--log.level=trace"]).unwrap_err();
        assert!(e.0.contains("trace"), "{e}");
        let e = config(&["--persistence.interval=1d"]).unwrap_err();
        assert!(e.0.contains("invalid duration"), "{e}");
        assert!(config(&["--web.listen-address=nonsense"]).is_err());
    }

    #[test]
    fn body_series_and_time_limits_are_on_by_default_and_zero_means_off() {
        let defaults = config(&[]).unwrap();
        assert_eq!(
            defaults.limits,
            Limits {
                max_body_bytes: Some(64 << 20),
                read_timeout: Some(std::time::Duration::from_secs(60)),
                max_series_per_push: Some(1_000_000),
                max_grouping_labels: Some(64),
                max_series_total: None,
            }
        );
        assert_eq!(defaults.retention.max_records, 1_000_000);
        assert_eq!(defaults.flags["push.max-body-bytes"], "67108864");
        assert_eq!(defaults.flags["web.read-timeout"], "60s");
        let c = config(&[
            "--push.max-body-bytes=1024",
            "--push.max-series-per-push",
            "10",
            "--push.max-series-total=0",
            "--web.read-timeout=2m",
        ])
        .unwrap();
        assert_eq!(c.limits.max_body_bytes, Some(1024));
        assert_eq!(c.limits.max_series_per_push, Some(10));
        assert_eq!(c.limits.max_series_total, None);
        assert_eq!(
            c.limits.read_timeout,
            Some(std::time::Duration::from_secs(120))
        );
        assert_eq!(c.flags["push.max-body-bytes"], "1024");
        let off = config(&[
            "--push.max-body-bytes=0",
            "--push.max-series-per-push=0",
            "--push.max-grouping-labels=0",
            "--web.read-timeout=0s",
        ])
        .unwrap();
        assert_eq!(off.limits, Limits::default());
        let e = config(&["--web.read-timeout=soon"]).unwrap_err();
        assert!(e.0.contains("--web.read-timeout"), "{e}");
    }

    #[test]
    fn negated_boolean_flags_are_accepted() {
        let c = config(&["--web.enable-lifecycle", "--no-web.enable-lifecycle"]).unwrap();
        assert!(!c.enable_lifecycle);
    }

    #[test]
    fn openmetrics_is_off_unless_its_flag_is_given() {
        let c = config(&[]).unwrap();
        assert!(!c.enable_openmetrics);
        assert_eq!(c.flags["web.enable-openmetrics"], "false");
        let c = config(&["--web.enable-openmetrics"]).unwrap();
        assert!(c.enable_openmetrics);
        assert_eq!(c.flags["web.enable-openmetrics"], "true");
        let c = config(&["--web.enable-openmetrics", "--no-web.enable-openmetrics"]).unwrap();
        assert!(!c.enable_openmetrics);
    }
}
