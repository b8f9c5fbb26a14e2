-- Pushed history: one row per change request (PUT, POST, DELETE, wipe), accepted or rejected,
-- written in the same transaction as the change it records. The original keeps none of this.

CREATE TABLE push_history (
    id             INTEGER PRIMARY KEY,
    -- Unix time in nanoseconds when the request was handled; `time` is the same, readable (UTC).
    time_ns        INTEGER NOT NULL,
    time           TEXT    NOT NULL,
    -- PUT, POST, DELETE or WIPE.
    method         TEXT    NOT NULL,
    -- The request path as sent (still percent-encoded).
    path           TEXT    NOT NULL,
    -- The group, when the path named a valid one: {instance="a",job="b"}, its labels as JSON, its job.
    grouping_key   TEXT,
    labels         TEXT,
    job            TEXT,
    -- HTTP status answered, and 'accepted' or 'rejected'.
    status         INTEGER NOT NULL,
    outcome        TEXT    NOT NULL CHECK (outcome IN ('accepted', 'rejected')),
    -- Why it was rejected (the body of the 4xx answer), NULL when accepted.
    error          TEXT,
    -- Size of the request body as received (before Content-Encoding was undone).
    body_bytes     INTEGER NOT NULL DEFAULT 0,
    -- Metric families and series in the body, when it parsed.
    families       INTEGER,
    series         INTEGER,
    -- Who pushed: the client's address and, with basic auth, the user.
    client_address TEXT,
    user           TEXT,
    -- The values of an accepted push: a JSON array with one object per sample,
    -- {"m": "backup_bytes", "l": {"target": "s3"}, "v": 1.2e9}: metric name, the sample's labels
    -- beyond the grouping labels (left out when none), and the value (a string "NaN", "+Inf" or
    -- "-Inf" when not finite). NULL when values are not recorded or were pruned. One column
    -- rather than one row per sample keeps the cost of recording on the push path small; the
    -- sample_history view expands it.
    samples        TEXT,
    -- How many samples `samples` holds (0 when NULL).
    sample_count   INTEGER NOT NULL DEFAULT 0
);

-- "Recent pushes of this group", "who pushed this group".
CREATE INDEX push_history_group ON push_history (grouping_key, time_ns);
-- "Which pushes failed in the last hour". Partial, so an accepted push (the common case)
-- writes no page of it; a time range over all records follows `id`, which grows with time.
CREATE INDEX push_history_failed ON push_history (time_ns) WHERE outcome = 'rejected';

-- Rejected pushes (and deletes), with the reason and who sent them.
CREATE VIEW failed_pushes AS
SELECT id, time, time_ns, method, grouping_key, job, status, error, client_address, user
FROM push_history
WHERE outcome = 'rejected';

-- One row per sample value pushed, with when and by which group; labels are all of the
-- sample's labels, grouping labels included.
CREATE VIEW sample_history AS
SELECT h.time,
       h.time_ns,
       h.grouping_key,
       h.job,
       json_extract(s.value, '$.m')                                       AS metric,
       json_patch(h.labels, coalesce(json_extract(s.value, '$.l'), '{}')) AS labels,
       json_extract(s.value, '$.v')                                       AS value,
       h.id                                                  AS push_id
FROM push_history h, json_each(h.samples) s
WHERE h.samples IS NOT NULL;

-- Each group's last successful and last failed push, from the current state.
CREATE VIEW group_status AS
SELECT job,
       grouping_key,
       CASE WHEN last_push_ns > 0
            THEN strftime('%Y-%m-%dT%H:%M:%fZ', last_push_ns / 1e9, 'unixepoch') END AS last_success,
       CASE WHEN last_failure_ns > 0
            THEN strftime('%Y-%m-%dT%H:%M:%fZ', last_failure_ns / 1e9, 'unixepoch') END AS last_failure,
       last_failure_ns <= last_push_ns AS last_push_successful
FROM metric_groups;
