package store

import (
	"context"
	"fmt"
	"time"
)

// Reads for the supplier's console pages: telemetry condensed for charts,
// the gaps in a device's heartbeats, its traffic, and earnings over time.

// GPUPoint is one bucket of a device's GPU telemetry: the hottest GPU's
// temperature, the device's total power draw, and the mean utilisation.
type GPUPoint struct {
	At      time.Time // the bucket's last sample
	TempC   float64
	PowerW  float64
	UtilPct float64
}

// NetPoint is one bucket of a device's host network counters: their values
// at the bucket's last sample (bytes since the host booted).
type NetPoint struct {
	At     time.Time
	Rx, Tx uint64
}

// bucketMS splits the device's samples after since into at most n buckets
// of equal length (at least 1 ms), returning the first sample's time; ok is
// false when there are no samples.
func bucketMS(ctx context.Context, q Querier, table, deviceID string, since time.Time, n int) (first, width int64, ok bool, err error) {
	var lo, hi *int64
	err = q.QueryRowContext(ctx, `SELECT min(ts), max(ts) FROM `+table+` WHERE device_id = ? AND ts > ?`, deviceID, ms(since)).Scan(&lo, &hi)
	if err != nil {
		return 0, 0, false, fmt.Errorf("reading telemetry span: %w", err)
	}
	if lo == nil {
		return 0, 0, false, nil
	}
	return *lo, max((*hi-*lo)/int64(max(n, 1))+1, 1), true, nil
}

// GPUSeries condenses a device's GPU telemetry after since into at most n
// points, oldest first, so a chart of an hour stays small whatever the
// heartbeat interval.
func GPUSeries(ctx context.Context, q Querier, deviceID string, since time.Time, n int) ([]GPUPoint, error) {
	first, width, ok, err := bucketMS(ctx, q, "telemetry_host", deviceID, since, n)
	if err != nil || !ok {
		return nil, err
	}
	// gpus holds [idx, temp_c, power_mw, power_limit_mw, util_pct, …] per GPU.
	rows, err := q.QueryContext(ctx, `SELECT max(h.ts), max(json_extract(g.value, '$[1]')),
			sum(json_extract(g.value, '$[2]')) / 1000.0 / count(DISTINCT h.ts), avg(json_extract(g.value, '$[4]'))
		FROM telemetry_host h, json_each(h.gpus) g WHERE h.device_id = ? AND h.ts >= ? GROUP BY (h.ts - ?) / ? ORDER BY 1`, deviceID, first, first, width)
	if err != nil {
		return nil, fmt.Errorf("reading gpu series: %w", err)
	}
	defer rows.Close()
	var out []GPUPoint
	for rows.Next() {
		var p GPUPoint
		var at int64
		if err := rows.Scan(&at, &p.TempC, &p.PowerW, &p.UtilPct); err != nil {
			return nil, fmt.Errorf("reading gpu series: %w", err)
		}
		p.At = fromMS(at)
		out = append(out, p)
	}
	return out, rows.Err()
}

// NetSeries condenses a device's host network counters after since into
// at most n points, oldest first. SQLite takes the bare columns of a
// max() aggregate from the row holding the maximum: each point is the
// bucket's last sample.
func NetSeries(ctx context.Context, q Querier, deviceID string, since time.Time, n int) ([]NetPoint, error) {
	first, width, ok, err := bucketMS(ctx, q, "telemetry_host", deviceID, since, n)
	if err != nil || !ok {
		return nil, err
	}
	rows, err := q.QueryContext(ctx, `SELECT max(ts), net_rx, net_tx FROM telemetry_host WHERE device_id = ? AND ts >= ? GROUP BY (ts - ?) / ? ORDER BY 1`,
		deviceID, first, first, width)
	if err != nil {
		return nil, fmt.Errorf("reading network series: %w", err)
	}
	defer rows.Close()
	var out []NetPoint
	for rows.Next() {
		var at, rx, tx int64
		if err := rows.Scan(&at, &rx, &tx); err != nil {
			return nil, fmt.Errorf("reading network series: %w", err)
		}
		out = append(out, NetPoint{At: fromMS(at), Rx: uint64(rx), Tx: uint64(tx)})
	}
	return out, rows.Err()
}

