-- Payouts of supplier earnings, and the batches (Solana transactions) that
-- carry them. A batch's signed bytes, blockhash and last valid block
-- height are stored before it is sent, so a restart can reconcile it:
-- signature found → done; blockhash expired and signature unknown → safe
-- to rebuild; otherwise wait.

ALTER TABLE users ADD COLUMN payout_wallet TEXT NOT NULL DEFAULT '';

CREATE TABLE payout_batches (
    id                TEXT PRIMARY KEY,
    state             TEXT NOT NULL CHECK (state IN ('sent', 'finalized', 'failed', 'expired', 'parked')),
    tx                BLOB NOT NULL,   -- the signed transaction
    signature         TEXT NOT NULL,
    blockhash         TEXT NOT NULL,
    last_valid_height INTEGER NOT NULL,
    legs              INTEGER NOT NULL,
    attempts          INTEGER NOT NULL DEFAULT 1,
    reason            TEXT NOT NULL DEFAULT '',
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
) STRICT;
CREATE INDEX payout_batches_state ON payout_batches(state);

CREATE TABLE payouts (
    id              TEXT PRIMARY KEY, -- also the ledger key
    user_id         TEXT NOT NULL REFERENCES users(id),
    wallet          TEXT NOT NULL,
    amount          INTEGER NOT NULL CHECK (amount > 0), -- micro-USD moved out of payable
    token_amount    INTEGER NOT NULL CHECK (token_amount >= 0), -- base units
    micros_per_token INTEGER NOT NULL, -- the rate used
    decimals        INTEGER NOT NULL,
    mint            TEXT NOT NULL,
    mode            TEXT NOT NULL CHECK (mode IN ('ledger', 'onchain')),
    state           TEXT NOT NULL CHECK (state IN ('queued', 'sent', 'paid', 'parked')),
    batch_id        TEXT REFERENCES payout_batches(id),
    reason          TEXT NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    paid_at         INTEGER
) STRICT;
CREATE INDEX payouts_state ON payouts(state);
CREATE INDEX payouts_user ON payouts(user_id, created_at);
CREATE INDEX payouts_batch ON payouts(batch_id);
