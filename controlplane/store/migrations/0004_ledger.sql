-- Double-entry ledger. Every transaction's postings sum to zero; balances
-- are derived from postings, with a cached total per account that
-- ledger.Check verifies. Amounts are micro-USD integers. Ledger rows never
-- cascade away: money records outlive devices.

CREATE TABLE ledger_accounts (
    id         TEXT PRIMARY KEY, -- e.g. requester:usr_x, supplier_pending:usr_x, platform:fees
    kind       TEXT NOT NULL CHECK (kind IN ('requester', 'supplier_pending', 'supplier_payable', 'platform_fees', 'payouts_clearing', 'external')),
    user_id    TEXT REFERENCES users(id),
    balance    INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX ledger_accounts_user ON ledger_accounts(user_id);

CREATE TABLE ledger_txns (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL, -- topup, faucet, charge, release, payout, payout_settled
    idem_key    TEXT NOT NULL UNIQUE,
    memo        TEXT NOT NULL DEFAULT '',
    ref         TEXT NOT NULL DEFAULT '', -- assignment, cluster or payout it belongs to
    created_at  INTEGER NOT NULL,
    released_at INTEGER -- charges: when the supplier's share became payable
) STRICT;
CREATE INDEX ledger_txns_kind ON ledger_txns(kind, created_at);
CREATE INDEX ledger_txns_ref ON ledger_txns(ref);

CREATE TABLE ledger_postings (
    id         INTEGER PRIMARY KEY,
    txn_id     INTEGER NOT NULL REFERENCES ledger_txns(id),
    account_id TEXT NOT NULL REFERENCES ledger_accounts(id),
    amount     INTEGER NOT NULL CHECK (amount <> 0)
) STRICT;
CREATE INDEX ledger_postings_account ON ledger_postings(account_id, txn_id);
CREATE INDEX ledger_postings_txn ON ledger_postings(txn_id);

-- Usage: one row per device assigned to a cluster. Metering advances
-- settled_until window by window; billed_ms and charged are totals, so the
-- charge of each window is the difference of two exact floors and no
-- rounding drifts.
CREATE TABLE usage_assignments (
    id             TEXT PRIMARY KEY,
    cluster_id     TEXT NOT NULL,
    device_id      TEXT NOT NULL,
    requester_id   TEXT NOT NULL REFERENCES users(id),
    supplier_id    TEXT NOT NULL REFERENCES users(id),
    price_per_hour INTEGER NOT NULL CHECK (price_per_hour >= 0), -- requester's micro-USD per hour for this device
    fee_bp         INTEGER NOT NULL CHECK (fee_bp BETWEEN 0 AND 10000),
    created_at     INTEGER NOT NULL,
    ready_at       INTEGER, -- billing starts when the cluster is ready
    ended_at       INTEGER,
    settled_until  INTEGER,
    billed_ms      INTEGER NOT NULL DEFAULT 0,
    charged        INTEGER NOT NULL DEFAULT 0,
    unpaid         INTEGER NOT NULL DEFAULT 0, -- what could not be charged for lack of credit
    unpaid_since   INTEGER -- when the requester first ran out of credit on it
) STRICT;
CREATE INDEX usage_assignments_open ON usage_assignments(ended_at, settled_until);
CREATE INDEX usage_assignments_requester ON usage_assignments(requester_id, created_at);
CREATE INDEX usage_assignments_supplier ON usage_assignments(supplier_id, created_at);

-- Signed usage receipts, one per finished assignment.
CREATE TABLE receipts (
    id            TEXT PRIMARY KEY,
    assignment_id TEXT NOT NULL UNIQUE REFERENCES usage_assignments(id),
    requester_id  TEXT NOT NULL,
    supplier_id   TEXT NOT NULL,
    body          TEXT NOT NULL, -- canonical JSON that was signed
    signature     BLOB NOT NULL,
    created_at    INTEGER NOT NULL
) STRICT;

-- Quotes: a price promised for a short time. A deploy with an expired or
-- changed quote is re-quoted, never silently charged more.
CREATE TABLE quotes (
    id             TEXT PRIMARY KEY,
    user_id        TEXT NOT NULL REFERENCES users(id),
    request        TEXT NOT NULL, -- canonical JSON of what was asked
    devices        TEXT NOT NULL, -- JSON: device ids and their prices
    gpus           INTEGER NOT NULL,
    hours          INTEGER NOT NULL,
    price_per_hour INTEGER NOT NULL, -- micro-USD per hour for the whole cluster
    total          INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL
) STRICT;
