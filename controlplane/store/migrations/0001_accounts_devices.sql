-- Accounts, console sessions, API keys, device pairing and devices.
-- Times are unix milliseconds (server clock). Secrets are stored as SHA-256.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE sessions (
    token_hash BLOB PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    key_hash     BLOB NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
) STRICT;
CREATE INDEX api_keys_user ON api_keys(user_id);

CREATE TABLE pairing_codes (
    code_hash  BLOB PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    device_id  TEXT
) STRICT;

CREATE TABLE enrollment_tokens (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    prefix     TEXT NOT NULL,
    token_hash BLOB NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER,
    uses       INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX enrollment_tokens_user ON enrollment_tokens(user_id);

CREATE TABLE devices (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    public_key    BLOB NOT NULL UNIQUE CHECK (length(public_key) = 32),
    created_at    INTEGER NOT NULL,
    last_seen_at  INTEGER,
    agent_version TEXT NOT NULL DEFAULT '',
    simulated     INTEGER NOT NULL DEFAULT 0 CHECK (simulated IN (0, 1)),
    host_json     TEXT NOT NULL DEFAULT '{}',
    gpu_status    TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX devices_user ON devices(user_id);
CREATE INDEX devices_last_seen ON devices(last_seen_at);

CREATE TABLE device_gpus (
    device_id    TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    idx          INTEGER NOT NULL,
    uuid         TEXT NOT NULL,
    name         TEXT NOT NULL,
    memory_total INTEGER NOT NULL,
    driver       TEXT NOT NULL DEFAULT '',
    simulated    INTEGER NOT NULL DEFAULT 0 CHECK (simulated IN (0, 1)),
    PRIMARY KEY (device_id, idx)
) STRICT;
