-- current_samples: the values every group exposes now, one row per series as /metrics shows
-- it, readable in SQL after the group's history is pruned.
--
-- A push writes no extra row for it: each family row names the history record that holds its
-- values (`history_id`): in `samples`, or, when values are not recorded (--history.max-rows=0),
-- in `held_samples`, which the pruner empties once no current family refers to the record.
-- When the pruner is about to drop a record's values that a current family still shows (and
-- for a group imported from the original's file with values not recorded), the family row
-- keeps its own values, in `samples`, in the same JSON form filtered to the family.
ALTER TABLE metric_families ADD COLUMN history_id INTEGER;
ALTER TABLE metric_families ADD COLUMN samples TEXT;
ALTER TABLE push_history ADD COLUMN held_samples TEXT;
-- The records whose held values the pruner checks; an accepted push with values recorded
-- (the default) writes no entry.
CREATE INDEX push_history_held ON push_history (id) WHERE held_samples IS NOT NULL;

-- Families stored before this migration: the record of the push that stored them (same
-- group, same time).
UPDATE metric_families
SET history_id = (
    SELECT max(h.id)
    FROM push_history h JOIN metric_groups g ON h.grouping_key = g.grouping_key
    WHERE g.id = metric_families.group_id
      AND h.time_ns = metric_families.pushed_ns
      AND h.outcome = 'accepted'
      AND h.samples IS NOT NULL);

-- One row per series a group exposes: its pushed families' samples (a histogram's buckets,
-- sum and count; a summary's quantiles, sum and count) and the group's push_time_seconds and
-- push_failure_time_seconds (which, as every series of a group, carry instance="" when the
-- grouping key has no instance). `labels` holds all of a series' labels, grouping labels
-- included; `value` is a number, or "NaN", "+Inf", "-Inf"; `pushed` is when the family (or
-- for the two timestamps, the group) was last pushed, in UTC.
CREATE VIEW current_samples AS
SELECT g.grouping_key                                                     AS "group",
       g.job,
       json_extract(s.value, '$.m')                                       AS metric,
       json_patch(g.labels, coalesce(json_extract(s.value, '$.l'), '{}')) AS labels,
       json_extract(s.value, '$.v')                                       AS value,
       strftime('%Y-%m-%dT%H:%M:%fZ', f.pushed_ns / 1e9, 'unixepoch')     AS pushed,
       f.pushed_ns
FROM metric_families f
JOIN metric_groups g ON g.id = f.group_id
LEFT JOIN push_history h ON h.id = f.history_id AND f.samples IS NULL
JOIN json_each(coalesce(f.samples, h.samples, h.held_samples)) s
WHERE CASE f.type
          WHEN 'SUMMARY' THEN json_extract(s.value, '$.m')
                              IN (f.name, f.name || '_sum', f.name || '_count')
          WHEN 'HISTOGRAM' THEN json_extract(s.value, '$.m')
                              IN (f.name || '_bucket', f.name || '_sum', f.name || '_count')
          WHEN 'GAUGE_HISTOGRAM' THEN json_extract(s.value, '$.m')
                              IN (f.name || '_bucket', f.name || '_sum', f.name || '_count')
          ELSE json_extract(s.value, '$.m') = f.name
      END
UNION ALL
-- A histogram's le="+Inf" bucket, which /metrics always shows, for values recorded without it
-- (before this migration the history left it out when the push did): its count.
SELECT g.grouping_key, g.job, f.name || '_bucket',
       json_patch(json_patch(g.labels, coalesce(json_extract(s.value, '$.l'), '{}')),
                  '{"le":"+Inf"}'),
       json_extract(s.value, '$.v'),
       strftime('%Y-%m-%dT%H:%M:%fZ', f.pushed_ns / 1e9, 'unixepoch'),
       f.pushed_ns
FROM metric_families f
JOIN metric_groups g ON g.id = f.group_id
LEFT JOIN push_history h ON h.id = f.history_id AND f.samples IS NULL
JOIN json_each(coalesce(f.samples, h.samples, h.held_samples)) s
WHERE f.type IN ('HISTOGRAM', 'GAUGE_HISTOGRAM')
  AND json_extract(s.value, '$.m') = f.name || '_count'
  AND NOT EXISTS (
      SELECT 1 FROM json_each(coalesce(f.samples, h.samples, h.held_samples)) b
      WHERE json_extract(b.value, '$.m') = f.name || '_bucket'
        AND json_extract(b.value, '$.l.le') = '+Inf'
        AND json_remove(json_extract(b.value, '$.l'), '$.le')
            = coalesce(json_extract(s.value, '$.l'), '{}'))
UNION ALL
SELECT g.grouping_key, g.job, 'push_time_seconds', json_patch('{"instance":""}', g.labels), g.last_push_ns / 1e9,
       CASE WHEN g.last_push_ns > 0
            THEN strftime('%Y-%m-%dT%H:%M:%fZ', g.last_push_ns / 1e9, 'unixepoch') END,
       g.last_push_ns
FROM metric_groups g
UNION ALL
SELECT g.grouping_key, g.job, 'push_failure_time_seconds', json_patch('{"instance":""}', g.labels), g.last_failure_ns / 1e9,
       CASE WHEN g.last_failure_ns > 0
            THEN strftime('%Y-%m-%dT%H:%M:%fZ', g.last_failure_ns / 1e9, 'unixepoch') END,
       g.last_failure_ns
FROM metric_groups g;
