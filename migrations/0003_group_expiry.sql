-- Opt-in expiry of groups, and the selector of deletes by label matcher.

-- When the group expires: Unix time in nanoseconds of its last successful push plus the
-- lifetime that push asked for (--push.expire-after, or its Pushgateway-Expire-After header).
-- 0 means never, as in the original, and is what every group stored before this migration
-- keeps.
ALTER TABLE metric_groups ADD COLUMN expires_ns INTEGER NOT NULL DEFAULT 0;

-- "Which groups are due": start-up expires the groups whose deadline passed while the gateway
-- was stopped. Partial, so groups that never expire (the default) write no page of it.
CREATE INDEX metric_groups_expires ON metric_groups (expires_ns) WHERE expires_ns > 0;

-- The series selector(s) of a DELETE_GROUPS record (POST /api/v1/admin/delete_groups), as
-- sent, several match[] joined with " or "; NULL for every other record. Method 'EXPIRE' marks
-- a group removed because its lifetime ran out. See docs/sql.md.
ALTER TABLE push_history ADD COLUMN selector TEXT;
