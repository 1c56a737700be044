package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ErrGone marks a pairing secret that existed but can no longer be used
// (expired, already used, revoked). Wrapped with the reason.
var ErrGone = errors.New("no longer valid")

// Device is a supplier machine bound to an account by its ed25519 key.
type Device struct {
	ID           string
	UserID       string
	Name         string
	PublicKey    []byte
	CreatedAt    time.Time
	LastSeenAt   time.Time // zero: never
	AgentVersion string
	Simulated    bool
	HostJSON     string
	GPUStatus    string // empty when GPUs are readable, else the reason in words
	GPUs         []DeviceGPU
	Runtimes     []string // cluster runtimes the agent can run ("ray")
	Region       string
}

// Can reports whether the device's agent can run runtime.
func (d Device) Can(runtime string) bool { return slices.Contains(d.Runtimes, runtime) }

// DeviceGPU is one GPU of a device's last reported inventory.
type DeviceGPU struct {
	Index       int
	UUID        string
	Name        string
	MemoryTotal uint64
	Driver      string
	Simulated   bool
}

// InsertPairingCode stores a single-use code by its hash.
func InsertPairingCode(ctx context.Context, tx *sql.Tx, codeHash []byte, userID string, now, expires time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO pairing_codes(code_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
		codeHash, userID, ms(now), ms(expires))
	if isUnique(err) {
		return fmt.Errorf("pairing code collision: %w", ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("inserting pairing code: %w", err)
	}
	return nil
}

// ClaimPairingCode marks a code used by deviceID and returns its account.
// Unknown is ErrNotFound; used or expired wrap ErrGone.
func ClaimPairingCode(ctx context.Context, tx *sql.Tx, codeHash []byte, deviceID string, now time.Time) (string, error) {
	var userID string
	var expires int64
	var used sql.NullInt64
	err := tx.QueryRowContext(ctx, `SELECT user_id, expires_at, used_at FROM pairing_codes WHERE code_hash = ?`, codeHash).
		Scan(&userID, &expires, &used)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("reading pairing code: %w", err)
	}
	switch {
	case used.Valid:
		return "", fmt.Errorf("pairing code already used: %w", ErrGone)
	case expires <= ms(now):
		return "", fmt.Errorf("pairing code expired: %w", ErrGone)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE pairing_codes SET used_at = ?, device_id = ? WHERE code_hash = ?`, ms(now), deviceID, codeHash); err != nil {
		return "", fmt.Errorf("using pairing code: %w", err)
	}
	return userID, nil
}

// EnrollmentToken lets a farm enroll many rigs until it expires or is revoked.
type EnrollmentToken struct {
	ID        string
	UserID    string
	Name      string
	Prefix    string
	CreatedAt time.Time
	ExpiresAt time.Time
	RevokedAt time.Time
	Uses      int
}

// InsertEnrollmentToken stores a token by its hash.
func InsertEnrollmentToken(ctx context.Context, tx *sql.Tx, t EnrollmentToken, hash []byte) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO enrollment_tokens(id, user_id, name, prefix, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.UserID, t.Name, t.Prefix, hash, ms(t.CreatedAt), ms(t.ExpiresAt))
	if err != nil {
		return fmt.Errorf("inserting enrollment token: %w", err)
	}
	return nil
}

// ClaimEnrollmentToken counts one use of a token and returns its account.
func ClaimEnrollmentToken(ctx context.Context, tx *sql.Tx, hash []byte, now time.Time) (string, error) {
	var id, userID string
	var expires int64
	var revoked sql.NullInt64
	err := tx.QueryRowContext(ctx, `SELECT id, user_id, expires_at, revoked_at FROM enrollment_tokens WHERE token_hash = ?`, hash).
		Scan(&id, &userID, &expires, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("reading enrollment token: %w", err)
	}
	switch {
	case revoked.Valid:
		return "", fmt.Errorf("enrollment token revoked: %w", ErrGone)
	case expires <= ms(now):
		return "", fmt.Errorf("enrollment token expired: %w", ErrGone)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE enrollment_tokens SET uses = uses + 1 WHERE id = ?`, id); err != nil {
		return "", fmt.Errorf("counting enrollment: %w", err)
	}
	return userID, nil
}

