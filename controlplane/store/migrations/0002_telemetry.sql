-- Raw telemetry from heartbeats, written in batches by the hub and pruned
-- after the retention period. ts is the server's receive time (ms): agent
-- clocks may be off by minutes.

CREATE TABLE telemetry_gpu (
    device_id      TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    ts             INTEGER NOT NULL,
    idx            INTEGER NOT NULL,
    temp_c         INTEGER NOT NULL,
    power_mw       INTEGER NOT NULL,
    power_limit_mw INTEGER NOT NULL,
    util_pct       INTEGER NOT NULL,
    mem_used       INTEGER NOT NULL,
    mem_total      INTEGER NOT NULL,
    fan_pct        INTEGER NOT NULL,
    sm_clock_mhz   INTEGER NOT NULL,
    PRIMARY KEY (device_id, ts, idx)
) STRICT, WITHOUT ROWID;
CREATE INDEX telemetry_gpu_ts ON telemetry_gpu(ts);

CREATE TABLE telemetry_host (
    device_id  TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    ts         INTEGER NOT NULL,
    seq        INTEGER NOT NULL,
    state      TEXT NOT NULL,
    cpu_pct    REAL NOT NULL,
    mem_used   INTEGER NOT NULL,
    mem_total  INTEGER NOT NULL,
    disk_used  INTEGER NOT NULL,
    disk_total INTEGER NOT NULL,
    net_rx     INTEGER NOT NULL,
    net_tx     INTEGER NOT NULL,
    PRIMARY KEY (device_id, ts)
) STRICT, WITHOUT ROWID;
CREATE INDEX telemetry_host_ts ON telemetry_host(ts);
