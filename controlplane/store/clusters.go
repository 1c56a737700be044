package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Cluster states.
const (
	ClusterPending      = "pending"
	ClusterProvisioning = "provisioning"
	ClusterRunning      = "running"
	ClusterDegraded     = "degraded"
	ClusterTerminating  = "terminating"
	ClusterTerminated   = "terminated"
	ClusterFailed       = "failed"
)

// Node states.
const (
	NodeStarting = "starting" // reserved and told to start; not yet in the cluster
	NodeJoined   = "joined"   // the head counts it alive
	NodeDraining = "draining" // its supplier reclaims it; it leaves at LeaveAt
	NodeStopping = "stopping" // told to stop; released when it has
	NodeLeft     = "left"     // stopped or lost; the device is free
)

// Cluster is a requester's cluster.
type Cluster struct {
	ID, OwnerID, IdemKey, Request, QuoteID, Runtime string
	State, Reason                                   string
	GPUs, Hours                                     int
	PricePerHour                                    int64
	CreatedAt, UpdatedAt                            time.Time
	ReadyAt, ExpiresAt, EndedAt                     time.Time
}

// Ended reports whether the cluster reached a final state.
func (c Cluster) Ended() bool { return c.State == ClusterTerminated || c.State == ClusterFailed }

// ClusterNode is one device's place in a cluster.
type ClusterNode struct {
	ID                              int64
	ClusterID, DeviceID, Assignment string
	Role, State, GPUModel, Region   string
	GPUs                            int
	PricePerGPUHour                 int64
	Reason                          string
	CreatedAt, JoinedAt, LeaveAt    time.Time
	ReleasedAt                      time.Time
}

// ClusterEvent is one line of a cluster's history.
type ClusterEvent struct {
	ID        int64     `json:"id"`
	At        time.Time `json:"at"`
	Kind      string    `json:"kind"`
	Message   string    `json:"message"`
	ClusterID string    `json:"-"`
}

const clusterCols = `id, owner_id, coalesce(idem_key, ''), request, coalesce(quote_id, ''), runtime, state, reason, gpus, hours, price_per_hour, created_at, updated_at, ready_at, expires_at, ended_at`