// ListEnrollmentTokens lists a user's tokens, newest first.
func ListEnrollmentTokens(ctx context.Context, q Querier, userID string) ([]EnrollmentToken, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, user_id, name, prefix, created_at, expires_at, revoked_at, uses
		FROM enrollment_tokens WHERE user_id = ? ORDER BY created_at DESC, id`, userID)
	if err != nil {
		return nil, fmt.Errorf("listing enrollment tokens: %w", err)
	}
	defer rows.Close()
	var out []EnrollmentToken
	for rows.Next() {
		var t EnrollmentToken
		var created, expires int64
		var revoked sql.NullInt64
		if err := rows.Scan(&t.ID, &t.UserID, &t.Name, &t.Prefix, &created, &expires, &revoked, &t.Uses); err != nil {
			return nil, fmt.Errorf("reading enrollment token: %w", err)
		}
		t.CreatedAt, t.ExpiresAt, t.RevokedAt = fromMS(created), fromMS(expires), fromNullMS(revoked)
		out = append(out, t)
	}
	return out, rows.Err()
}

// RevokeEnrollmentToken revokes one of userID's tokens.
func RevokeEnrollmentToken(ctx context.Context, tx *sql.Tx, userID, id string, now time.Time) error {
	return expectOne(tx.ExecContext(ctx, `UPDATE enrollment_tokens SET revoked_at = coalesce(revoked_at, ?) WHERE id = ? AND user_id = ?`,
		ms(now), id, userID))
}

// InsertDevice binds a new device key to an account; a key already paired is
// ErrConflict.
func InsertDevice(ctx context.Context, tx *sql.Tx, d Device) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO devices(id, user_id, name, public_key, created_at, simulated) VALUES (?, ?, ?, ?, ?, ?)`,
		d.ID, d.UserID, d.Name, d.PublicKey, ms(d.CreatedAt), boolInt(d.Simulated))
	if isUnique(err) {
		return fmt.Errorf("this device key is already paired: %w", ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("inserting device: %w", err)
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// UpdateInventory records what the agent reported at connect time.
func UpdateInventory(ctx context.Context, tx *sql.Tx, d Device) error {
	if err := expectOne(tx.ExecContext(ctx, `UPDATE devices SET agent_version = ?, simulated = ?, host_json = ?, gpu_status = ?, runtimes = ?, region = ? WHERE id = ?`,
		d.AgentVersion, boolInt(d.Simulated), d.HostJSON, d.GPUStatus, strings.Join(d.Runtimes, ","), d.Region, d.ID)); err != nil {
		return fmt.Errorf("updating device inventory: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM device_gpus WHERE device_id = ?`, d.ID); err != nil {
		return fmt.Errorf("clearing device gpus: %w", err)
	}
	for _, g := range d.GPUs {
		if _, err := tx.ExecContext(ctx, `INSERT INTO device_gpus(device_id, idx, uuid, name, memory_total, driver, simulated) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			d.ID, g.Index, g.UUID, g.Name, int64(g.MemoryTotal), g.Driver, boolInt(g.Simulated)); err != nil {
			return fmt.Errorf("inserting device gpu: %w", err)
		}
	}
	return nil
}

const deviceCols = `id, user_id, name, public_key, created_at, last_seen_at, agent_version, simulated, host_json, gpu_status, runtimes, region`

func scanDevice(sc interface{ Scan(...any) error }) (Device, error) {
	var d Device
	var created int64
	var seen sql.NullInt64
	var sim int
	var runtimes string
	if err := sc.Scan(&d.ID, &d.UserID, &d.Name, &d.PublicKey, &created, &seen, &d.AgentVersion, &sim, &d.HostJSON, &d.GPUStatus, &runtimes, &d.Region); err != nil {
		return Device{}, err
	}
	if runtimes != "" {
		d.Runtimes = strings.Split(runtimes, ",")
	}
	d.CreatedAt, d.LastSeenAt, d.Simulated = fromMS(created), fromNullMS(seen), sim == 1
	return d, nil
}

// DeviceByID returns one device with its GPUs.
func DeviceByID(ctx context.Context, q Querier, id string) (Device, error) {
	d, err := scanDevice(q.QueryRowContext(ctx, `SELECT `+deviceCols+` FROM devices WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Device{}, ErrNotFound
	}
	if err != nil {
		return Device{}, fmt.Errorf("reading device: %w", err)
	}
	gpus, err := deviceGPUs(ctx, q, `WHERE device_id = ?`, id)
	if err != nil {
		return Device{}, err
	}
	d.GPUs = gpus[id]
	return d, nil
}

// DevicesByUser lists an account's devices with their GPUs, by name.
func DevicesByUser(ctx context.Context, q Querier, userID string) ([]Device, error) {
	return listDevices(ctx, q, `WHERE user_id = ? ORDER BY name, id`, `WHERE device_id IN (SELECT id FROM devices WHERE user_id = ?)`, userID)
}

// listDevices reads the devices matching where, then their GPUs with
// gpuWhere (the same filter over device_gpus), both taking arg.
func listDevices(ctx context.Context, q Querier, where, gpuWhere string, arg any) ([]Device, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+deviceCols+` FROM devices `+where, arg)
	if err != nil {
		return nil, fmt.Errorf("listing devices: %w", err)
	}
	defer rows.Close()
	var out []Device
	for rows.Next() {
		d, err := scanDevice(rows)
		if err != nil {
			return nil, fmt.Errorf("reading device: %w", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	gpus, err := deviceGPUs(ctx, q, gpuWhere, arg)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].GPUs = gpus[out[i].ID]
	}
	return out, nil
}

func deviceGPUs(ctx context.Context, q Querier, where string, arg any) (map[string][]DeviceGPU, error) {
	rows, err := q.QueryContext(ctx, `SELECT device_id, idx, uuid, name, memory_total, driver, simulated FROM device_gpus `+where+` ORDER BY device_id, idx`, arg)
	if err != nil {
		return nil, fmt.Errorf("listing device gpus: %w", err)
	}
	defer rows.Close()
	out := map[string][]DeviceGPU{}
	for rows.Next() {
		var id string
		var g DeviceGPU
		var mem int64
		var sim int
		if err := rows.Scan(&id, &g.Index, &g.UUID, &g.Name, &mem, &g.Driver, &sim); err != nil {
			return nil, fmt.Errorf("reading device gpu: %w", err)
		}
		g.MemoryTotal, g.Simulated = uint64(mem), sim == 1
		out[id] = append(out[id], g)
	}
	return out, rows.Err()
}

// RenameDevice renames one of userID's devices.
func RenameDevice(ctx context.Context, tx *sql.Tx, userID, id, name string) error {
	return expectOne(tx.ExecContext(ctx, `UPDATE devices SET name = ? WHERE id = ? AND user_id = ?`, name, id, userID))
}

// DeleteDevice removes one of userID's devices with its telemetry.
func DeleteDevice(ctx context.Context, tx *sql.Tx, userID, id string) error {
	return expectOne(tx.ExecContext(ctx, `DELETE FROM devices WHERE id = ? AND user_id = ?`, id, userID))
}

// TouchDevices advances last_seen_at (never backwards) for devices that
// still exist.
func TouchDevices(ctx context.Context, tx *sql.Tx, seen map[string]time.Time) error {
	stmt, err := tx.PrepareContext(ctx, `UPDATE devices SET last_seen_at = max(coalesce(last_seen_at, 0), ?) WHERE id = ?`)
	if err != nil {
		return fmt.Errorf("preparing last-seen update: %w", err)
	}
	defer stmt.Close()
	for id, t := range seen {
		if _, err := stmt.ExecContext(ctx, ms(t), id); err != nil {
			return fmt.Errorf("updating last seen: %w", err)
		}
	}
	return nil
}

// OnlineDevices lists devices seen since since, with their GPUs.
func OnlineDevices(ctx context.Context, q Querier, since time.Time) ([]Device, error) {
	return listDevices(ctx, q, `WHERE last_seen_at >= ? ORDER BY id`, `WHERE device_id IN (SELECT id FROM devices WHERE last_seen_at >= ?)`, ms(since))
}

// BusyDevices is the set of devices reserved by a cluster or with an open
// assignment.
func BusyDevices(ctx context.Context, q Querier) (map[string]bool, error) {
	rows, err := q.QueryContext(ctx, `SELECT device_id FROM cluster_nodes WHERE released_at IS NULL
		UNION SELECT device_id FROM usage_assignments WHERE ended_at IS NULL`)
	if err != nil {
		return nil, fmt.Errorf("listing busy devices: %w", err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out[id] = true
	}
	return out, rows.Err()
}

// InsertQuote stores a quote.
func InsertQuote(ctx context.Context, tx *sql.Tx, q Quote) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO quotes(id, user_id, request, devices, gpus, hours, price_per_hour, total, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		q.ID, q.UserID, q.Request, q.Devices, q.GPUs, q.Hours, q.PricePerHour, q.Total, ms(q.CreatedAt), ms(q.ExpiresAt))
	if err != nil {
		return fmt.Errorf("inserting quote: %w", err)
	}
	return nil
}

// QuoteByID reads one of userID's quotes.
func QuoteByID(ctx context.Context, q Querier, userID, id string) (Quote, error) {
	var out Quote
	var created, expires int64
	err := q.QueryRowContext(ctx, `SELECT id, user_id, request, devices, gpus, hours, price_per_hour, total, created_at, expires_at FROM quotes WHERE id = ? AND user_id = ?`, id, userID).
		Scan(&out.ID, &out.UserID, &out.Request, &out.Devices, &out.GPUs, &out.Hours, &out.PricePerHour, &out.Total, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return out, ErrNotFound
	}
	out.CreatedAt, out.ExpiresAt = fromMS(created), fromMS(expires)
	return out, err
}

// Quote is a stored price promise.
type Quote struct {
	ID, UserID, Request, Devices string
	GPUs, Hours                  int
	PricePerHour, Total          int64
	CreatedAt, ExpiresAt         time.Time
}
