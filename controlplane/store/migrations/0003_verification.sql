-- Verifiable compute challenges, verification state per device, GPU UUID
-- sightings (a UUID on two accounts is flagged) and benchmark reports.

CREATE TABLE challenges (
    id           TEXT PRIMARY KEY,
    device_id    TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    seed         BLOB NOT NULL CHECK (length(seed) = 32),
    n            INTEGER NOT NULL,
    k            INTEGER NOT NULL,
    issued_at    INTEGER NOT NULL,
    committed_at INTEGER,
    root         BLOB,
    elapsed_ms   INTEGER,
    rows_json    TEXT NOT NULL DEFAULT '[]',
    finished_at  INTEGER,
    passed       INTEGER CHECK (passed IN (0, 1)),
    counted      INTEGER NOT NULL DEFAULT 1 CHECK (counted IN (0, 1)), -- 0: abandoned by us, not the device's fault
    reason       TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX challenges_device ON challenges(device_id, issued_at);

ALTER TABLE devices ADD COLUMN inventory_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN verified_at INTEGER;
ALTER TABLE devices ADD COLUMN verified_inventory TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN verify_failed_at INTEGER;
ALTER TABLE devices ADD COLUMN verify_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN flag_reason TEXT NOT NULL DEFAULT '';

CREATE TABLE gpu_sightings (
    uuid       TEXT NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    device_id  TEXT NOT NULL,
    name       TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    PRIMARY KEY (uuid, user_id)
) STRICT;

CREATE TABLE benchmarks (
    id          INTEGER PRIMARY KEY,
    device_id   TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    measured_at INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    score       REAL NOT NULL,
    tier        TEXT NOT NULL,
    report      TEXT NOT NULL
) STRICT;
CREATE INDEX benchmarks_device ON benchmarks(device_id, received_at);
-- A device resends its newest report at every start: keep one copy.
CREATE UNIQUE INDEX benchmarks_once ON benchmarks(device_id, measured_at);
