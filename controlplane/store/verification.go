package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Challenge is one verifiable compute challenge as recorded.
type Challenge struct {
	ID          string
	DeviceID    string
	Seed        []byte
	N, K        int
	IssuedAt    time.Time
	CommittedAt time.Time
	Root        []byte
	ElapsedMS   int64
	RowsJSON    string
	FinishedAt  time.Time
	Passed      bool
	Counted     bool
	Reason      string
}

// InsertChallenge records an issued challenge before it is sent.
func InsertChallenge(ctx context.Context, tx *sql.Tx, c Challenge) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO challenges(id, device_id, seed, n, k, issued_at) VALUES (?, ?, ?, ?, ?, ?)`,
		c.ID, c.DeviceID, c.Seed, c.N, c.K, ms(c.IssuedAt))
	if err != nil {
		return fmt.Errorf("inserting challenge: %w", err)
	}
	return nil
}

// CommitChallenge records the device's root and the rows asked for.
func CommitChallenge(ctx context.Context, tx *sql.Tx, id string, root []byte, elapsedMS int64, rowsJSON string, at time.Time) error {
	return expectOne(tx.ExecContext(ctx, `UPDATE challenges SET committed_at = ?, root = ?, elapsed_ms = ?, rows_json = ? WHERE id = ? AND finished_at IS NULL`,
		ms(at), root, elapsedMS, rowsJSON, id))
}

// FinishChallenge closes a challenge and, when it counts, updates the
// device's verification state in the same transaction.
func FinishChallenge(ctx context.Context, tx *sql.Tx, id string, passed, counted bool, reason string, at time.Time) error {
	var deviceID string
	err := tx.QueryRowContext(ctx, `UPDATE challenges SET finished_at = ?, passed = ?, counted = ?, reason = ? WHERE id = ? AND finished_at IS NULL RETURNING device_id`,
		ms(at), boolInt(passed), boolInt(counted), reason, id).Scan(&deviceID)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("finishing challenge: %w", err)
	}
	if !counted {
		return nil
	}
	if passed {
		_, err = tx.ExecContext(ctx, `UPDATE devices SET verified_at = ?, verified_inventory = inventory_hash, verify_reason = '' WHERE id = ?`, ms(at), deviceID)
	} else {
		_, err = tx.ExecContext(ctx, `UPDATE devices SET verify_failed_at = ?, verify_reason = ? WHERE id = ?`, ms(at), reason, deviceID)
	}
	if err != nil {
		return fmt.Errorf("updating verification: %w", err)
	}
	return nil
}

// AbandonOpenChallenges closes challenges left open by a restart; they
// don't count against the device.
func AbandonOpenChallenges(ctx context.Context, tx *sql.Tx, at time.Time) (int64, error) {
	res, err := tx.ExecContext(ctx, `UPDATE challenges SET finished_at = ?, passed = 0, counted = 0, reason = 'abandoned: the control plane restarted' WHERE finished_at IS NULL`, ms(at))
	if err != nil {
		return 0, fmt.Errorf("abandoning challenges: %w", err)
	}
	return res.RowsAffected()
}

// Verification is a device's verification state.
type Verification struct {
	InventoryHash     string
	VerifiedAt        time.Time
	VerifiedInventory string
	FailedAt          time.Time
	Reason            string
	Flag              string
	Simulated         bool
	Passed, Failed    int // counted challenges
}

// DeviceVerification reads one device's verification state and history.
func DeviceVerification(ctx context.Context, q Querier, deviceID string) (Verification, error) {
	var v Verification
	var verified, failed sql.NullInt64
	var sim int
	err := q.QueryRowContext(ctx, `SELECT inventory_hash, verified_at, verified_inventory, verify_failed_at, verify_reason, flag_reason, simulated,
		(SELECT count(*) FROM challenges WHERE device_id = d.id AND counted = 1 AND passed = 1),
		(SELECT count(*) FROM challenges WHERE device_id = d.id AND counted = 1 AND passed = 0)
		FROM devices d WHERE id = ?`, deviceID).
		Scan(&v.InventoryHash, &verified, &v.VerifiedInventory, &failed, &v.Reason, &v.Flag, &sim, &v.Passed, &v.Failed)
	if errors.Is(err, sql.ErrNoRows) {
		return v, ErrNotFound
	}
	if err != nil {
		return v, fmt.Errorf("reading verification: %w", err)
	}
	v.VerifiedAt, v.FailedAt, v.Simulated = fromNullMS(verified), fromNullMS(failed), sim == 1
	return v, nil
}

// RecordGPUSightings notes which account reported each GPU UUID and flags
// the device when a UUID was already seen on another account (a cloned or
// spoofed card). It returns the flag reason, empty when clean.
func RecordGPUSightings(ctx context.Context, tx *sql.Tx, deviceID, userID string, gpus []DeviceGPU, at time.Time) (string, error) {
	flag := ""
	for _, g := range gpus {
		if g.UUID == "" {
			continue
		}
		var other string
		err := tx.QueryRowContext(ctx, `SELECT user_id FROM gpu_sightings WHERE uuid = ? AND user_id <> ? LIMIT 1`, g.UUID, userID).Scan(&other)
		if err == nil && flag == "" {
			flag = fmt.Sprintf("GPU %s (%s) is also reported by another account", g.UUID, g.Name)
		} else if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return "", fmt.Errorf("checking gpu sightings: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO gpu_sightings(uuid, user_id, device_id, name, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (uuid, user_id) DO UPDATE SET device_id = excluded.device_id, name = excluded.name, last_seen = excluded.last_seen`,
			g.UUID, userID, deviceID, g.Name, ms(at), ms(at)); err != nil {
			return "", fmt.Errorf("recording gpu sighting: %w", err)
		}
	}
	if flag != "" {
		if _, err := tx.ExecContext(ctx, `UPDATE devices SET flag_reason = ? WHERE id = ?`, flag, deviceID); err != nil {
			return "", fmt.Errorf("flagging device: %w", err)
		}
	}
	return flag, nil
}

