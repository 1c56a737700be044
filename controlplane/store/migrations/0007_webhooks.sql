-- Webhooks: an account's URL that hears about its devices' alerts (rig
-- offline, verification failed), signed with the account's secret.
CREATE TABLE webhooks (
    user_id    TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    url        TEXT NOT NULL,
    secret     BLOB NOT NULL, -- HMAC-SHA256 key for X-Idlegrid-Signature; shown once
    created_at INTEGER NOT NULL
) STRICT;

-- Alerts raised on devices; cleared_at is set when the condition ends.
CREATE TABLE device_alerts (
    id         INTEGER PRIMARY KEY,
    device_id  TEXT NOT NULL, -- no foreign key: history outlives devices
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK (kind IN ('rig_offline', 'verification_failed')),
    message    TEXT NOT NULL,
    raised_at  INTEGER NOT NULL,
    cleared_at INTEGER
) STRICT;
CREATE UNIQUE INDEX device_alerts_open ON device_alerts(device_id, kind) WHERE cleared_at IS NULL;

-- Webhook deliveries, kept until delivered or given up on.
CREATE TABLE webhook_deliveries (
    id           INTEGER PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    event        TEXT NOT NULL, -- the JSON body sent
    created_at   INTEGER NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_at      INTEGER NOT NULL,
    delivered_at INTEGER,
    failed_at    INTEGER, -- given up after the last attempt
    last_error   TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_at) WHERE delivered_at IS NULL AND failed_at IS NULL;
CREATE INDEX webhook_deliveries_user ON webhook_deliveries(user_id, id);
