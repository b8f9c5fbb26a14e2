//! What keeps the `current_samples` view (migrations/0004_current_samples.sql) right: where a
//! family row finds its values, and the pruner's copy of the values a current family still
//! needs before its history record loses them.

use rusqlite::{params, Connection, Transaction};

/// Where a stored family's values are, for `current_samples`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FamilyValues<'a> {
    /// In the `samples` (or, values not recorded, `held_samples`) of this history record, the
    /// push that stored the family: nothing more is written.
    Record(i64),
    /// In no record: the family's own values, as
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
/// row itself. The rows are found from the records through their groups (indexed), so the
/// cost follows the records pruned, not the size of the store. Returns how many family rows
/// were given their own values.
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
                            FROM push_history h,
                                 json_each(coalesce(h.samples, h.held_samples)) s
                            WHERE h.id = f.history_id AND {FAMILY_FILTER}),
                 history_id = NULL
             WHERE (f.group_id, f.name) IN (
                 SELECT mf.group_id, mf.name
                 FROM push_history h
                 JOIN metric_groups g ON g.grouping_key = h.grouping_key
                 JOIN metric_families mf ON mf.group_id = g.id AND mf.history_id = h.id
                 WHERE h.id IN ({ids_sql})
                   AND (h.samples IS NOT NULL OR h.held_samples IS NOT NULL)
                   AND mf.samples IS NULL)"
        ),
        params![bound, limit],
    )
}

