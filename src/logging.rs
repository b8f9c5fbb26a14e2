//! Log set-up: `--log.level` and `--log.format` (logfmt or JSON lines) over env_logger.

use std::io::Write;

use crate::config::LogFormat;

/// Installs the global logger. `RUST_LOG` still refines per-module levels when set.
pub fn init(level: log::LevelFilter, format: LogFormat) {
    let mut builder = env_logger::Builder::new();
    builder.filter_level(level);
    // Our own modules at the chosen level; dependencies only from warn up unless asked.
    builder.filter_module("actix_server", level.min(log::LevelFilter::Warn));
    if let Ok(spec) = std::env::var("RUST_LOG") {
        builder.parse_filters(&spec);
    }
    builder.format(move |buf, record| {
        let ts = jiff::Timestamp::now();
        let level = record.level().as_str().to_ascii_lowercase();
        let msg = record.args().to_string();
        match format {
            LogFormat::Logfmt => writeln!(
                buf,
                "ts={ts} level={level} source={} msg={}",
                record.target(),
                logfmt_value(&msg)
            ),
            LogFormat::Json => writeln!(
                buf,
                "{}",
                serde_json::json!({
                    "ts": ts.to_string(),
                    "level": level,
                    "source": record.target(),
                    "msg": msg,
                })
            ),
        }
    });
    // A second initialisation (tests start several servers) keeps the first logger.
    let _ = builder.try_init();
}

/// Quotes a logfmt value when it has spaces, quotes or `=`.
fn logfmt_value(s: &str) -> String {
    if !s.is_empty() && !s.contains([' ', '"', '=', '\n', '\t']) {
        return s.to_string();
    }
    serde_json::Value::String(s.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logfmt_values_are_quoted_only_when_needed() {
        assert_eq!(logfmt_value("ok"), "ok");
        assert_eq!(logfmt_value("two words"), "\"two words\"");
        assert_eq!(logfmt_value("a\"b"), "\"a\\\"b\"");
        assert_eq!(logfmt_value(""), "\"\"");
    }
}
