package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// GPUReading is one stored GPU sample.
type GPUReading struct {
	Index        int
	TempC        int
	PowerMW      uint32
	PowerLimitMW uint32
	UtilPct      int
	MemUsed      uint64
	MemTotal     uint64
	FanPct       int
	SMClockMHz   int
}

// TelemetryRow is one heartbeat's sample as stored: host plus every GPU.
type TelemetryRow struct {
	DeviceID  string
	At        time.Time // server receive time
	Seq       uint64
	State     string
	CPUPct    float64
	MemUsed   uint64
	MemTotal  uint64
	DiskUsed  uint64
	DiskTotal uint64
	NetRx     uint64
	NetTx     uint64
	GPUs      []GPUReading
}

// InsertTelemetry writes a batch of samples, one row per heartbeat with its
// GPU samples packed in it. Rows of devices that no longer exist (removed
// while their heartbeat was queued) are skipped, not errors, so one stale
// row never sinks a batch. It returns how many rows were stored.
func InsertTelemetry(ctx context.Context, tx *sql.Tx, rows []TelemetryRow) (int, error) {
	host, err := tx.PrepareContext(ctx, `INSERT OR IGNORE INTO telemetry_host(device_id, ts, seq, state, cpu_pct, mem_used, mem_total, disk_used, disk_total, net_rx, net_tx, gpus)
		SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM devices WHERE id = ?)`)
	if err != nil {
		return 0, fmt.Errorf("preparing telemetry insert: %w", err)
	}
	defer host.Close()
	stored := 0
	var buf []byte
	for _, r := range rows {
		buf = packGPUs(buf[:0], r.GPUs)
		res, err := host.ExecContext(ctx, r.DeviceID, ms(r.At), int64(r.Seq), r.State, r.CPUPct, int64(r.MemUsed), int64(r.MemTotal),
			int64(r.DiskUsed), int64(r.DiskTotal), int64(r.NetRx), int64(r.NetTx), string(buf), r.DeviceID)
		if err != nil {
			return 0, fmt.Errorf("inserting telemetry: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			stored++ // else the device is gone, or this is a duplicate
		}
	}
	return stored, nil
}

// packGPUs appends the GPU samples as the gpus column stores them: a JSON
// array of [idx, temp_c, power_mw, power_limit_mw, util_pct, mem_used,
// mem_total, fan_pct, sm_clock_mhz] (see migration 0009).
func packGPUs(b []byte, gs []GPUReading) []byte {
	b = append(b, '[')
	for i, g := range gs {
		if i > 0 {
			b = append(b, ',')
		}
		for j, v := range [...]int64{int64(g.Index), int64(g.TempC), int64(g.PowerMW), int64(g.PowerLimitMW), int64(g.UtilPct),
			int64(g.MemUsed), int64(g.MemTotal), int64(g.FanPct), int64(g.SMClockMHz)} {
			if j == 0 {
				b = append(b, '[')
			} else {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, v, 10)
		}
		b = append(b, ']')
	}
	return append(b, ']')
}

// unpackGPUs reads a gpus column.
func unpackGPUs(s string) ([]GPUReading, error) {
	var raw [][9]int64
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return nil, fmt.Errorf("reading gpu samples: %w", err)
	}
	out := make([]GPUReading, len(raw))
	for i, v := range raw {
		out[i] = GPUReading{Index: int(v[0]), TempC: int(v[1]), PowerMW: uint32(v[2]), PowerLimitMW: uint32(v[3]), UtilPct: int(v[4]),
			MemUsed: uint64(v[5]), MemTotal: uint64(v[6]), FanPct: int(v[7]), SMClockMHz: int(v[8])}
	}
	return out, nil
}

