package store

import (
	"database/sql"
	"math"
	"testing"
	"time"
)

// Uptime over a week holds after raw telemetry is pruned at 24 h: heartbeats
// are rolled up hourly first. Three days of one-minute heartbeats with six
// hours offline on the second day, rolled up and pruned every ten minutes
// as the hub does, read back as 66 of 72 hours up.
func TestUptimeOutlivesRawTelemetry(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	seed(t, s) // dev_1, created at t0
	const every = time.Minute
	offFrom, offTo := t0.Add(30*time.Hour), t0.Add(36*time.Hour)
	end := t0.Add(72 * time.Hour)
	seq := uint64(0)
	for step := t0; step.Before(end); step = step.Add(10 * time.Minute) {
		var rows []TelemetryRow
		for at := step; at.Before(step.Add(10 * time.Minute)); at = at.Add(every) {
			if !at.Before(offFrom) && at.Before(offTo) {
				continue
			}
			seq++
			rows = append(rows, TelemetryRow{DeviceID: "dev_1", At: at, Seq: seq, State: "available", GPUs: []GPUReading{{Index: 0}, {Index: 1}}})
		}
		now := step.Add(10 * time.Minute)
		err := s.Write(ctx, func(tx *sql.Tx) error {
			if _, err := InsertTelemetry(ctx, tx, rows); err != nil {
				return err
			}
			if _, err := RollUpUptime(ctx, tx, now.Add(-10*time.Minute)); err != nil {
				return err
			}
			for {
				n, err := PruneTelemetry(ctx, tx, now.Add(-24*time.Hour), 25)
				if err != nil || n < 25 {
					return err
				}
				if n > 25 {
					t.Fatalf("one prune took %d heartbeats, asked for 25", n)
				}
			}
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	var host, gpu int
	if err := s.Reader().QueryRowContext(ctx, `SELECT count(*), sum(json_array_length(gpus)) FROM telemetry_host`).Scan(&host, &gpu); err != nil {
		t.Fatal(err)
	}
	if host != 24*60 || gpu != 2*host {
		t.Fatalf("raw telemetry kept: %d heartbeats and %d GPU samples, want the last 24 h: %d and %d", host, gpu, 24*60, 2*24*60)
	}
	up, err := Uptime(ctx, s.Reader(), "dev_1", end.Add(-7*24*time.Hour), end, every)
	if err != nil {
		t.Fatal(err)
	}
	if want := 66.0 / 72; math.Abs(up-want) > 0.001 {
		t.Fatalf("uptime %.4f, want %.4f (66 of 72 hours)", up, want)
	}
	// Within the last day the raw rows alone answer.
	up, err = Uptime(ctx, s.Reader(), "dev_1", end.Add(-12*time.Hour), end, every)
	if err != nil || math.Abs(up-1) > 0.001 {
		t.Fatalf("uptime over the last 12 h: %.4f, %v; want 1", up, err)
	}
	// Rolling up again changes nothing: each heartbeat is counted once.
	if err := s.Write(ctx, func(tx *sql.Tx) error { _, err := RollUpUptime(ctx, tx, end.Add(-10*time.Minute)); return err }); err != nil {
		t.Fatal(err)
	}
	if again, _ := Uptime(ctx, s.Reader(), "dev_1", end.Add(-7*24*time.Hour), end, every); math.Abs(again-66.0/72) > 0.001 {
		t.Fatalf("uptime moved to %.4f on a second roll-up", again)
	}
}
