package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// SetPayoutWallet records the account's payout address (validated by the
// caller).
func SetPayoutWallet(ctx context.Context, tx *sql.Tx, userID, wallet string) error {
	return expectOne(tx.ExecContext(ctx, `UPDATE users SET payout_wallet = ? WHERE id = ?`, wallet, userID))
}

// PayoutWallet reads the account's payout address ("" when unset).
func PayoutWallet(ctx context.Context, q Querier, userID string) (string, error) {
	var w string
	err := q.QueryRowContext(ctx, `SELECT payout_wallet FROM users WHERE id = ?`, userID).Scan(&w)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	return w, err
}

// PayableAccount is a supplier with a payable balance and a wallet.
type PayableAccount struct {
	UserID  string
	Wallet  string
	Payable int64
}

// PayableAccounts lists suppliers whose payable balance is at least min,
// with their wallets ("" when unset).
func PayableAccounts(ctx context.Context, q Querier, min int64) ([]PayableAccount, error) {
	rows, err := q.QueryContext(ctx, `SELECT a.user_id, u.payout_wallet, a.balance FROM ledger_accounts a JOIN users u ON u.id = a.user_id
		WHERE a.kind = 'supplier_payable' AND a.balance >= ? AND a.balance > 0 ORDER BY a.user_id`, min)
	if err != nil {
		return nil, fmt.Errorf("listing payable accounts: %w", err)
	}
	defer rows.Close()
	var out []PayableAccount
	for rows.Next() {
		var p PayableAccount
		if err := rows.Scan(&p.UserID, &p.Wallet, &p.Payable); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// Payout is one payment to one supplier.
type Payout struct {
	ID, UserID, Wallet string
	Amount             int64
	TokenAmount        int64
	MicrosPerToken     int64
	Decimals           int
	Mint, Mode, State  string
	BatchID            string
	Reason             string
	CreatedAt, PaidAt  time.Time
	Signature          string // of its batch, when on chain
}

// InsertPayout records a payout.
func InsertPayout(ctx context.Context, tx *sql.Tx, p Payout) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO payouts(id, user_id, wallet, amount, token_amount, micros_per_token, decimals, mint, mode, state, reason, created_at, paid_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.ID, p.UserID, p.Wallet, p.Amount, p.TokenAmount, p.MicrosPerToken, p.Decimals, p.Mint, p.Mode, p.State, p.Reason, ms(p.CreatedAt), nullMS(p.PaidAt))
	if err != nil {
		return fmt.Errorf("inserting payout: %w", err)
	}
	return nil
}

func nullMS(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return ms(t)
}

const payoutCols = `p.id, p.user_id, p.wallet, p.amount, p.token_amount, p.micros_per_token, p.decimals, p.mint, p.mode, p.state, coalesce(p.batch_id, ''), p.reason, p.created_at, p.paid_at, coalesce(b.signature, '')`

func scanPayouts(rows *sql.Rows) ([]Payout, error) {
	defer rows.Close()
	var out []Payout
	for rows.Next() {
		var p Payout
		var created int64
		var paid sql.NullInt64
		if err := rows.Scan(&p.ID, &p.UserID, &p.Wallet, &p.Amount, &p.TokenAmount, &p.MicrosPerToken, &p.Decimals, &p.Mint, &p.Mode, &p.State, &p.BatchID, &p.Reason, &created, &paid, &p.Signature); err != nil {
			return nil, err
		}
		p.CreatedAt, p.PaidAt = fromMS(created), fromNullMS(paid)
		out = append(out, p)
	}
	return out, rows.Err()
}

// PayoutsInState lists payouts in a state, oldest first.
func PayoutsInState(ctx context.Context, q Querier, state string) ([]Payout, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+payoutCols+` FROM payouts p LEFT JOIN payout_batches b ON b.id = p.batch_id WHERE p.state = ? ORDER BY p.created_at, p.id`, state)
	if err != nil {
		return nil, fmt.Errorf("listing payouts: %w", err)
	}
	return scanPayouts(rows)
}

// PayoutsOf lists a user's payouts, newest first.
func PayoutsOf(ctx context.Context, q Querier, userID string) ([]Payout, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+payoutCols+` FROM payouts p LEFT JOIN payout_batches b ON b.id = p.batch_id WHERE p.user_id = ? ORDER BY p.created_at DESC, p.id`, userID)
	if err != nil {
		return nil, fmt.Errorf("listing payouts: %w", err)
	}
	return scanPayouts(rows)
}

