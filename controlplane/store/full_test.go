package store

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"testing"
	"time"
)

// A full disk (here: the database's page limit) fails a write whole with
// ErrFull, leaves the database consistent and every earlier write in
// place, and writing works again once there is room.
func TestDiskFullFailsWholeAndLeavesTheDatabaseConsistent(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var pages int
	if err := s.w.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.ExecContext(ctx, `PRAGMA max_page_count = `+strconv.Itoa(pages+3)); err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 2000)
	written := 0
	var full error
	for i := 0; i < 200 && full == nil; i++ {
		full = s.Write(ctx, func(tx *sql.Tx) error {
			// Two rows per transaction: a torn write would leave one.
			for _, who := range []string{"a", "b"} {
				if err := InsertUser(ctx, tx, User{ID: "usr_" + who + strconv.Itoa(i), Email: who + strconv.Itoa(i) + "@example.com", PasswordHash: string(big), CreatedAt: time.Now()}); err != nil {
					return err
				}
			}
			return nil
		})
		if full == nil {
			written++
		}
	}
	if !errors.Is(full, ErrFull) {
		t.Fatalf("writing past the limit: %v, want ErrFull", full)
	}
	var a, b int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FILTER (WHERE id LIKE 'usr_a%'), count(*) FILTER (WHERE id LIKE 'usr_b%') FROM users`).Scan(&a, &b); err != nil {
		t.Fatal(err)
	}
	if a != written || b != written {
		t.Fatalf("after the failed write: %d a-rows and %d b-rows, want %d each", a, b, written)
	}
	var ok string
	if err := s.w.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&ok); err != nil || ok != "ok" {
		t.Fatalf("integrity: %q %v", ok, err)
	}
	if _, err := s.w.ExecContext(ctx, `PRAGMA max_page_count = 1000000`); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(ctx, func(tx *sql.Tx) error {
		return InsertUser(ctx, tx, User{ID: "usr_after", Email: "after@example.com", PasswordHash: "x", CreatedAt: time.Now()})
	}); err != nil {
		t.Fatalf("writing once there is room again: %v", err)
	}
}

// A database held locked by another writer past the busy timeout is
// ErrBusy, and the write changed nothing.
func TestBusyDatabaseIsErrBusy(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	other, err := sql.Open("sqlite", "file:"+s.path+"?_pragma=busy_timeout(0)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil { // another process holds the write lock
		t.Fatal(err)
	}
	if _, err := s.w.ExecContext(ctx, `PRAGMA busy_timeout = 200`); err != nil {
		t.Fatal(err)
	}
	err = s.Write(ctx, func(tx *sql.Tx) error {
		return InsertUser(ctx, tx, User{ID: "usr_x", Email: "x@example.com", PasswordHash: "x", CreatedAt: time.Now()})
	})
	if !errors.Is(err, ErrBusy) {
		t.Fatalf("writing while another holds the lock: %v, want ErrBusy", err)
	}
	_, _ = conn.ExecContext(ctx, `ROLLBACK`)
	if _, err := UserByEmail(ctx, s.r, "x@example.com"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the busy write left a row: %v", err)
	}
}
