//! What keeps the `current_samples` view (migrations/0004_current_samples.sql) right: where a
//! family row finds its values, and the pruner's copy of the values a current family still
//! needs before its history record loses them.

use rusqlite::{params, Transaction};

/// Where a stored family's values are, for `current_samples`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FamilyValues<'a> {
    /// In the `samples` of this history record (the push that stored the family): nothing
    /// more is written.
    Record(i64),
    /// Not in any record (values are not recorded): the family's own values, as
    /// [`crate::history::samples::SampleJson`] writes them.
    Own(&'a str),
}

impl<'a> FamilyValues<'a> {
    /// The row's `history_id` and `samples` columns.
    pub(super) fn columns(self) -> (Option<i64>, Option<&'a str>) {
        match self {
            FamilyValues::Record(id) => (Some(id), None),
            FamilyValues::Own(json) => (None, Some(json)),
        }
    }
}

/// The samples of family `f` among the samples `s` of a record (the view's filter).
const FAMILY_FILTER: &str = "CASE f.type
          WHEN 'SUMMARY' THEN json_extract(s.value, '$.m')
                              IN (f.name, f.name || '_sum', f.name || '_count')
          WHEN 'HISTOGRAM' THEN json_extract(s.value, '$.m')
                              IN (f.name || '_bucket', f.name || '_sum', f.name || '_count')
          WHEN 'GAUGE_HISTOGRAM' THEN json_extract(s.value, '$.m')
                              IN (f.name || '_bucket', f.name || '_sum', f.name || '_count')
          ELSE json_extract(s.value, '$.m') = f.name
      END";

/// Before the records `ids_sql` selects (with `?1`, `?2` bound to `bound`, `limit`) lose their
/// values, copies the values of each family row that still refers to one of them into the
/// row itself. Returns how many family rows were given their own values.
pub(super) fn keep_current_values(
    tx: &Transaction<'_>,
    ids_sql: &str,
    bound: i64,
    limit: i64,
) -> rusqlite::Result<usize> {
    tx.execute(
        &format!(
            "UPDATE metric_families AS f
             SET samples = (SELECT json_group_array(json(s.value))
                            FROM push_history h, json_each(h.samples) s
                            WHERE h.id = f.history_id AND {FAMILY_FILTER}),
                 history_id = NULL
             WHERE f.samples IS NULL
               AND f.history_id IN ({ids_sql})
               AND EXISTS (SELECT 1 FROM push_history h
                           WHERE h.id = f.history_id AND h.samples IS NOT NULL)"
        ),
        params![bound, limit],
    )
}
