//! A group's pushed values over time, read from the history for the charts (on the caller's
//! thread: the HTTP layer calls it on the blocking pool).

use super::{Gateway, GatewayError};
use crate::history::series::{build, SeriesAnswer, SeriesQuery};
use crate::store;

impl Gateway {
    /// The series `query` asks for, from the group's history records in its time range
    /// (bounded: see [`crate::history::series::MAX_RECORDS`]), downsampled to its
    /// `max_points`.
    pub(crate) fn history_series(&self, query: &SeriesQuery) -> Result<SeriesAnswer, GatewayError> {
        let read = {
            let conn = self.pool.get()?;
            store::series::group_records(&conn, &query.grouping_key, query.from_ns, query.to_ns)?
        };
        Ok(build(query, read))
    }
}
