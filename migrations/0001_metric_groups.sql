-- The current state of every metric group: what /metrics serves. The in-memory cache is
-- warmed from these two tables at start-up; every push, delete and failed-push record changes
-- them in one transaction that commits before the HTTP answer is sent.

-- One row per grouping key (the labels in the push URL).
CREATE TABLE metric_groups (
    id              INTEGER PRIMARY KEY,
    -- Canonical form, labels sorted by name: {instance="web-1",job="backup"}.
    grouping_key    TEXT    NOT NULL UNIQUE,
    -- The same labels as a JSON object, for json_extract(labels, '$.instance').
    labels          TEXT    NOT NULL,
    job             TEXT    NOT NULL,
    -- Unix time in nanoseconds; 0 means never. push_time_seconds / push_failure_time_seconds.
    last_push_ns    INTEGER NOT NULL DEFAULT 0,
    last_failure_ns INTEGER NOT NULL DEFAULT 0,
    created_ns      INTEGER NOT NULL
);

-- Jobs are what operators ask about first ("when did backup last push?").
CREATE INDEX metric_groups_job ON metric_groups (job);

-- One row per metric family of a group, as last pushed.
CREATE TABLE metric_families (
    group_id   INTEGER NOT NULL REFERENCES metric_groups (id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    -- COUNTER, GAUGE, SUMMARY, UNTYPED, HISTOGRAM or GAUGE_HISTOGRAM.
    type       TEXT    NOT NULL,
    help       TEXT,
    -- Unix time in nanoseconds of the push that stored this family.
    pushed_ns  INTEGER NOT NULL,
    -- Number of series (metrics) in the family.
    series     INTEGER NOT NULL,
    -- The family as an io.prometheus.client.MetricFamily protobuf message, labels already
    -- merged with the grouping key and sorted; the exact bytes the protobuf exposition serves.
    family     BLOB    NOT NULL,
    PRIMARY KEY (group_id, name)
) WITHOUT ROWID;