// PayoutsOfBatch lists a batch's payouts.
func PayoutsOfBatch(ctx context.Context, q Querier, batchID string) ([]Payout, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+payoutCols+` FROM payouts p LEFT JOIN payout_batches b ON b.id = p.batch_id WHERE p.batch_id = ? ORDER BY p.id`, batchID)
	if err != nil {
		return nil, fmt.Errorf("listing batch payouts: %w", err)
	}
	return scanPayouts(rows)
}

// SetPayoutState moves payouts between states, checking where they come
// from so that no payout is moved twice.
func SetPayoutState(ctx context.Context, tx *sql.Tx, ids []string, from, to, batchID, reason string, at time.Time) error {
	for _, id := range ids {
		var batch any
		if batchID != "" {
			batch = batchID
		}
		paid := any(nil)
		if to == "paid" {
			paid = ms(at)
		}
		res, err := tx.ExecContext(ctx, `UPDATE payouts SET state = ?, batch_id = coalesce(?, CASE WHEN ? = 'queued' THEN NULL ELSE batch_id END), reason = ?, paid_at = coalesce(?, paid_at) WHERE id = ? AND state = ?`,
			to, batch, to, reason, paid, id, from)
		if err != nil {
			return fmt.Errorf("moving payout %s to %s: %w", id, to, err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("payout %s is not %s: %w", id, from, ErrConflict)
		}
	}
	return nil
}

// Batch is one on-chain transaction of payouts.
type Batch struct {
	ID, State, Signature, Blockhash string
	Tx                              []byte
	LastValidHeight                 uint64
	Legs, Attempts                  int
	Reason                          string
	CreatedAt, UpdatedAt            time.Time
}

// InsertBatch records a signed batch before it is sent.
func InsertBatch(ctx context.Context, tx *sql.Tx, b Batch) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO payout_batches(id, state, tx, signature, blockhash, last_valid_height, legs, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		b.ID, b.State, b.Tx, b.Signature, b.Blockhash, int64(b.LastValidHeight), b.Legs, ms(b.CreatedAt), ms(b.CreatedAt))
	if err != nil {
		return fmt.Errorf("inserting batch: %w", err)
	}
	return nil
}

// SetBatchState moves a batch from one state to another.
func SetBatchState(ctx context.Context, tx *sql.Tx, id, from, to, reason string, at time.Time) error {
	if err := expectOne(tx.ExecContext(ctx, `UPDATE payout_batches SET state = ?, reason = ?, updated_at = ? WHERE id = ? AND state = ?`, to, reason, ms(at), id, from)); err != nil {
		return fmt.Errorf("batch %s is not %s: %w", id, from, err)
	}
	return nil
}

// TouchBatch counts another send attempt.
func TouchBatch(ctx context.Context, tx *sql.Tx, id, reason string, at time.Time) error {
	return expectOne(tx.ExecContext(ctx, `UPDATE payout_batches SET attempts = attempts + 1, reason = ?, updated_at = ? WHERE id = ?`, reason, ms(at), id))
}

// BatchesInState lists batches in any of states, oldest first.
func BatchesInState(ctx context.Context, q Querier, states ...string) ([]Batch, error) {
	ph := strings.TrimSuffix(strings.Repeat("?,", len(states)), ",")
	args := make([]any, len(states))
	for i, s := range states {
		args[i] = s
	}
	rows, err := q.QueryContext(ctx, `SELECT id, state, tx, signature, blockhash, last_valid_height, legs, attempts, reason, created_at, updated_at FROM payout_batches WHERE state IN (`+ph+`) ORDER BY created_at, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("listing batches: %w", err)
	}
	defer rows.Close()
	var out []Batch
	for rows.Next() {
		var b Batch
		var lvh, c, u int64
		if err := rows.Scan(&b.ID, &b.State, &b.Tx, &b.Signature, &b.Blockhash, &lvh, &b.Legs, &b.Attempts, &b.Reason, &c, &u); err != nil {
			return nil, err
		}
		b.LastValidHeight, b.CreatedAt, b.UpdatedAt = uint64(lvh), fromMS(c), fromMS(u)
		out = append(out, b)
	}
	return out, rows.Err()
}