// TelemetrySince returns up to limit samples of a device after since, oldest
// first.
func TelemetrySince(ctx context.Context, q Querier, deviceID string, since time.Time, limit int) ([]TelemetryRow, error) {
	rows, err := q.QueryContext(ctx, `SELECT ts, seq, state, cpu_pct, mem_used, mem_total, disk_used, disk_total, net_rx, net_tx, gpus
		FROM telemetry_host WHERE device_id = ? AND ts > ? ORDER BY ts LIMIT ?`, deviceID, ms(since), limit)
	if err != nil {
		return nil, fmt.Errorf("reading telemetry: %w", err)
	}
	defer rows.Close()
	var out []TelemetryRow
	for rows.Next() {
		r := TelemetryRow{DeviceID: deviceID}
		var ts, seq, mu, mt, du, dt, rx, tx int64
		var gpus string
		if err := rows.Scan(&ts, &seq, &r.State, &r.CPUPct, &mu, &mt, &du, &dt, &rx, &tx, &gpus); err != nil {
			return nil, fmt.Errorf("reading telemetry: %w", err)
		}
		r.At, r.Seq = fromMS(ts), uint64(seq)
		r.MemUsed, r.MemTotal, r.DiskUsed, r.DiskTotal, r.NetRx, r.NetTx = uint64(mu), uint64(mt), uint64(du), uint64(dt), uint64(rx), uint64(tx)
		if r.GPUs, err = unpackGPUs(gpus); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// PruneTelemetry deletes about limit of the oldest heartbeats older than
// before, and returns how many heartbeats went:
// call it until that is under limit, one transaction per call, so pruning
// a large fleet never holds the writer for long.
func PruneTelemetry(ctx context.Context, tx *sql.Tx, before time.Time, limit int) (int64, error) {
	cut := ms(before)
	var last int64
	err := tx.QueryRowContext(ctx, `SELECT ts FROM telemetry_host WHERE ts < ? ORDER BY ts LIMIT 1 OFFSET ?`, cut, limit-1).Scan(&last)
	switch {
	case err == nil:
		cut = last + 1
	case errors.Is(err, sql.ErrNoRows): // fewer than limit left: all of them
	default:
		return 0, fmt.Errorf("pruning telemetry: %w", err)
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM telemetry_host WHERE ts < ?`, cut)
	if err != nil {
		return 0, fmt.Errorf("pruning host telemetry: %w", err)
	}
	return res.RowsAffected()
}

// NetworkStats are the public explorer's aggregates.
type NetworkStats struct {
	DevicesTotal  int
	DevicesOnline int
	GPUsOnline    int
	Suppliers     int // accounts with at least one online device
	// VerifiedDevices and VerifiedSuppliers count real (not simulated,
	// not flagged) devices whose last challenge passed since verifiedSince
	// on their current hardware.
	VerifiedDevices   int
	VerifiedSuppliers int
	GPUsByModel       map[string]int
}

// Stats counts the network; a device is online when seen after onlineSince.
func Stats(ctx context.Context, q Querier, onlineSince, verifiedSince time.Time) (NetworkStats, error) {
	s := NetworkStats{GPUsByModel: map[string]int{}}
	since := ms(onlineSince)
	const verified = `simulated = 0 AND flag_reason = '' AND verified_at >= ? AND verified_inventory = inventory_hash
		AND (verify_failed_at IS NULL OR verify_failed_at < verified_at)`
	err := q.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM devices),
		(SELECT count(*) FROM devices WHERE last_seen_at >= ?),
		(SELECT count(DISTINCT user_id) FROM devices WHERE last_seen_at >= ?),
		(SELECT count(*) FROM devices WHERE `+verified+`),
		(SELECT count(DISTINCT user_id) FROM devices WHERE `+verified+`)`, since, since, ms(verifiedSince), ms(verifiedSince)).
		Scan(&s.DevicesTotal, &s.DevicesOnline, &s.Suppliers, &s.VerifiedDevices, &s.VerifiedSuppliers)
	if err != nil {
		return s, fmt.Errorf("counting devices: %w", err)
	}
	rows, err := q.QueryContext(ctx, `SELECT g.name, count(*) FROM device_gpus g JOIN devices d ON d.id = g.device_id
		WHERE d.last_seen_at >= ? GROUP BY g.name`, since)
	if err != nil {
		return s, fmt.Errorf("counting gpus: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var n int
		if err := rows.Scan(&name, &n); err != nil {
			return s, fmt.Errorf("counting gpus: %w", err)
		}
		s.GPUsByModel[name] = n
		s.GPUsOnline += n
	}
	return s, rows.Err()
}
