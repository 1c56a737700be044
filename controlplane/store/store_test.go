package store

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func openTemp(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var t0 = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func seed(t *testing.T, s *Store) {
	t.Helper()
	err := s.Write(t.Context(), func(tx *sql.Tx) error {
		if err := InsertUser(t.Context(), tx, User{ID: "usr_1", Email: "a@example.com", PasswordHash: "h", CreatedAt: t0}); err != nil {
			return err
		}
		return InsertDevice(t.Context(), tx, Device{ID: "dev_1", UserID: "usr_1", Name: "rig", PublicKey: make([]byte, 32), CreatedAt: t0})
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestSchemaIsStrictWithForeignKeysAndWAL(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	if v, err := s.SchemaVersion(ctx); err != nil || v != LatestVersion() || v < 2 {
		t.Fatalf("schema version %d (%v), want %d", v, err, LatestVersion())
	}
	var mode string
	if err := s.Reader().QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode %q (%v), want wal", mode, err)
	}
	seed(t, s)
	err := s.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO devices(id, user_id, name, public_key, created_at) VALUES ('d', 'usr_1', 'n', zeroblob(32), 'yesterday')`)
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "cannot store TEXT value in INTEGER column") {
		t.Fatalf("a text time in a STRICT integer column: %v", err)
	}
	err = s.Write(ctx, func(tx *sql.Tx) error {
		return InsertDevice(ctx, tx, Device{ID: "dev_2", UserID: "usr_ghost", Name: "x", PublicKey: make([]byte, 32), CreatedAt: t0})
	})
	if err == nil {
		t.Fatal("a device of a missing user was stored: foreign keys are off")
	}
	if _, err := s.Reader().ExecContext(ctx, `DELETE FROM users`); err == nil {
		t.Fatal("the read pool accepted a write")
	}
}

func TestWriteRollsBackOnError(t *testing.T) {
	s := openTemp(t)
	seed(t, s)
	boom := errors.New("boom")
	err := s.Write(t.Context(), func(tx *sql.Tx) error {
		if err := RenameDevice(t.Context(), tx, "usr_1", "dev_1", "renamed"); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Write = %v, want boom", err)
	}
	d, err := DeviceByID(t.Context(), s.Reader(), "dev_1")
	if err != nil || d.Name != "rig" {
		t.Fatalf("after a failed transaction the device is %q (%v), want unchanged", d.Name, err)
	}
}

func TestDeletingADeviceRemovesItsTelemetryAndSkipsQueuedRows(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	seed(t, s)
	rows := []TelemetryRow{{DeviceID: "dev_1", At: t0, Seq: 1, State: "available", GPUs: []GPUReading{{Index: 0, TempC: 50}}}}
	err := s.Write(ctx, func(tx *sql.Tx) error {
		n, err := InsertTelemetry(ctx, tx, rows)
		if n != 1 {
			t.Errorf("stored %d rows, want 1", n)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write(ctx, func(tx *sql.Tx) error { return DeleteDevice(ctx, tx, "usr_1", "dev_1") }); err != nil {
		t.Fatal(err)
	}
	var n int
	_ = s.Reader().QueryRowContext(ctx, `SELECT count(*) FROM telemetry_host`).Scan(&n)
	if n != 0 {
		t.Fatalf("%d telemetry rows outlived their device", n)
	}
	rows[0].At = t0.Add(time.Second)
	err = s.Write(ctx, func(tx *sql.Tx) error {
		n, err := InsertTelemetry(ctx, tx, rows)
		if n != 0 {
			t.Errorf("stored %d rows of a removed device", n)
		}
		return err
	})
	if err != nil {
		t.Fatalf("a queued row of a removed device failed the batch: %v", err)
	}
}

// A database written by the first release (schema version 1, committed in
// testdata) upgrades to the current schema with its rows intact.
func TestUpgradeFromVersion1KeepsRows(t *testing.T) {
	if os.Getenv("IDLEGRID_WRITE_FIXTURES") != "" {
		writeV1Fixture(t)
	}
	path := filepath.Join(t.TempDir(), FileName)
	copyFile(t, "testdata/v1.db", path)
	s, err := OpenFile(t.Context(), path)
	if err != nil {
		t.Fatalf("upgrading v1: %v", err)
	}
	defer s.Close()
	ctx := t.Context()
	if v, _ := s.SchemaVersion(ctx); v != LatestVersion() {
		t.Fatalf("schema %d after upgrade, want %d", v, LatestVersion())
	}
	u, err := UserByEmail(ctx, s.Reader(), "fixture@example.com")
	if err != nil || u.ID != "usr_fixture" {
		t.Fatalf("fixture user: %+v, %v", u, err)
	}
	ds, err := DevicesByUser(ctx, s.Reader(), u.ID)
	if err != nil || len(ds) != 2 || len(ds[0].GPUs) != 1 || ds[0].GPUs[0].Name != "NVIDIA GeForce RTX 3090" {
		t.Fatalf("fixture devices: %+v, %v", ds, err)
	}
	keys, err := ListAPIKeys(ctx, s.Reader(), u.ID)
	if err != nil || len(keys) != 1 || keys[0].Prefix != "igk_fixture0" {
		t.Fatalf("fixture keys: %+v, %v", keys, err)
	}
	// The tables added since work with the old rows.
	err = s.Write(ctx, func(tx *sql.Tx) error {
		_, err := InsertTelemetry(ctx, tx, []TelemetryRow{{DeviceID: ds[0].ID, At: t0, Seq: 1, State: "available"}})
		return err
	})
	if err != nil {
		t.Fatalf("telemetry for an upgraded device: %v", err)
	}
}

func TestNewerSchemaIsRefusedWithAdvice(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.ExecContext(t.Context(), `INSERT INTO schema_migrations VALUES (999, 'future.sql', 0)`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err = Open(t.Context(), dir)
	if err == nil || !strings.Contains(err.Error(), "use a newer idlegrid-server") {
		t.Fatalf("opening a newer schema: %v", err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatalf("%v (regenerate with IDLEGRID_WRITE_FIXTURES=1 go test ./controlplane/store -run TestUpgradeFromVersion1)", err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	out.Close()
}

// writeV1Fixture rewrites testdata/v1.db from migration 1 alone, when
// IDLEGRID_WRITE_FIXTURES is set: the fixture stands for databases already
// deployed, so it is regenerated only on purpose.
func writeV1Fixture(t *testing.T) {
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	path := "testdata/v1.db"
	_ = os.MkdirAll("testdata", 0o755)
	_ = os.Remove(path)
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	stmts := []string{
		`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT`,
		ms[0].sql,
		`INSERT INTO schema_migrations VALUES (1, '` + ms[0].name + `', 1763800000000)`,
		`INSERT INTO users VALUES ('usr_fixture', 'fixture@example.com', '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA', 1763800000000)`,
		`INSERT INTO api_keys(id, user_id, name, prefix, key_hash, created_at) VALUES ('key_1', 'usr_fixture', 'ci', 'igk_fixture0', x'00', 1763800000000)`,
		`INSERT INTO devices(id, user_id, name, public_key, created_at, last_seen_at) VALUES ('dev_a', 'usr_fixture', 'rig-a', zeroblob(32), 1763800000000, 1763800005000)`,
		`INSERT INTO devices(id, user_id, name, public_key, created_at) VALUES ('dev_b', 'usr_fixture', 'rig-b', x'0101010101010101010101010101010101010101010101010101010101010101', 1763800000000)`,
		`INSERT INTO device_gpus VALUES ('dev_a', 0, 'GPU-1', 'NVIDIA GeForce RTX 3090', 25769803776, '550.54', 0)`,
		`INSERT INTO enrollment_tokens(id, user_id, name, prefix, token_hash, created_at, expires_at) VALUES ('enr_1', 'usr_fixture', 'rack', 'ige_fixture0', x'01', 1763800000000, 1766400000000)`,
	}
	for _, q := range stmts {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}