func scanCluster(sc interface{ Scan(...any) error }) (Cluster, error) {
	var c Cluster
	var created, updated int64
	var ready, expires, ended sql.NullInt64
	err := sc.Scan(&c.ID, &c.OwnerID, &c.IdemKey, &c.Request, &c.QuoteID, &c.Runtime, &c.State, &c.Reason, &c.GPUs, &c.Hours, &c.PricePerHour,
		&created, &updated, &ready, &expires, &ended)
	c.CreatedAt, c.UpdatedAt = fromMS(created), fromMS(updated)
	c.ReadyAt, c.ExpiresAt, c.EndedAt = fromNullMS(ready), fromNullMS(expires), fromNullMS(ended)
	return c, err
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// InsertCluster stores a new cluster. A repeated Idempotency-Key of the
// same owner is ErrConflict.
func InsertCluster(ctx context.Context, tx *sql.Tx, c Cluster) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO clusters(id, owner_id, idem_key, request, quote_id, runtime, state, gpus, hours, price_per_hour, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.OwnerID, nullString(c.IdemKey), c.Request, nullString(c.QuoteID), c.Runtime, c.State, c.GPUs, c.Hours, c.PricePerHour, ms(c.CreatedAt), ms(c.CreatedAt))
	if isUnique(err) {
		return fmt.Errorf("a cluster with this Idempotency-Key exists: %w", ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("inserting cluster: %w", err)
	}
	return nil
}

// ClusterByID reads one cluster.
func ClusterByID(ctx context.Context, q Querier, id string) (Cluster, error) {
	c, err := scanCluster(q.QueryRowContext(ctx, `SELECT `+clusterCols+` FROM clusters WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return c, ErrNotFound
	}
	return c, err
}

// ClusterByIdemKey finds an owner's cluster by its deploy's Idempotency-Key.
func ClusterByIdemKey(ctx context.Context, q Querier, ownerID, key string) (Cluster, error) {
	c, err := scanCluster(q.QueryRowContext(ctx, `SELECT `+clusterCols+` FROM clusters WHERE owner_id = ? AND idem_key = ?`, ownerID, key))
	if errors.Is(err, sql.ErrNoRows) {
		return c, ErrNotFound
	}
	return c, err
}

func queryClusters(ctx context.Context, q Querier, where string, args ...any) ([]Cluster, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+clusterCols+` FROM clusters `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("listing clusters: %w", err)
	}
	defer rows.Close()
	var out []Cluster
	for rows.Next() {
		c, err := scanCluster(rows)
		if err != nil {
			return nil, fmt.Errorf("reading cluster: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// ClustersOf lists an owner's clusters, newest first.
func ClustersOf(ctx context.Context, q Querier, ownerID string, limit int) ([]Cluster, error) {
	return queryClusters(ctx, q, `WHERE owner_id = ? ORDER BY created_at DESC, id LIMIT ?`, ownerID, limit)
}

// RecentClusters lists every owner's clusters, newest first (the explorer
// shows them without their owner).
func RecentClusters(ctx context.Context, q Querier, limit int) ([]Cluster, error) {
	return queryClusters(ctx, q, `ORDER BY created_at DESC, id LIMIT ?`, limit)
}

// ClustersToManage lists clusters that are not final, or are final but
// still have devices to release.
func ClustersToManage(ctx context.Context, q Querier) ([]Cluster, error) {
	return queryClusters(ctx, q, `WHERE state NOT IN ('terminated', 'failed')
		OR id IN (SELECT cluster_id FROM cluster_nodes WHERE released_at IS NULL) ORDER BY created_at, id`)
}

// SetClusterState moves a cluster to state with a reason (kept when empty);
// a final state stamps ended_at. It fails with ErrConflict when the cluster
// is not in one of from.
func SetClusterState(ctx context.Context, tx *sql.Tx, id, state, reason string, now time.Time, from ...string) error {
	var ended any
	if state == ClusterTerminated || state == ClusterFailed {
		ended = ms(now)
	}
	args := []any{state, reason, reason, ms(now), ended, id}
	for _, f := range from {
		args = append(args, f)
	}
	res, err := tx.ExecContext(ctx, `UPDATE clusters SET state = ?, reason = CASE WHEN ? = '' THEN reason ELSE ? END, updated_at = ?,
		ended_at = coalesce(ended_at, ?) WHERE id = ? AND state IN (`+strings.TrimSuffix(strings.Repeat("?, ", len(from)), ", ")+`)`, args...)
	if err != nil {
		return fmt.Errorf("setting cluster state: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("cluster %s is not %s: %w", id, strings.Join(from, " or "), ErrConflict)
	}
	return nil
}

// SetClusterReady stamps the first time the cluster was ready and its expiry.
func SetClusterReady(ctx context.Context, tx *sql.Tx, id string, at, expires time.Time) error {
	return expectOne(tx.ExecContext(ctx, `UPDATE clusters SET ready_at = coalesce(ready_at, ?), expires_at = coalesce(expires_at, ?), updated_at = ? WHERE id = ?`,
		ms(at), ms(expires), ms(at), id))
}

// ExtendCluster adds hours to a running cluster's expiry.
func ExtendCluster(ctx context.Context, tx *sql.Tx, id string, hours int, now time.Time) error {
	return expectOne(tx.ExecContext(ctx, `UPDATE clusters SET hours = hours + ?, expires_at = expires_at + ?, updated_at = ? WHERE id = ? AND expires_at IS NOT NULL`,
		hours, int64(hours)*3_600_000, ms(now), id))
}

const nodeCols = `id, cluster_id, device_id, assignment_id, role, state, gpus, gpu_model, region, price_per_gpu_hour, reason, created_at, joined_at, leave_at, released_at`

func scanNode(sc interface{ Scan(...any) error }) (ClusterNode, error) {
	var n ClusterNode
	var created int64
	var joined, leave, released sql.NullInt64
	err := sc.Scan(&n.ID, &n.ClusterID, &n.DeviceID, &n.Assignment, &n.Role, &n.State, &n.GPUs, &n.GPUModel, &n.Region, &n.PricePerGPUHour, &n.Reason,
		&created, &joined, &leave, &released)
	n.CreatedAt, n.JoinedAt, n.LeaveAt, n.ReleasedAt = fromMS(created), fromNullMS(joined), fromNullMS(leave), fromNullMS(released)
	return n, err
}

// InsertClusterNode reserves a device for a cluster. A device already
// reserved is ErrConflict (the partial unique index says so).
func InsertClusterNode(ctx context.Context, tx *sql.Tx, n ClusterNode) (int64, error) {
	res, err := tx.ExecContext(ctx, `INSERT INTO cluster_nodes(cluster_id, device_id, assignment_id, role, state, gpus, gpu_model, region, price_per_gpu_hour, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		n.ClusterID, n.DeviceID, n.Assignment, n.Role, n.State, n.GPUs, n.GPUModel, n.Region, n.PricePerGPUHour, ms(n.CreatedAt))
	if isUnique(err) {
		return 0, fmt.Errorf("device %s is already in a cluster: %w", n.DeviceID, ErrConflict)
	}
	if err != nil {
		return 0, fmt.Errorf("inserting cluster node: %w", err)
	}
	return res.LastInsertId()
}

// ClusterNodes lists a cluster's nodes, oldest first, released ones too.
func ClusterNodes(ctx context.Context, q Querier, clusterID string) ([]ClusterNode, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+nodeCols+` FROM cluster_nodes WHERE cluster_id = ? ORDER BY id`, clusterID)
	if err != nil {
		return nil, fmt.Errorf("listing cluster nodes: %w", err)
	}
	defer rows.Close()
	var out []ClusterNode
	for rows.Next() {
		n, err := scanNode(rows)
		if err != nil {
			return nil, fmt.Errorf("reading cluster node: %w", err)
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// NodeOfDevice returns the device's current (unreleased) node, or
// ErrNotFound.
func NodeOfDevice(ctx context.Context, q Querier, deviceID string) (ClusterNode, error) {
	n, err := scanNode(q.QueryRowContext(ctx, `SELECT `+nodeCols+` FROM cluster_nodes WHERE device_id = ? AND released_at IS NULL`, deviceID))
	if errors.Is(err, sql.ErrNoRows) {
		return n, ErrNotFound
	}
	return n, err
}

// NodeUpdate changes a node; zero fields are left alone.
type NodeUpdate struct {
	State, Reason     string
	JoinedAt, LeaveAt time.Time
	ClearLeave        bool // back from draining
	ReleasedAt        time.Time
}

// UpdateClusterNode applies u to node id.
func UpdateClusterNode(ctx context.Context, tx *sql.Tx, id int64, u NodeUpdate) error {
	sets, args := []string{}, []any{}
	add := func(set string, v any) { sets, args = append(sets, set), append(args, v) }
	if u.State != "" {
		add("state = ?", u.State)
	}
	if u.Reason != "" {
		add("reason = ?", u.Reason)
	}
	if !u.JoinedAt.IsZero() {
		add("joined_at = coalesce(joined_at, ?)", ms(u.JoinedAt))
	}
	if !u.LeaveAt.IsZero() {
		add("leave_at = ?", ms(u.LeaveAt))
	}
	if u.ClearLeave {
		sets = append(sets, "leave_at = NULL")
	}
	if !u.ReleasedAt.IsZero() {
		add("released_at = coalesce(released_at, ?)", ms(u.ReleasedAt))
	}
	if len(sets) == 0 {
		return nil
	}
	args = append(args, id)
	return expectOne(tx.ExecContext(ctx, `UPDATE cluster_nodes SET `+strings.Join(sets, ", ")+` WHERE id = ?`, args...))
}

// AddClusterEvent appends a line to a cluster's history.
func AddClusterEvent(ctx context.Context, tx *sql.Tx, clusterID, kind, message string, at time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO cluster_events(cluster_id, at, kind, message) VALUES (?, ?, ?, ?)`, clusterID, ms(at), kind, message)
	if err != nil {
		return fmt.Errorf("adding cluster event: %w", err)
	}
	return nil
}

// ClusterEvents lists a cluster's history, oldest first.
func ClusterEvents(ctx context.Context, q Querier, clusterID string) ([]ClusterEvent, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, at, kind, message FROM cluster_events WHERE cluster_id = ? ORDER BY id`, clusterID)
	if err != nil {
		return nil, fmt.Errorf("listing cluster events: %w", err)
	}
	defer rows.Close()
	var out []ClusterEvent
	for rows.Next() {
		e := ClusterEvent{ClusterID: clusterID}
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Kind, &e.Message); err != nil {
			return nil, err
		}
		e.At = fromMS(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// ClusterCost sums what a cluster's assignments charged and could not
// charge, and the device-seconds billed.
func ClusterCost(ctx context.Context, q Querier, clusterID string) (charged, unpaid, billedMS int64, err error) {
	err = q.QueryRowContext(ctx, `SELECT coalesce(sum(charged), 0), coalesce(sum(unpaid), 0), coalesce(sum(billed_ms), 0) FROM usage_assignments WHERE cluster_id = ?`, clusterID).
		Scan(&charged, &unpaid, &billedMS)
	return
}

// ClusterAccruing estimates what a cluster's ready, open assignments have
// run up since they were last metered (metering settles every minute), in
// micro-USD at now.
func ClusterAccruing(ctx context.Context, q Querier, clusterID string, now time.Time) (int64, error) {
	var v sql.NullFloat64
	err := q.QueryRowContext(ctx, `SELECT sum(price_per_hour * max(? - settled_until, 0) / 3600000.0) FROM usage_assignments
		WHERE cluster_id = ? AND ready_at IS NOT NULL AND ended_at IS NULL`, ms(now), clusterID).Scan(&v)
	return int64(v.Float64), err
}
