package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// User is an account; one account can both supply and rent.
type User struct {
	ID           string
	Email        string
	PasswordHash string
	CreatedAt    time.Time
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

func fromNullMS(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMS(v.Int64)
}

func isUnique(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// InsertUser creates an account; a taken email is ErrConflict.
func InsertUser(ctx context.Context, tx *sql.Tx, u User) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO users(id, email, password_hash, created_at) VALUES (?, ?, ?, ?)`,
		u.ID, u.Email, u.PasswordHash, ms(u.CreatedAt))
	if isUnique(err) {
		return fmt.Errorf("email already registered: %w", ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("inserting user: %w", err)
	}
	return nil
}

// SetPassword replaces a user's password hash.
func SetPassword(ctx context.Context, tx *sql.Tx, userID, hash string) error {
	return expectOne(tx.ExecContext(ctx, `UPDATE users SET password_hash = ? WHERE id = ?`, hash, userID))
}

// UserByEmail looks an account up by its (normalised) email.
func UserByEmail(ctx context.Context, q Querier, email string) (User, error) {
	return scanUser(q.QueryRowContext(ctx, `SELECT id, email, password_hash, created_at FROM users WHERE email = ?`, email))
}

// UserByID looks an account up by id.
func UserByID(ctx context.Context, q Querier, id string) (User, error) {
	return scanUser(q.QueryRowContext(ctx, `SELECT id, email, password_hash, created_at FROM users WHERE id = ?`, id))
}

func scanUser(row *sql.Row) (User, error) {
	var u User
	var created int64
	err := row.Scan(&u.ID, &u.Email, &u.PasswordHash, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, ErrNotFound
	}
	if err != nil {
		return User{}, fmt.Errorf("reading user: %w", err)
	}
	u.CreatedAt = fromMS(created)
	return u, nil
}

// InsertSession stores a console session by the SHA-256 of its token.
func InsertSession(ctx context.Context, tx *sql.Tx, tokenHash []byte, userID string, now, expires time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO sessions(token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
		tokenHash, userID, ms(now), ms(expires))
	if err != nil {
		return fmt.Errorf("inserting session: %w", err)
	}
	return nil
}

// SessionUser returns the user of an unexpired session.
func SessionUser(ctx context.Context, q Querier, tokenHash []byte, now time.Time) (User, error) {
	return scanUser(q.QueryRowContext(ctx, `SELECT u.id, u.email, u.password_hash, u.created_at
		FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.token_hash = ? AND s.expires_at > ?`, tokenHash, ms(now)))
}

// DeleteSession ends a session (sign out).
func DeleteSession(ctx context.Context, tx *sql.Tx, tokenHash []byte) error {
	_, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = ?`, tokenHash)
	if err != nil {
		return fmt.Errorf("deleting session: %w", err)
	}
	return nil
}

// APIKey is a program's credential; only its hash is kept.
type APIKey struct {
	ID         string
	UserID     string
	Name       string
	Prefix     string
	CreatedAt  time.Time
	LastUsedAt time.Time
	RevokedAt  time.Time
}

// InsertAPIKey stores a new key by its hash.
func InsertAPIKey(ctx context.Context, tx *sql.Tx, k APIKey, hash []byte) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO api_keys(id, user_id, name, prefix, key_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		k.ID, k.UserID, k.Name, k.Prefix, hash, ms(k.CreatedAt))
	if err != nil {
		return fmt.Errorf("inserting api key: %w", err)
	}
	return nil
}

// APIKeyUser returns the owner of an unrevoked key.
func APIKeyUser(ctx context.Context, q Querier, hash []byte) (User, string, error) {
	var keyID string
	var u User
	var created int64
	err := q.QueryRowContext(ctx, `SELECT k.id, u.id, u.email, u.password_hash, u.created_at
		FROM api_keys k JOIN users u ON u.id = k.user_id
		WHERE k.key_hash = ? AND k.revoked_at IS NULL`, hash).Scan(&keyID, &u.ID, &u.Email, &u.PasswordHash, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, "", ErrNotFound
	}
	if err != nil {
		return User{}, "", fmt.Errorf("reading api key: %w", err)
	}
	u.CreatedAt = fromMS(created)
	return u, keyID, nil
}

// TouchAPIKey records when a key was last used.
func TouchAPIKey(ctx context.Context, tx *sql.Tx, id string, now time.Time) error {
	_, err := tx.ExecContext(ctx, `UPDATE api_keys SET last_used_at = ? WHERE id = ?`, ms(now), id)
	return err
}

// ListAPIKeys lists a user's keys, newest first.
func ListAPIKeys(ctx context.Context, q Querier, userID string) ([]APIKey, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, user_id, name, prefix, created_at, last_used_at, revoked_at
		FROM api_keys WHERE user_id = ? ORDER BY created_at DESC, id`, userID)
	if err != nil {
		return nil, fmt.Errorf("listing api keys: %w", err)
	}
	defer rows.Close()
	var out []APIKey
	for rows.Next() {
		var k APIKey
		var created int64
		var used, revoked sql.NullInt64
		if err := rows.Scan(&k.ID, &k.UserID, &k.Name, &k.Prefix, &created, &used, &revoked); err != nil {
			return nil, fmt.Errorf("reading api key: %w", err)
		}
		k.CreatedAt, k.LastUsedAt, k.RevokedAt = fromMS(created), fromNullMS(used), fromNullMS(revoked)
		out = append(out, k)
	}
	return out, rows.Err()
}

// RevokeAPIKey revokes one of userID's keys; another user's key is ErrNotFound.
func RevokeAPIKey(ctx context.Context, tx *sql.Tx, userID, id string, now time.Time) error {
	return expectOne(tx.ExecContext(ctx, `UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE id = ? AND user_id = ?`,
		ms(now), id, userID))
}

func expectOne(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}
