package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ErrInsufficientFunds is returned when a posting would take a requester's
// credit below zero.
var ErrInsufficientFunds = errors.New("insufficient funds")

// EnsureLedgerAccount creates an account if it does not exist.
func EnsureLedgerAccount(ctx context.Context, tx *sql.Tx, id, kind, userID string, now time.Time) error {
	var uid any
	if userID != "" {
		uid = userID
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO ledger_accounts(id, kind, user_id, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`, id, kind, uid, ms(now))
	if err != nil {
		return fmt.Errorf("creating ledger account %s: %w", id, err)
	}
	return nil
}

// InsertLedgerTxn records a transaction by its idempotency key. A key seen
// before returns that transaction's id with dup set, and nothing is written.
func InsertLedgerTxn(ctx context.Context, tx *sql.Tx, kind, key, memo, ref string, now time.Time) (id int64, dup bool, err error) {
	err = tx.QueryRowContext(ctx, `INSERT INTO ledger_txns(kind, idem_key, memo, ref, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (idem_key) DO NOTHING RETURNING id`,
		kind, key, memo, ref, ms(now)).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		if err := tx.QueryRowContext(ctx, `SELECT id FROM ledger_txns WHERE idem_key = ?`, key).Scan(&id); err != nil {
			return 0, false, fmt.Errorf("reading ledger txn %s: %w", key, err)
		}
		return id, true, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("inserting ledger txn: %w", err)
	}
	return id, false, nil
}

// InsertPosting writes one posting and moves the account's cached balance,
// returning the new balance.
func InsertPosting(ctx context.Context, tx *sql.Tx, txnID int64, account string, amount int64) (int64, error) {
	if _, err := tx.ExecContext(ctx, `INSERT INTO ledger_postings(txn_id, account_id, amount) VALUES (?, ?, ?)`, txnID, account, amount); err != nil {
		return 0, fmt.Errorf("inserting posting: %w", err)
	}
	var bal int64
	if err := tx.QueryRowContext(ctx, `UPDATE ledger_accounts SET balance = balance + ? WHERE id = ? RETURNING balance`, amount, account).Scan(&bal); err != nil {
		return 0, fmt.Errorf("updating balance of %s: %w", account, err)
	}
	return bal, nil
}

// LedgerBalance is an account's cached balance (0 for an account not yet
// created).
func LedgerBalance(ctx context.Context, q Querier, account string) (int64, error) {
	var bal int64
	err := q.QueryRowContext(ctx, `SELECT balance FROM ledger_accounts WHERE id = ?`, account).Scan(&bal)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("reading balance: %w", err)
	}
	return bal, nil
}

// LedgerProblems lists every broken invariant: unbalanced transactions,
// cached balances that differ from their postings, and a non-zero grand
// total. Empty means the books are right.
func LedgerProblems(ctx context.Context, q Querier) ([]string, error) {
	var out []string
	rows, err := q.QueryContext(ctx, `SELECT txn_id, sum(amount) FROM ledger_postings GROUP BY txn_id HAVING sum(amount) <> 0`)
	if err != nil {
		return nil, fmt.Errorf("checking transactions: %w", err)
	}
	for rows.Next() {
		var id, sum int64
		if err := rows.Scan(&id, &sum); err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, fmt.Sprintf("transaction %d does not balance (sums to %d)", id, sum))
	}
	rows.Close()
	rows, err = q.QueryContext(ctx, `SELECT a.id, a.balance, coalesce((SELECT sum(amount) FROM ledger_postings p WHERE p.account_id = a.id), 0) AS s
		FROM ledger_accounts a WHERE a.balance <> s`)
	if err != nil {
		return nil, fmt.Errorf("checking balances: %w", err)
	}
	for rows.Next() {
		var id string
		var cached, sum int64
		if err := rows.Scan(&id, &cached, &sum); err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, fmt.Sprintf("account %s caches %d but its postings sum to %d", id, cached, sum))
	}
	rows.Close()
	var total int64
	if err := q.QueryRowContext(ctx, `SELECT coalesce(sum(amount), 0) FROM ledger_postings`).Scan(&total); err != nil {
		return nil, err
	}
	if total != 0 {
		out = append(out, fmt.Sprintf("all postings sum to %d, not 0", total))
	}
	var negative int64
	if err := q.QueryRowContext(ctx, `SELECT count(*) FROM ledger_accounts WHERE kind = 'requester' AND balance < 0`).Scan(&negative); err != nil {
		return nil, err
	}
	if negative > 0 {
		out = append(out, fmt.Sprintf("%d requester accounts are below zero", negative))
	}
	return out, nil
}

// StatementLine is one posting on an account with its transaction.
type StatementLine struct {
	TxnID  int64
	Kind   string
	Memo   string
	Ref    string
	At     time.Time
	Amount int64
}

// AccountLines lists an account's postings in [from, to), oldest first.
func AccountLines(ctx context.Context, q Querier, account string, from, to time.Time) ([]StatementLine, error) {
	rows, err := q.QueryContext(ctx, `SELECT t.id, t.kind, t.memo, t.ref, t.created_at, p.amount FROM ledger_postings p JOIN ledger_txns t ON t.id = p.txn_id
		WHERE p.account_id = ? AND t.created_at >= ? AND t.created_at < ? ORDER BY t.created_at, t.id`, account, ms(from), ms(to))
	if err != nil {
		return nil, fmt.Errorf("reading statement: %w", err)
	}
	defer rows.Close()
	var out []StatementLine
	for rows.Next() {
		var l StatementLine
		var at int64
		if err := rows.Scan(&l.TxnID, &l.Kind, &l.Memo, &l.Ref, &at, &l.Amount); err != nil {
			return nil, err
		}
		l.At = fromMS(at)
		out = append(out, l)
	}
	return out, rows.Err()
}

// Assignment is one device's usage within a cluster.
type Assignment struct {
	ID, ClusterID, DeviceID   string
	RequesterID, SupplierID   string
	PricePerHour              int64
	FeeBP                     int64
	CreatedAt, ReadyAt        time.Time
	EndedAt, SettledUntil     time.Time
	BilledMS, Charged, Unpaid int64
}

const assignmentCols = `id, cluster_id, device_id, requester_id, supplier_id, price_per_hour, fee_bp, created_at, ready_at, ended_at, settled_until, billed_ms, charged, unpaid`

func scanAssignment(sc interface{ Scan(...any) error }) (Assignment, error) {
	var a Assignment
	var created int64
	var ready, ended, settled sql.NullInt64
	err := sc.Scan(&a.ID, &a.ClusterID, &a.DeviceID, &a.RequesterID, &a.SupplierID, &a.PricePerHour, &a.FeeBP, &created, &ready, &ended, &settled, &a.BilledMS, &a.Charged, &a.Unpaid)
	a.CreatedAt, a.ReadyAt, a.EndedAt, a.SettledUntil = fromMS(created), fromNullMS(ready), fromNullMS(ended), fromNullMS(settled)
	return a, err
}

// InsertAssignment starts metering a device in a cluster (not billed
// until ready).
func InsertAssignment(ctx context.Context, tx *sql.Tx, a Assignment) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO usage_assignments(id, cluster_id, device_id, requester_id, supplier_id, price_per_hour, fee_bp, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.ClusterID, a.DeviceID, a.RequesterID, a.SupplierID, a.PricePerHour, a.FeeBP, ms(a.CreatedAt))
	if err != nil {
		return fmt.Errorf("inserting assignment: %w", err)
	}
	return nil
}

// AssignmentByID reads one assignment.
func AssignmentByID(ctx context.Context, q Querier, id string) (Assignment, error) {
	a, err := scanAssignment(q.QueryRowContext(ctx, `SELECT `+assignmentCols+` FROM usage_assignments WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return a, ErrNotFound
	}
	return a, err
}

// SetAssignmentReady marks when billing starts (the first time only).
func SetAssignmentReady(ctx context.Context, tx *sql.Tx, id string, at time.Time) error {
	return expectOne(tx.ExecContext(ctx, `UPDATE usage_assignments SET ready_at = coalesce(ready_at, ?), settled_until = coalesce(settled_until, ?) WHERE id = ?`, ms(at), ms(at), id))
}

// EndAssignment marks when billing stops (the first time only, and never
// before it started).
func EndAssignment(ctx context.Context, tx *sql.Tx, id string, at time.Time) error {
	return expectOne(tx.ExecContext(ctx, `UPDATE usage_assignments SET ended_at = coalesce(ended_at, max(?, coalesce(ready_at, 0))) WHERE id = ?`, ms(at), id))
}

// EndClusterAssignments ends every open assignment of a cluster at `at`
// (or when each started, if later).
func EndClusterAssignments(ctx context.Context, tx *sql.Tx, clusterID string, at time.Time) error {
	_, err := tx.ExecContext(ctx, `UPDATE usage_assignments SET ended_at = max(?, coalesce(ready_at, 0)) WHERE cluster_id = ? AND ended_at IS NULL`, ms(at), clusterID)
	if err != nil {
		return fmt.Errorf("ending assignments: %w", err)
	}
	return nil
}

// SettleAssignment records a metered window: the new watermark and totals.
// It only moves forward (optimistic check on the old watermark). The first
// window with an unpaid part stamps unpaid_since.
func SettleAssignment(ctx context.Context, tx *sql.Tx, id string, from, to time.Time, billedMS, charged, unpaid int64) error {
	return expectOne(tx.ExecContext(ctx, `UPDATE usage_assignments SET settled_until = ?, billed_ms = ?, charged = ?, unpaid = ?,
		unpaid_since = CASE WHEN ? > unpaid AND unpaid_since IS NULL THEN ? ELSE unpaid_since END
		WHERE id = ? AND settled_until = ?`,
		ms(to), billedMS, charged, unpaid, unpaid, ms(to), id, ms(from)))
}

// OutOfCredit lists clusters with an open assignment whose requester ran
// out of credit before since (the grace period's start).
func OutOfCredit(ctx context.Context, q Querier, since time.Time) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT DISTINCT cluster_id FROM usage_assignments WHERE ended_at IS NULL AND unpaid_since IS NOT NULL AND unpaid_since <= ? ORDER BY cluster_id`, ms(since))
	if err != nil {
		return nil, fmt.Errorf("listing clusters out of credit: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// AssignmentsToSettle lists ready assignments not settled up to their end.
func AssignmentsToSettle(ctx context.Context, q Querier) ([]Assignment, error) {
	return queryAssignments(ctx, q, `WHERE ready_at IS NOT NULL AND (ended_at IS NULL OR settled_until < ended_at) ORDER BY id`)
}

// AssignmentsOf lists a user's assignments as requester or supplier.
func AssignmentsOf(ctx context.Context, q Querier, userID string, asSupplier bool) ([]Assignment, error) {
	col := "requester_id"
	if asSupplier {
		col = "supplier_id"
	}
	return queryAssignments(ctx, q, `WHERE `+col+` = ? ORDER BY created_at DESC, id`, userID)
}

func queryAssignments(ctx context.Context, q Querier, where string, args ...any) ([]Assignment, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+assignmentCols+` FROM usage_assignments `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("listing assignments: %w", err)
	}
	defer rows.Close()
	var out []Assignment
	for rows.Next() {
		a, err := scanAssignment(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// HeartbeatTimes returns the server receive times (ms) of a device's
// heartbeats in [from, to], plus the last one before from, oldest first.
func HeartbeatTimes(ctx context.Context, q Querier, deviceID string, from, to time.Time) ([]int64, error) {
	rows, err := q.QueryContext(ctx, `SELECT ts FROM (SELECT ts FROM telemetry_host WHERE device_id = ? AND ts < ? ORDER BY ts DESC LIMIT 1)
		UNION ALL SELECT ts FROM telemetry_host WHERE device_id = ? AND ts >= ? AND ts <= ? ORDER BY ts`, deviceID, ms(from), deviceID, ms(from), ms(to))
	if err != nil {
		return nil, fmt.Errorf("reading heartbeats: %w", err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var ts int64
		if err := rows.Scan(&ts); err != nil {
			return nil, err
		}
		out = append(out, ts)
	}
	return out, rows.Err()
}

// UnreleasedCharges lists charge transactions created before `before`
// whose supplier share is still pending, with the supplier account and
// amount.
func UnreleasedCharges(ctx context.Context, q Querier, before time.Time) ([]PendingShare, error) {
	rows, err := q.QueryContext(ctx, `SELECT t.id, p.account_id, p.amount FROM ledger_txns t JOIN ledger_postings p ON p.txn_id = t.id
		JOIN ledger_accounts a ON a.id = p.account_id
		WHERE t.kind = 'charge' AND t.released_at IS NULL AND t.created_at < ? AND a.kind = 'supplier_pending' ORDER BY t.id`, ms(before))
	if err != nil {
		return nil, fmt.Errorf("listing pending earnings: %w", err)
	}
	defer rows.Close()
	var out []PendingShare
	for rows.Next() {
		var p PendingShare
		if err := rows.Scan(&p.TxnID, &p.Account, &p.Amount); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// PendingShare is a supplier's pending share of one charge.
type PendingShare struct {
	TxnID   int64
	Account string
	Amount  int64
}

// MarkReleased records that a charge's supplier share became payable.
func MarkReleased(ctx context.Context, tx *sql.Tx, txnID int64, at time.Time) error {
	return expectOne(tx.ExecContext(ctx, `UPDATE ledger_txns SET released_at = ? WHERE id = ? AND released_at IS NULL`, ms(at), txnID))
}

// Receipt is a stored signed usage receipt.
type Receipt struct {
	ID, AssignmentID, RequesterID, SupplierID string
	Body                                      string
	Signature                                 []byte
	CreatedAt                                 time.Time
}

// InsertReceipt stores a signed receipt (once per assignment).
func InsertReceipt(ctx context.Context, tx *sql.Tx, r Receipt) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO receipts(id, assignment_id, requester_id, supplier_id, body, signature, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (assignment_id) DO NOTHING`,
		r.ID, r.AssignmentID, r.RequesterID, r.SupplierID, r.Body, r.Signature, ms(r.CreatedAt))
	if err != nil {
		return fmt.Errorf("inserting receipt: %w", err)
	}
	return nil
}