// SetInventoryHash records the hash of the device's reported hardware.
func SetInventoryHash(ctx context.Context, tx *sql.Tx, deviceID, hash string) error {
	return expectOne(tx.ExecContext(ctx, `UPDATE devices SET inventory_hash = ? WHERE id = ?`, hash, deviceID))
}

// Benchmark is one stored benchmark report.
type Benchmark struct {
	DeviceID   string
	MeasuredAt time.Time
	ReceivedAt time.Time
	Score      float64
	Tier       string
	Report     string // JSON as the device sent it
}

// InsertBenchmark stores a report.
func InsertBenchmark(ctx context.Context, tx *sql.Tx, b Benchmark) error {
	_, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO benchmarks(device_id, measured_at, received_at, score, tier, report) SELECT ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM devices WHERE id = ?)`,
		b.DeviceID, ms(b.MeasuredAt), ms(b.ReceivedAt), b.Score, b.Tier, b.Report, b.DeviceID)
	if err != nil {
		return fmt.Errorf("inserting benchmark: %w", err)
	}
	return nil
}

// Benchmarks lists a device's reports, newest first.
func Benchmarks(ctx context.Context, q Querier, deviceID string, limit int) ([]Benchmark, error) {
	rows, err := q.QueryContext(ctx, `SELECT measured_at, received_at, score, tier, report FROM benchmarks WHERE device_id = ? ORDER BY received_at DESC, id DESC LIMIT ?`, deviceID, limit)
	if err != nil {
		return nil, fmt.Errorf("listing benchmarks: %w", err)
	}
	defer rows.Close()
	var out []Benchmark
	for rows.Next() {
		b := Benchmark{DeviceID: deviceID}
		var m, r int64
		if err := rows.Scan(&m, &r, &b.Score, &b.Tier, &b.Report); err != nil {
			return nil, fmt.Errorf("reading benchmark: %w", err)
		}
		b.MeasuredAt, b.ReceivedAt = fromMS(m), fromMS(r)
		out = append(out, b)
	}
	return out, rows.Err()
}

// Uptime is the share of expected heartbeats a device sent between since
// (or its pairing, if later) and now: whole hours from the hourly roll-up,
// the rest from raw telemetry (one row per heartbeat), so it reads at most
// a few hundred rows and holds beyond the raw samples' retention.
func Uptime(ctx context.Context, q Querier, deviceID string, since, now time.Time, interval time.Duration) (float64, error) {
	since = since.Truncate(time.Hour)
	var n, created int64
	err := q.QueryRowContext(ctx, `SELECT
			(SELECT coalesce(sum(beats), 0) FROM uptime_hourly WHERE device_id = d.id AND hour >= ?1 AND hour < w.through_ms)
			+ (SELECT count(*) FROM telemetry_host WHERE device_id = d.id AND ts >= max(?1, w.through_ms)),
			d.created_at
		FROM devices d, uptime_rollup w WHERE d.id = ?2`,
		ms(since), deviceID).Scan(&n, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("measuring uptime: %w", err)
	}
	start := max(ms(since), created)
	expected := float64(ms(now)-start) / float64(interval.Milliseconds())
	if expected < 1 || interval <= 0 {
		return 0, nil
	}
	return min(1, float64(n)/expected), nil
}

// RollUpUptime counts raw heartbeats into uptime_hourly for every whole
// hour before upto (truncated to the hour) not yet rolled up, and moves the
// mark. Run it before pruning raw telemetry, with upto well before the
// newest samples the writer may still hold.
func RollUpUptime(ctx context.Context, tx *sql.Tx, upto time.Time) (hours int64, err error) {
	end := ms(upto.Truncate(time.Hour))
	var from int64
	if err := tx.QueryRowContext(ctx, `SELECT through_ms FROM uptime_rollup WHERE id = 1`).Scan(&from); err != nil {
		return 0, fmt.Errorf("reading the uptime mark: %w", err)
	}
	if end <= from {
		return 0, nil
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO uptime_hourly(device_id, hour, beats)
		SELECT device_id, ts - ts % 3600000, count(*) FROM telemetry_host WHERE ts >= ? AND ts < ? GROUP BY 1, 2
		ON CONFLICT (device_id, hour) DO UPDATE SET beats = beats + excluded.beats`, from, end)
	if err != nil {
		return 0, fmt.Errorf("rolling up uptime: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE uptime_rollup SET through_ms = ? WHERE id = 1`, end); err != nil {
		return 0, fmt.Errorf("moving the uptime mark: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// PruneUptime deletes hourly counts older than before.
func PruneUptime(ctx context.Context, tx *sql.Tx, before time.Time) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM uptime_hourly WHERE hour < ?`, ms(before)); err != nil {
		return fmt.Errorf("pruning uptime: %w", err)
	}
	return nil
}

// SupplyFacts is what a quote needs of one device beyond its row: its
// verification record and its latest benchmark (zero Tier when it has
// none).
type SupplyFacts struct {
	Verification Verification
	Tier         string
	Score        float64
	DownMbps     int // the latest benchmark's network download, 0 if not measured
}

// SupplyFactsSince reads SupplyFacts for every device seen since since, in
// three queries whatever the fleet's size (a quote over 20,000 devices used
// to ask two questions per device).
func SupplyFactsSince(ctx context.Context, q Querier, since time.Time) (map[string]SupplyFacts, error) {
	out := map[string]SupplyFacts{}
	rows, err := q.QueryContext(ctx, `SELECT id, inventory_hash, verified_at, verified_inventory, verify_failed_at, verify_reason, flag_reason, simulated
		FROM devices WHERE last_seen_at >= ?`, ms(since))
	if err != nil {
		return nil, fmt.Errorf("reading verifications: %w", err)
	}
	for rows.Next() {
		var id string
		var v Verification
		var verified, failed sql.NullInt64
		var sim int
		if err := rows.Scan(&id, &v.InventoryHash, &verified, &v.VerifiedInventory, &failed, &v.Reason, &v.Flag, &sim); err != nil {
			rows.Close()
			return nil, fmt.Errorf("reading verifications: %w", err)
		}
		v.VerifiedAt, v.FailedAt, v.Simulated = fromNullMS(verified), fromNullMS(failed), sim == 1
		out[id] = SupplyFacts{Verification: v}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// Challenge records, counted for every device at once (cheaper than
	// joining them to the devices above); one still running has no result.
	rows, err = q.QueryContext(ctx, `SELECT device_id, sum(passed = 1), sum(passed = 0) FROM challenges
		WHERE counted = 1 AND passed IS NOT NULL GROUP BY device_id`)
	if err != nil {
		return nil, fmt.Errorf("reading challenge records: %w", err)
	}
	for rows.Next() {
		var id string
		var passed, failed int
		if err := rows.Scan(&id, &passed, &failed); err != nil {
			rows.Close()
			return nil, fmt.Errorf("reading challenge records: %w", err)
		}
		if f, ok := out[id]; ok {
			f.Verification.Passed, f.Verification.Failed = passed, failed
			out[id] = f
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// The latest benchmark of each (the order Benchmarks lists them in), with
	// its network result picked out of the report by sqlite.
	rows, err = q.QueryContext(ctx, `SELECT device_id, score, tier,
			coalesce((SELECT json_extract(r.value, '$.net_down_mbps') FROM json_each(report, '$.results') r
				WHERE json_extract(r.value, '$.kind') = 'network'), 0)
		FROM (SELECT device_id, score, tier, report, row_number() OVER (PARTITION BY device_id ORDER BY received_at DESC, id DESC) AS n
			FROM benchmarks WHERE device_id IN (SELECT id FROM devices WHERE last_seen_at >= ?))
		WHERE n = 1`, ms(since))
	if err != nil {
		return nil, fmt.Errorf("reading benchmarks: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, tier string
		var score, down float64
		if err := rows.Scan(&id, &score, &tier, &down); err != nil {
			return nil, fmt.Errorf("reading benchmarks: %w", err)
		}
		f := out[id]
		f.Tier, f.Score, f.DownMbps = tier, score, int(down)
		out[id] = f
	}
	return out, rows.Err()
}
