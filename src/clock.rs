//! The wall clock as the gateway records times: Unix nanoseconds, as upstream's push times.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in Unix nanoseconds (0 on a clock set before 1970).
pub(crate) fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}