/// Empties, a batch at a time, the held values (values not recorded) of records that no
/// current family refers to any more; returns how many records let them go.
pub(super) fn release_held_values(conn: &mut Connection, batch: i64) -> rusqlite::Result<usize> {
    let mut released = 0;
    loop {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let n = tx.execute(
            "UPDATE push_history SET held_samples = NULL
             WHERE id IN (
                 SELECT h.id FROM push_history h
                 WHERE h.held_samples IS NOT NULL
                   AND NOT EXISTS (
                       SELECT 1 FROM metric_groups g
                       JOIN metric_families f ON f.group_id = g.id
                       WHERE g.grouping_key = h.grouping_key AND f.history_id = h.id)
                 ORDER BY h.id LIMIT ?1)",
            params![batch],
        )?;
        tx.commit()?;
        released += n;
        if n < batch as usize {
            return Ok(released);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grouping_key::GroupingKey;
    use crate::history::Request;
    use crate::store::history::{insert_record, PushRecord};
    use crate::store::{insert_group, open, prune::prune, upsert_family, FamilyRow, KeyColumns};

    /// Stores family `name` of `group`, with no protobuf, its values where `values` says.
    fn family(
        tx: &Transaction<'_>,
        group: i64,
        name: &str,
        type_name: &str,
        pushed_ns: i64,
        values: FamilyValues<'_>,
    ) {
        let row = FamilyRow {
            group_id: group,
            name,
            type_name,
            help: None,
            pushed_ns,
            series: 1,
            blob: b"",
            values,
        };
        upsert_family(tx, &row).unwrap();
    }

    fn current(conn: &rusqlite::Connection) -> Vec<(String, String, String)> {
        let mut stmt = conn
            .prepare(
                "SELECT metric, labels, CAST(value AS TEXT) FROM current_samples
                 WHERE metric NOT LIKE 'push_%' ORDER BY metric, labels",
            )
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn pruned_records_leave_their_values_to_the_families_that_still_show_them() {
        let pool = open(None).unwrap();
        let mut conn = pool.get().unwrap();
        let key = GroupingKey::from_labels([("job".to_string(), "j".to_string())]).unwrap();
        let columns = KeyColumns::of(&key);
        let request = Request {
            method: "PUT".into(),
            ..Request::default()
        };
        // g: a histogram recorded without its +Inf bucket (before the migration, values
        // were recorded as pushed), which the view adds as /metrics does.
        let samples = r#"[{"m":"a","l":{"x":"1"},"v":1.5},{"m":"a_count","v":7.0},{"m":"h_bucket","l":{"le":"+Inf"},"v":2.0},{"m":"h_sum","v":3.0},{"m":"h_count","v":2.0},{"m":"b","v":"NaN"},{"m":"g_bucket","l":{"x":"y","le":"1"},"v":1.0},{"m":"g_sum","l":{"x":"y"},"v":0.5},{"m":"g_count","l":{"x":"y"},"v":3.0}]"#;
        let tx = conn.transaction().unwrap();
        let group = insert_group(&tx, &columns, 1, 0, 1, 0).unwrap();
        let record = PushRecord {
            samples: Some((samples, 9)),
            ..PushRecord::bare(1, &request, Some(&columns), 200, None)
        };
        let id = insert_record(&tx, &record).unwrap();
        let families = [
            ("a", "GAUGE"),
            ("a_count", "GAUGE"),
            ("h", "HISTOGRAM"),
            ("g", "HISTOGRAM"),
        ];
        for (name, mtype) in families {
            let values = FamilyValues::Record(id);
            family(&tx, group, name, mtype, 1, values);
        }
        // A family with its own values (none recorded) is left as it is.
        let own = r#"[{"m":"b","v":"NaN"}]"#;
        family(&tx, group, "b", "UNTYPED", 1, FamilyValues::Own(own));
        tx.commit().unwrap();
        let before = current(&conn);
        assert_eq!(before.len(), 10, "{before:?}");
        let inf: Vec<_> = before.iter().filter(|r| r.1.contains("+Inf")).collect();
        assert_eq!(
            inf,
            [
                &(
                    "g_bucket".to_string(),
                    r#"{"job":"j","x":"y","le":"+Inf"}"#.to_string(),
                    "3.0".to_string()
                ),
                &(
                    "h_bucket".to_string(),
                    r#"{"job":"j","le":"+Inf"}"#.to_string(),
                    "2.0".to_string()
                ),
            ],
            "one +Inf bucket each, the one recorded or the count"
        );

        // Every record pruned (older than now), then values too: the view does not change.
        let pruned = prune(&mut conn, i64::MAX, 0, 0).unwrap();
        assert_eq!(pruned.records, 1);
        let left: i64 = conn
            .query_row("SELECT count(*) FROM push_history", [], |r| r.get(0))
            .unwrap();
        assert_eq!(left, 0);
        assert_eq!(current(&conn), before);
        let own: Vec<(String, Option<i64>, String)> = conn
            .prepare("SELECT name, history_id, samples FROM metric_families ORDER BY name")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            own[0].2, r#"[{"m":"a","l":{"x":"1"},"v":1.5}]"#,
            "only its own series"
        );
        assert_eq!(own[1].2, r#"[{"m":"a_count","v":7.0}]"#);
        assert!(own.iter().all(|(_, id, _)| id.is_none()));
    }

    #[test]
    fn held_values_stay_while_a_current_family_shows_them() {
        let pool = open(None).unwrap();
        let mut conn = pool.get().unwrap();
        let key = GroupingKey::from_labels([("job".to_string(), "j".to_string())]).unwrap();
        let columns = KeyColumns::of(&key);
        let request = Request::default();
        let held = |conn: &rusqlite::Connection| -> Vec<i64> {
            conn.prepare("SELECT id FROM push_history WHERE held_samples IS NOT NULL ORDER BY id")
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        };
        // Two pushes with values not recorded: the second replaces family a, not b.
        let tx = conn.transaction().unwrap();
        let group = insert_group(&tx, &columns, 1, 0, 1, 0).unwrap();
        let mut ids = Vec::new();
        for (v, families) in [(1, &["a", "b"][..]), (2, &["a"][..])] {
            let json = format!(r#"[{{"m":"a","v":{v}.0}},{{"m":"b","v":{v}.5}}]"#);
            let record = PushRecord {
                held: Some(&json),
                ..PushRecord::bare(v, &request, Some(&columns), 200, None)
            };
            let id = insert_record(&tx, &record).unwrap();
            ids.push(id);
            for name in families {
                let values = FamilyValues::Record(id);
                family(&tx, group, name, "GAUGE", v, values);
            }
        }
        tx.commit().unwrap();
        let shown = [
            (
                "a".to_string(),
                r#"{"job":"j"}"#.to_string(),
                "2.0".to_string(),
            ),
            (
                "b".to_string(),
                r#"{"job":"j"}"#.to_string(),
                "1.5".to_string(),
            ),
        ];
        assert_eq!(current(&conn), shown);
        // Both records are still referred to (b by the first): both keep their values.
        assert_eq!(release_held_values(&mut conn, 10).unwrap(), 0);
        assert_eq!(held(&conn), ids);
        // b pushed again: the first record lets its values go.
        let tx = conn.transaction().unwrap();
        family(&tx, group, "b", "GAUGE", 2, FamilyValues::Record(ids[1]));
        tx.commit().unwrap();
        assert_eq!(release_held_values(&mut conn, 10).unwrap(), 1);
        assert_eq!(held(&conn), [ids[1]]);
        assert_eq!(current(&conn)[1].2, "2.5");
        // Records pruned: the values move to the family rows.
        prune(&mut conn, i64::MAX, 0, 0).unwrap();
        assert!(held(&conn).is_empty());
        assert_eq!(current(&conn)[0].2, "2.0");
        assert_eq!(current(&conn)[1].2, "2.5");
    }
}
