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
        let ts = jiff::Timestamp::now().to_string();
        let level = record.level().as_str().to_ascii_lowercase();
        let msg = record.args().to_string();
        writeln!(buf, "{}", line(format, &ts, &level, record.target(), &msg))
    });
    // A second initialisation (tests start several servers) keeps the first logger.
    let _ = builder.try_init();
}

/// One log record as a single line (without its newline): newlines in the message are
/// escaped in both formats, so one record is always one line.
pub fn line(format: LogFormat, ts: &str, level: &str, source: &str, msg: &str) -> String {
    match format {
        LogFormat::Logfmt => format!(
            "ts={ts} level={level} source={source} msg={}",
            logfmt_value(msg)
        ),
        LogFormat::Json => serde_json::json!({
            "ts": ts,
            "level": level,
            "source": source,
            "msg": msg,
        })
        .to_string(),
    }
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
    fn a_multi_line_message_is_one_line_in_both_formats() {
        let msg = "push rejected: reason=2 error(s) occurred:\n* a\n* b";
        for format in [LogFormat::Logfmt, LogFormat::Json] {
            let l = line(format, "2024-01-01T00:00:00Z", "error", "pushgateway", msg);
            assert!(!l.contains('\n'), "{l}");
            assert!(l.contains("error"), "{l}");
        }
        let json = line(LogFormat::Json, "t", "error", "s", msg);
        let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed["msg"], msg);
        assert_eq!(parsed["level"], "error");
    }

    #[test]
    fn logfmt_values_are_quoted_only_when_needed() {
        assert_eq!(logfmt_value("ok"), "ok");
        assert_eq!(logfmt_value("two words"), "\"two words\"");
        assert_eq!(logfmt_value("a\"b"), "\"a\\\"b\"");
        assert_eq!(logfmt_value(""), "\"\"");
    }
}
