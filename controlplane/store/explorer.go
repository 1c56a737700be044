package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// The public explorer's read queries. They never return who owns a device
// or rents a cluster; every list is bounded by a limit and walks an index
// (or the rowid, which is insertion order).

// ExplorerTotals are the network's running totals beside Stats.
type ExplorerTotals struct {
	GPUsTotal       int // every reported GPU, online or not
	ClustersRunning int // running or degraded (running with a node being replaced)
	// ServedGPUms is GPU-milliseconds billed: each assignment's metered
	// billed_ms times the GPUs of its node. Metering settles in windows, so
	// it trails the clusters still running by up to one window.
	ServedGPUms int64
	PaidOut     int64 // micro-USD of payouts paid, both modes
	PaidOnChain int64 // of which paid by a finalized transaction
}

// Totals reads ExplorerTotals in one statement.
func Totals(ctx context.Context, q Querier) (ExplorerTotals, error) {
	var t ExplorerTotals
	err := q.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM device_gpus),
		(SELECT count(*) FROM clusters WHERE state IN ('running', 'degraded')),
		(SELECT coalesce(sum(a.billed_ms * n.gpus), 0) FROM cluster_nodes n JOIN usage_assignments a ON a.id = n.assignment_id),
		(SELECT coalesce(sum(amount), 0) FROM payouts WHERE state = 'paid'),
		(SELECT coalesce(sum(amount), 0) FROM payouts WHERE state = 'paid' AND mode = 'onchain')`).
		Scan(&t.GPUsTotal, &t.ClustersRunning, &t.ServedGPUms, &t.PaidOut, &t.PaidOnChain)
	if err != nil {
		return t, fmt.Errorf("reading network totals: %w", err)
	}
	return t, nil
}

// ClusterModels returns the GPU models each of the clusters ran on (every
// node it ever had, replaced ones included), sorted.
func ClusterModels(ctx context.Context, q Querier, clusterIDs []string) (map[string][]string, error) {
	out := map[string][]string{}
	if len(clusterIDs) == 0 {
		return out, nil
	}
	args := make([]any, len(clusterIDs))
	for i, id := range clusterIDs {
		args[i] = id
	}
	rows, err := q.QueryContext(ctx, `SELECT DISTINCT cluster_id, gpu_model FROM cluster_nodes
		WHERE cluster_id IN (`+placeholders(len(args))+`) ORDER BY cluster_id, gpu_model`, args...)
	if err != nil {
		return nil, fmt.Errorf("listing cluster models: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, model string
		if err := rows.Scan(&id, &model); err != nil {
			return nil, fmt.Errorf("reading cluster model: %w", err)
		}
		out[id] = append(out[id], model)
	}
	return out, rows.Err()
}

// DeviceClusterCount counts the clusters a device was a node of. The
// supplier narrows the scan to their assignments (indexed); the device's
// own history is usually a handful of rows.
func DeviceClusterCount(ctx context.Context, q Querier, supplierID, deviceID string) (int, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT count(DISTINCT cluster_id) FROM usage_assignments WHERE supplier_id = ? AND device_id = ?`,
		supplierID, deviceID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("counting device clusters: %w", err)
	}
	return n, nil
}

// BatchSummary is one payout batch as the explorer shows it: the
// transaction and what it carried, without the accounts it paid.
type BatchSummary struct {
	ID, State, Signature string
	Legs                 int      // transfers in the transaction
	Amount               int64    // micro-USD of the payouts it carries now
	TokenAmount          int64    // their token base units
	Decimals             int      // of the token
	Wallets              []string // distinct receiving addresses, sorted
	CreatedAt, UpdatedAt time.Time
}

// RecentBatches lists the newest payout batches, newest first. A batch
// that failed or expired has given its payouts back to the queue, so it
// carries none.
func RecentBatches(ctx context.Context, q Querier, limit int) ([]BatchSummary, error) {
	rows, err := q.QueryContext(ctx, `SELECT b.id, b.state, b.signature, b.legs, b.created_at, b.updated_at,
		coalesce(sum(p.amount), 0), coalesce(sum(p.token_amount), 0), coalesce(max(p.decimals), 0)
		FROM (SELECT rowid AS rid, id, state, signature, legs, created_at, updated_at FROM payout_batches ORDER BY rowid DESC LIMIT ?) b
		LEFT JOIN payouts p ON p.batch_id = b.id
		GROUP BY b.id ORDER BY b.rid DESC`, limit)
	if err != nil {
		return nil, fmt.Errorf("listing payout batches: %w", err)
	}
	defer rows.Close()
	var out []BatchSummary
	for rows.Next() {
		var b BatchSummary
		var created, updated int64
		if err := rows.Scan(&b.ID, &b.State, &b.Signature, &b.Legs, &created, &updated, &b.Amount, &b.TokenAmount, &b.Decimals); err != nil {
			return nil, fmt.Errorf("reading payout batch: %w", err)
		}
		b.CreatedAt, b.UpdatedAt = fromMS(created), fromMS(updated)
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return out, nil
	}
	args := make([]any, len(out))
	at := map[string]int{}
	for i, b := range out {
		args[i], at[b.ID] = b.ID, i
	}
	wrows, err := q.QueryContext(ctx, `SELECT DISTINCT batch_id, wallet FROM payouts WHERE batch_id IN (`+placeholders(len(args))+`) ORDER BY batch_id, wallet`, args...)
	if err != nil {
		return nil, fmt.Errorf("listing batch wallets: %w", err)
	}
	defer wrows.Close()
	for wrows.Next() {
		var id, w string
		if err := wrows.Scan(&id, &w); err != nil {
			return nil, fmt.Errorf("reading batch wallet: %w", err)
		}
		out[at[id]].Wallets = append(out[at[id]].Wallets, w)
	}
	return out, wrows.Err()
}

// LedgerPayouts counts the payouts recorded as paid off chain (ledger
// mode), which no transaction shows.
func LedgerPayouts(ctx context.Context, q Querier) (n int, amount int64, err error) {
	err = q.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(amount), 0) FROM payouts WHERE state = 'paid' AND mode = 'ledger'`).Scan(&n, &amount)
	if err != nil {
		return 0, 0, fmt.Errorf("counting ledger payouts: %w", err)
	}
	return n, amount, nil
}

func placeholders(n int) string { return strings.TrimSuffix(strings.Repeat("?, ", n), ", ") }
