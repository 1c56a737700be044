package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Webhook is an account's alert URL.
type Webhook struct {
	UserID, URL string
	Secret      []byte
	CreatedAt   time.Time
}

// SetWebhook sets (or replaces) userID's webhook.
func SetWebhook(ctx context.Context, tx *sql.Tx, w Webhook) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO webhooks(user_id, url, secret, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET url = excluded.url, secret = excluded.secret, created_at = excluded.created_at`,
		w.UserID, w.URL, w.Secret, ms(w.CreatedAt))
	if err != nil {
		return fmt.Errorf("setting webhook: %w", err)
	}
	return nil
}

// DeleteWebhook removes userID's webhook; none is ErrNotFound.
func DeleteWebhook(ctx context.Context, tx *sql.Tx, userID string) error {
	return expectOne(tx.ExecContext(ctx, `DELETE FROM webhooks WHERE user_id = ?`, userID))
}

// WebhookOf reads userID's webhook, or ErrNotFound.
func WebhookOf(ctx context.Context, q Querier, userID string) (Webhook, error) {
	w := Webhook{UserID: userID}
	var created int64
	err := q.QueryRowContext(ctx, `SELECT url, secret, created_at FROM webhooks WHERE user_id = ?`, userID).Scan(&w.URL, &w.Secret, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return w, ErrNotFound
	}
	w.CreatedAt = fromMS(created)
	return w, err
}

// WatchedDevices lists the devices of accounts with a webhook.
func WatchedDevices(ctx context.Context, q Querier) ([]Device, error) {
	return listDevices(ctx, q, `WHERE user_id IN (SELECT user_id FROM webhooks) AND ? = 1 ORDER BY id`,
		`WHERE device_id IN (SELECT id FROM devices WHERE user_id IN (SELECT user_id FROM webhooks) AND ? = 1)`, 1)
}

// OpenAlert is a device's raised, uncleared alert of kind, or ErrNotFound.
func OpenAlert(ctx context.Context, q Querier, deviceID, kind string) (int64, error) {
	var id int64
	err := q.QueryRowContext(ctx, `SELECT id FROM device_alerts WHERE device_id = ? AND kind = ? AND cleared_at IS NULL`, deviceID, kind).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, ErrNotFound
	}
	return id, err
}

// RaiseAlert records a raised alert; one already open is ErrConflict.
func RaiseAlert(ctx context.Context, tx *sql.Tx, deviceID, userID, kind, message string, at time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO device_alerts(device_id, user_id, kind, message, raised_at) VALUES (?, ?, ?, ?, ?)`,
		deviceID, userID, kind, message, ms(at))
	if isUnique(err) {
		return ErrConflict
	}
	return err
}

// ClearAlert ends an open alert.
func ClearAlert(ctx context.Context, tx *sql.Tx, id int64, at time.Time) error {
	return expectOne(tx.ExecContext(ctx, `UPDATE device_alerts SET cleared_at = ? WHERE id = ? AND cleared_at IS NULL`, ms(at), id))
}

// Delivery is one webhook call to make.
type Delivery struct {
	ID                    int64
	UserID, Event         string
	Attempts              int
	CreatedAt, NextAt     time.Time
	DeliveredAt, FailedAt time.Time
	LastError             string
}

// QueueDelivery adds a webhook call, due at once.
func QueueDelivery(ctx context.Context, tx *sql.Tx, userID, event string, at time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO webhook_deliveries(user_id, event, created_at, next_at) VALUES (?, ?, ?, ?)`, userID, event, ms(at), ms(at))
	return err
}

const deliveryCols = `id, user_id, event, attempts, created_at, next_at, delivered_at, failed_at, last_error`

func scanDelivery(sc interface{ Scan(...any) error }) (Delivery, error) {
	var d Delivery
	var created, next int64
	var delivered, failed sql.NullInt64
	err := sc.Scan(&d.ID, &d.UserID, &d.Event, &d.Attempts, &created, &next, &delivered, &failed, &d.LastError)
	d.CreatedAt, d.NextAt, d.DeliveredAt, d.FailedAt = fromMS(created), fromMS(next), fromNullMS(delivered), fromNullMS(failed)
	return d, err
}

func queryDeliveries(ctx context.Context, q Querier, where string, args ...any) ([]Delivery, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+deliveryCols+` FROM webhook_deliveries `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("listing webhook deliveries: %w", err)
	}
	defer rows.Close()
	var out []Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// DueDeliveries lists undelivered calls due by now, oldest first.
func DueDeliveries(ctx context.Context, q Querier, now time.Time, limit int) ([]Delivery, error) {
	return queryDeliveries(ctx, q, `WHERE delivered_at IS NULL AND failed_at IS NULL AND next_at <= ? ORDER BY next_at, id LIMIT ?`, ms(now), limit)
}

// DeliveriesOf lists userID's newest calls.
func DeliveriesOf(ctx context.Context, q Querier, userID string, limit int) ([]Delivery, error) {
	return queryDeliveries(ctx, q, `WHERE user_id = ? ORDER BY id DESC LIMIT ?`, userID, limit)
}

// MarkDelivery records an attempt: delivered, retried at next, or given up.
func MarkDelivery(ctx context.Context, tx *sql.Tx, id int64, at time.Time, delivered bool, next time.Time, giveUp bool, errText string) error {
	switch {
	case delivered:
		return expectOne(tx.ExecContext(ctx, `UPDATE webhook_deliveries SET attempts = attempts + 1, delivered_at = ?, last_error = '' WHERE id = ?`, ms(at), id))
	case giveUp:
		return expectOne(tx.ExecContext(ctx, `UPDATE webhook_deliveries SET attempts = attempts + 1, failed_at = ?, last_error = ? WHERE id = ?`, ms(at), errText, id))
	}
	return expectOne(tx.ExecContext(ctx, `UPDATE webhook_deliveries SET attempts = attempts + 1, next_at = ?, last_error = ? WHERE id = ?`, ms(next), errText, id))
}
