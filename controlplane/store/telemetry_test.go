package store

import (
	"database/sql"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// Samples written one row per GPU before migration 0009 read back the same
// after it packs them into their heartbeat's row.
func TestPackingMigrationKeepsGPUSamples(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), FileName)
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT`); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.version >= 9 {
			break
		}
		if _, err := db.ExecContext(ctx, m.sql); err != nil {
			t.Fatalf("%s: %v", m.name, err)
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO schema_migrations VALUES (?, ?, 0)`, m.version, m.name); err != nil {
			t.Fatal(err)
		}
	}
	old := []string{
		`INSERT INTO users(id, email, password_hash, created_at) VALUES ('usr_1', 'a@example.com', 'h', 0)`,
		`INSERT INTO devices(id, user_id, name, public_key, created_at) VALUES ('dev_1', 'usr_1', 'rig', zeroblob(32), 0)`,
		`INSERT INTO telemetry_host VALUES ('dev_1', 1000, 1, 'available', 1.5, 1, 2, 3, 4, 5, 6), ('dev_1', 2000, 2, 'available', 0, 0, 0, 0, 0, 0, 0)`,
		`INSERT INTO telemetry_gpu VALUES ('dev_1', 1000, 1, 71, 300000, 450000, 99, 10, 20, 50, 2500), ('dev_1', 1000, 0, 60, 200000, 450000, 80, 11, 21, 40, 2400)`,
	}
	for _, q := range old {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

	s, err := OpenFile(ctx, path)
	if err != nil {
		t.Fatalf("migrating: %v", err)
	}
	defer s.Close()
	rows, err := TelemetrySince(ctx, s.Reader(), "dev_1", time.UnixMilli(0), 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []GPUReading{
		{Index: 0, TempC: 60, PowerMW: 200000, PowerLimitMW: 450000, UtilPct: 80, MemUsed: 11, MemTotal: 21, FanPct: 40, SMClockMHz: 2400},
		{Index: 1, TempC: 71, PowerMW: 300000, PowerLimitMW: 450000, UtilPct: 99, MemUsed: 10, MemTotal: 20, FanPct: 50, SMClockMHz: 2500},
	}
	if len(rows) != 2 || !reflect.DeepEqual(rows[0].GPUs, want) || len(rows[1].GPUs) != 0 || rows[0].CPUPct != 1.5 {
		t.Fatalf("after packing: %+v", rows)
	}
	pts, err := GPUSeries(ctx, s.Reader(), "dev_1", time.UnixMilli(0), 10)
	if err != nil || len(pts) != 1 || pts[0].TempC != 71 || pts[0].PowerW != 500 || pts[0].UtilPct != 89.5 {
		t.Fatalf("GPU series after packing: %+v, %v", pts, err)
	}
	// New samples go in packed and read back the same.
	at := time.UnixMilli(3000)
	err = s.Write(ctx, func(tx *sql.Tx) error {
		_, err := InsertTelemetry(ctx, tx, []TelemetryRow{{DeviceID: "dev_1", At: at, Seq: 3, State: "available", GPUs: want}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	rows, err = TelemetrySince(ctx, s.Reader(), "dev_1", time.UnixMilli(2000), 10)
	if err != nil || len(rows) != 1 || !reflect.DeepEqual(rows[0].GPUs, want) {
		t.Fatalf("a packed heartbeat reads back as %+v, %v", rows, err)
	}
}
