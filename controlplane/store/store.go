// Package store is the control plane's sqlite database (modernc.org/sqlite):
// the schema as numbered SQL migrations, and every SQL statement as a function
// that takes a transaction or connection. Writes go through one writer
// connection (WAL, immediate transactions) so they never fight over locks;
// reads use a separate pool.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Sentinel errors, mapped to HTTP statuses by the API in one place.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
	// ErrFull: the disk (or the database's size limit) is full. The
	// transaction was rolled back whole; nothing was half written.
	ErrFull = errors.New("the database's disk is full")
	// ErrBusy: the database stayed locked past the busy timeout.
	ErrBusy = errors.New("the database is busy")
)

// classify wraps sqlite's full and busy errors in ErrFull and ErrBusy so
// callers can tell them apart from their own mistakes.
func classify(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "database or disk is full") || strings.Contains(msg, "SQLITE_FULL"):
		return fmt.Errorf("%w: %w", ErrFull, err)
	case strings.Contains(msg, "database is locked") || strings.Contains(msg, "SQLITE_BUSY"):
		return fmt.Errorf("%w: %w", ErrBusy, err)
	}
	return err
}

// Querier is what read queries need: a *sql.DB, *sql.Conn or *sql.Tx.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Store holds the writer connection and the reader pool.
type Store struct {
	w    *sql.DB
	r    *sql.DB
	path string
}

// FileName is the database file inside the data directory.
const FileName = "idlegrid.db"

// Open opens (creating if needed) the database in dir and applies pending
// migrations.
func Open(ctx context.Context, dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating data directory: %w", err)
	}
	return OpenFile(ctx, filepath.Join(dir, FileName))
}

// OpenFile opens the database at path and applies pending migrations.
func OpenFile(ctx context.Context, path string) (*Store, error) {
	dsn := func(extra ...string) string {
		q := url.Values{}
		for _, p := range []string{"journal_mode(WAL)", "busy_timeout(5000)", "synchronous(NORMAL)", "foreign_keys(1)"} {
			q.Add("_pragma", p)
		}
		for _, p := range extra {
			q.Add("_pragma", p)
		}
		return "file:" + path + "?" + q.Encode() + "&_txlock=immediate"
	}
	// The writer keeps 64 MiB of pages (sqlite's default is 2 MiB): a
	// fleet's telemetry batch touches a leaf page per device, and re-reading
	// them from the OS on every flush was most of the commit's cost.
	w, err := sql.Open("sqlite", dsn("cache_size(-65536)"))
	if err != nil {
		return nil, fmt.Errorf("opening database: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	w.SetConnMaxLifetime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("opening database %s: %w", path, err)
	}
	s := &Store{w: w, path: path}
	if err := s.migrate(ctx); err != nil {
		w.Close()
		return nil, err
	}
	r, err := sql.Open("sqlite", dsn("query_only(1)"))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("opening database readers: %w", err)
	}
	r.SetMaxOpenConns(4)
	s.r = r
	return s, nil
}

// Close closes both pools.
func (s *Store) Close() error {
	return errors.Join(s.r.Close(), s.w.Close())
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

// Write runs fn in one immediate transaction on the writer connection,
// committing when fn returns nil. Compose several queries in one fn to make
// them atomic.
func (s *Store) Write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return classify(fmt.Errorf("beginning transaction: %w", err))
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return classify(err)
	}
	if err := tx.Commit(); err != nil {
		_ = tx.Rollback()
		return classify(fmt.Errorf("committing: %w", err))
	}
	return nil
}

// Reader is the read pool, for queries that need no transaction.
func (s *Store) Reader() Querier { return s.r }

// Read runs fn in one read transaction, for a consistent view across queries.
func (s *Store) Read(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("beginning read: %w", err)
	}
	defer tx.Rollback()
	return fn(tx)
}
