package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Backup writes a consistent copy of the database to path while it is in
// use (sqlite's VACUUM INTO: one read transaction, so the copy is the
// database at one instant, compacted), then checks the copy opens, passes
// an integrity check and has the same schema version. path must not exist.
func (s *Store) Backup(ctx context.Context, path string) (version int, err error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return 0, err
	}
	if _, err := os.Stat(abs); err == nil {
		return 0, fmt.Errorf("%s already exists: pick a new name, a backup never overwrites one", abs)
	} else if !errors.Is(err, os.ErrNotExist) {
		return 0, err
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return 0, fmt.Errorf("creating the backup's directory: %w", err)
	}
	want, err := s.SchemaVersion(ctx)
	if err != nil {
		return 0, err
	}
	// Its own connection: the readers are query-only (which VACUUM INTO
	// counts as writing) and the writer must stay free for the server.
	db, err := sql.Open("sqlite", "file:"+s.path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		return 0, err
	}
	_, err = db.ExecContext(ctx, `VACUUM INTO ?`, abs)
	db.Close()
	if err != nil {
		os.Remove(abs)
		return 0, fmt.Errorf("copying the database: %w", err)
	}
	if err := os.Chmod(abs, 0o600); err != nil { // it holds account and money records
		return 0, err
	}
	cp, err := OpenFile(ctx, abs)
	if err != nil {
		return 0, fmt.Errorf("the backup does not open: %w", err)
	}
	defer cp.Close()
	var ok string
	if err := cp.r.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&ok); err != nil || ok != "ok" {
		return 0, fmt.Errorf("the backup fails its integrity check: %s %v", ok, err)
	}
	got, err := cp.SchemaVersion(ctx)
	if err != nil || got != want {
		return got, fmt.Errorf("the backup has schema %d, the database %d: %v", got, want, err)
	}
	return got, nil
}
