package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// A backup taken while writes go on is one consistent instant: every
// transaction is in it whole or not at all, and it opens as a store.
func TestBackupWhileWriting(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	write := func(i int) error {
		return s.Write(ctx, func(tx *sql.Tx) error {
			// Two rows per transaction: a torn copy would hold one of them.
			for _, who := range []string{"a", "b"} {
				if err := InsertUser(ctx, tx, User{ID: "usr_" + who + strconv.Itoa(i), Email: who + strconv.Itoa(i) + "@example.com", PasswordHash: "x", CreatedAt: time.Now()}); err != nil {
					return err
				}
			}
			return nil
		})
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := write(i); err != nil {
				t.Error(err)
				return
			}
		}
	})
	for n := 0; n < 20; { // let some writes land first
		if err := s.Reader().QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
			t.Fatal(err)
		}
	}
	dst := filepath.Join(t.TempDir(), "backup", "idlegrid.db")
	v, err := s.Backup(ctx, dst)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := s.SchemaVersion(ctx); v != want {
		t.Fatalf("backup schema %d, want %d", v, want)
	}
	cp, err := OpenFile(ctx, dst)
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	var a, b int
	if err := cp.Reader().QueryRowContext(ctx, `SELECT count(*) FILTER (WHERE id LIKE 'usr_a%'), count(*) FILTER (WHERE id LIKE 'usr_b%') FROM users`).Scan(&a, &b); err != nil {
		t.Fatal(err)
	}
	if a == 0 || a != b {
		t.Fatalf("backup holds %d a-rows and %d b-rows: torn or empty", a, b)
	}
	if _, err := s.Backup(ctx, dst); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("a second backup over the first: %v", err)
	}
}