// Traffic sums what a device's host received and sent after since, from
// the increases of its counters between heartbeats; a counter going down
// (the host rebooted) counts nothing for that step.
func Traffic(ctx context.Context, q Querier, deviceID string, since time.Time) (rx, tx uint64, err error) {
	var r, t int64
	err = q.QueryRowContext(ctx, `SELECT coalesce(sum(max(drx, 0)), 0), coalesce(sum(max(dtx, 0)), 0) FROM (
		SELECT net_rx - lag(net_rx) OVER w AS drx, net_tx - lag(net_tx) OVER w AS dtx
		FROM telemetry_host WHERE device_id = ? AND ts > ? WINDOW w AS (ORDER BY ts))`, deviceID, ms(since)).Scan(&r, &t)
	if err != nil {
		return 0, 0, fmt.Errorf("summing traffic: %w", err)
	}
	return uint64(r), uint64(t), nil
}

// Gap is a stretch without heartbeats: the device was disconnected (or
// its host asleep) From its last heartbeat To the next.
type Gap struct {
	From, To time.Time
}

// Duration is how long the device was away.
func (g Gap) Duration() time.Duration { return g.To.Sub(g.From) }

// TelemetryGaps lists the device's silences longer than minGap after since,
// newest first, at most limit; first is its first heartbeat after since
// (zero when there is none).
func TelemetryGaps(ctx context.Context, q Querier, deviceID string, since time.Time, minGap time.Duration, limit int) (gaps []Gap, first time.Time, err error) {
	var lo *int64
	if err := q.QueryRowContext(ctx, `SELECT min(ts) FROM telemetry_host WHERE device_id = ? AND ts > ?`, deviceID, ms(since)).Scan(&lo); err != nil {
		return nil, time.Time{}, fmt.Errorf("reading heartbeats: %w", err)
	}
	if lo == nil {
		return nil, time.Time{}, nil
	}
	rows, err := q.QueryContext(ctx, `SELECT prev, ts FROM (
		SELECT ts, lag(ts) OVER (ORDER BY ts) AS prev FROM telemetry_host WHERE device_id = ? AND ts > ?)
		WHERE ts - prev > ? ORDER BY ts DESC LIMIT ?`, deviceID, ms(since), minGap.Milliseconds(), limit)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("reading heartbeat gaps: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var from, to int64
		if err := rows.Scan(&from, &to); err != nil {
			return nil, time.Time{}, fmt.Errorf("reading heartbeat gaps: %w", err)
		}
		gaps = append(gaps, Gap{From: fromMS(from), To: fromMS(to)})
	}
	return gaps, fromMS(*lo), rows.Err()
}

// DeviceAssignments lists the assignments a device served for its
// supplier, newest first, at most limit.
func DeviceAssignments(ctx context.Context, q Querier, supplierID, deviceID string, limit int) ([]Assignment, error) {
	return queryAssignments(ctx, q, `WHERE supplier_id = ? AND device_id = ? ORDER BY created_at DESC, id LIMIT ?`, supplierID, deviceID, limit)
}

// Earned is what charges paid into an account within one bucket of time.
type Earned struct {
	Start  time.Time
	Amount int64 // micro-USD
}

// EarningsOver sums the charges paid into account (a supplier's pending
// earnings) in [from, to), per bucket of the given width counted from
// the Unix epoch (so days are UTC days); deviceID, when not empty, keeps
// the charges of that device's assignments only. Buckets without
// earnings are left out; the result is oldest first.
func EarningsOver(ctx context.Context, q Querier, account, deviceID string, from, to time.Time, bucket time.Duration) ([]Earned, error) {
	w := bucket.Milliseconds()
	if w <= 0 {
		return nil, fmt.Errorf("summing earnings: bucket %s is too small", bucket)
	}
	query := `SELECT t.created_at / ? * ?, sum(p.amount) FROM ledger_postings p JOIN ledger_txns t ON t.id = p.txn_id`
	args := []any{w, w}
	if deviceID != "" {
		query += ` JOIN usage_assignments a ON a.id = t.ref AND a.device_id = ?`
		args = append(args, deviceID)
	}
	query += ` WHERE p.account_id = ? AND t.kind = 'charge' AND t.created_at >= ? AND t.created_at < ? GROUP BY 1 ORDER BY 1`
	args = append(args, account, ms(from), ms(to))
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("summing earnings: %w", err)
	}
	defer rows.Close()
	var out []Earned
	for rows.Next() {
		var at int64
		var e Earned
		if err := rows.Scan(&at, &e.Amount); err != nil {
			return nil, fmt.Errorf("summing earnings: %w", err)
		}
		e.Start = fromMS(at)
		out = append(out, e)
	}
	return out, rows.Err()
}
