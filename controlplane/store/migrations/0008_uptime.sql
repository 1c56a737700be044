-- Heartbeats per device per hour, rolled up from raw telemetry before it
-- is pruned, so uptime over a week survives the raw samples' retention.
CREATE TABLE uptime_hourly (
    device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    hour      INTEGER NOT NULL, -- unix ms of the hour's start
    beats     INTEGER NOT NULL CHECK (beats >= 0),
    PRIMARY KEY (device_id, hour)
) STRICT, WITHOUT ROWID;
CREATE INDEX uptime_hourly_hour ON uptime_hourly(hour);

-- Raw telemetry before through_ms is counted in uptime_hourly; after it,
-- uptime counts the raw rows.
CREATE TABLE uptime_rollup (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    through_ms INTEGER NOT NULL
) STRICT;
INSERT INTO uptime_rollup(id, through_ms) VALUES (1, 0);