// ReceiptsOf lists the receipts a user is party to, newest first.
func ReceiptsOf(ctx context.Context, q Querier, userID string) ([]Receipt, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, assignment_id, requester_id, supplier_id, body, signature, created_at FROM receipts
		WHERE requester_id = ? OR supplier_id = ? ORDER BY created_at DESC, id`, userID, userID)
	if err != nil {
		return nil, fmt.Errorf("listing receipts: %w", err)
	}
	defer rows.Close()
	var out []Receipt
	for rows.Next() {
		var r Receipt
		var at int64
		if err := rows.Scan(&r.ID, &r.AssignmentID, &r.RequesterID, &r.SupplierID, &r.Body, &r.Signature, &at); err != nil {
			return nil, err
		}
		r.CreatedAt = fromMS(at)
		out = append(out, r)
	}
	return out, rows.Err()
}

// ChargeTotals sums what charges referring to ref paid into supplier and
// fee accounts.
func ChargeTotals(ctx context.Context, q Querier, ref string) (supplier, fee int64, err error) {
	err = q.QueryRowContext(ctx, `SELECT
		coalesce(sum(CASE WHEN a.kind = 'supplier_pending' THEN p.amount END), 0),
		coalesce(sum(CASE WHEN a.kind = 'platform_fees' THEN p.amount END), 0)
		FROM ledger_txns t JOIN ledger_postings p ON p.txn_id = t.id JOIN ledger_accounts a ON a.id = p.account_id
		WHERE t.kind = 'charge' AND t.ref = ?`, ref).Scan(&supplier, &fee)
	if err != nil {
		return 0, 0, fmt.Errorf("summing charges: %w", err)
	}
	return supplier, fee, nil
}
