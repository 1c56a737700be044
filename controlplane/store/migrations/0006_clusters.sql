-- Clusters: a requester's set of devices running one runtime (Ray) for a
-- number of hours. A device is reserved while it has a cluster_nodes row
-- not yet released; the partial unique index makes double-booking
-- impossible whatever the code above it does.

CREATE TABLE clusters (
    id             TEXT PRIMARY KEY,
    owner_id       TEXT NOT NULL REFERENCES users(id),
    idem_key       TEXT, -- the deploy's Idempotency-Key
    request        TEXT NOT NULL, -- canonical JSON of what was asked
    quote_id       TEXT,
    runtime        TEXT NOT NULL DEFAULT 'ray',
    state          TEXT NOT NULL CHECK (state IN ('pending', 'provisioning', 'running', 'degraded', 'terminating', 'terminated', 'failed')),
    reason         TEXT NOT NULL DEFAULT '', -- why it failed or ended
    gpus           INTEGER NOT NULL CHECK (gpus > 0),
    hours          INTEGER NOT NULL CHECK (hours > 0),
    price_per_hour INTEGER NOT NULL CHECK (price_per_hour >= 0), -- micro-USD, the whole cluster at deploy
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    ready_at       INTEGER,
    expires_at     INTEGER, -- ready_at + hours, moved by extend
    ended_at       INTEGER,
    UNIQUE (owner_id, idem_key)
) STRICT;
CREATE INDEX clusters_owner ON clusters(owner_id, created_at);
CREATE INDEX clusters_state ON clusters(state);

CREATE TABLE cluster_nodes (
    id                 INTEGER PRIMARY KEY,
    cluster_id         TEXT NOT NULL REFERENCES clusters(id),
    device_id          TEXT NOT NULL, -- no foreign key: history outlives devices
    assignment_id      TEXT NOT NULL UNIQUE REFERENCES usage_assignments(id),
    role               TEXT NOT NULL CHECK (role IN ('head', 'worker')),
    state              TEXT NOT NULL CHECK (state IN ('starting', 'joined', 'draining', 'stopping', 'left')),
    gpus               INTEGER NOT NULL,
    gpu_model          TEXT NOT NULL,
    region             TEXT NOT NULL DEFAULT '',
    price_per_gpu_hour INTEGER NOT NULL,
    reason             TEXT NOT NULL DEFAULT '', -- why it left
    created_at         INTEGER NOT NULL,
    joined_at          INTEGER,
    leave_at           INTEGER, -- draining: when it will be stopped
    released_at        INTEGER  -- the device is free again
) STRICT;
CREATE UNIQUE INDEX cluster_nodes_reserved ON cluster_nodes(device_id) WHERE released_at IS NULL;
CREATE INDEX cluster_nodes_cluster ON cluster_nodes(cluster_id, id);

CREATE TABLE cluster_events (
    id         INTEGER PRIMARY KEY,
    cluster_id TEXT NOT NULL REFERENCES clusters(id),
    at         INTEGER NOT NULL,
    kind       TEXT NOT NULL, -- created, provisioning, ready, degraded, node_lost, notice, ...
    message    TEXT NOT NULL
) STRICT;
CREATE INDEX cluster_events_cluster ON cluster_events(cluster_id, id);

-- What an agent can run and where its owner says it is.
ALTER TABLE devices ADD COLUMN runtimes TEXT NOT NULL DEFAULT ''; -- comma-separated runtime names
ALTER TABLE devices ADD COLUMN region TEXT NOT NULL DEFAULT '';
