package cluster

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/idlegrid/idlegrid/controlplane/pricing"
	"github.com/idlegrid/idlegrid/controlplane/problem"
	"github.com/idlegrid/idlegrid/controlplane/sched"
	"github.com/idlegrid/idlegrid/controlplane/store"
	"github.com/idlegrid/idlegrid/shared/proto"
)

// View is a cluster as its owner sees it.
type View struct {
	ID           string               `json:"id"`
	State        string               `json:"state"`
	Reason       string               `json:"reason,omitempty"`
	Request      sched.Request        `json:"request"`
	GPUs         int                  `json:"gpus"`
	Hours        int                  `json:"hours"`
	PricePerHour int64                `json:"price_per_hour"` // micro-USD, the whole cluster at deploy
	CreatedAt    time.Time            `json:"created_at"`
	ReadyAt      *time.Time           `json:"ready_at,omitempty"`
	ExpiresAt    *time.Time           `json:"expires_at,omitempty"`
	EndedAt      *time.Time           `json:"ended_at,omitempty"`
	Nodes        []NodeView           `json:"nodes"`
	Events       []store.ClusterEvent `json:"events,omitempty"`
	Cost         Cost                 `json:"cost"`
	// Dashboard is the path of the head's Ray dashboard through the control
	// plane; the link is the credential, so only the owner sees it. Tunnel
	// says whether the head's tunnel is up.
	Dashboard string `json:"dashboard"`
	Tunnel    bool   `json:"tunnel_connected"`
	// Simulated: every node is a simulated device (a demo fleet), so no
	// Ray runs and there is nothing to reach.
	Simulated bool `json:"simulated"`
}

// NodeView is one node.
type NodeView struct {
	DeviceID        string     `json:"device_id"`
	Role            string     `json:"role"`
	State           string     `json:"state"`
	Health          string     `json:"health"` // online, suspect, offline, paused
	GPUModel        string     `json:"gpu_model"`
	GPUs            int        `json:"gpus"`
	Region          string     `json:"region,omitempty"`
	PricePerGPUHour int64      `json:"price_per_gpu_hour"`
	Runtime         string     `json:"runtime_state,omitempty"` // what its agent last reported
	Simulated       bool       `json:"simulated"`
	Reason          string     `json:"reason,omitempty"`
	JoinedAt        *time.Time `json:"joined_at,omitempty"`
	ReleasedAt      *time.Time `json:"released_at,omitempty"`
}

// Cost is what the cluster cost so far.
type Cost struct {
	Charged       int64 `json:"charged"` // micro-USD taken from credit
	Unpaid        int64 `json:"unpaid"`  // micro-USD owed beyond credit
	BilledSeconds int64 `json:"billed_seconds"`
	// Accruing estimates what runs up until the next metering (each
	// minute); it is not charged yet.
	Accruing int64 `json:"accruing"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// Own returns ownerID's cluster; another owner's is not found.
func (m *Manager) Own(ctx context.Context, ownerID, id string) (store.Cluster, error) {
	c, err := store.ClusterByID(ctx, m.Store.Reader(), id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && c.OwnerID != ownerID) {
		return c, problem.New(problem.ErrNotFound, "cluster_not_found", "no cluster %s of yours", id)
	}
	return c, err
}

// Describe builds the owner's view of c; events and nodes are included
// when full.
func (m *Manager) Describe(ctx context.Context, c store.Cluster, full bool, tunnelUp func(string) bool) (View, error) {
	v := View{ID: c.ID, State: c.State, Reason: c.Reason, GPUs: c.GPUs, Hours: c.Hours, PricePerHour: c.PricePerHour, CreatedAt: c.CreatedAt.UTC(),
		ReadyAt: timePtr(c.ReadyAt), ExpiresAt: timePtr(c.ExpiresAt), EndedAt: timePtr(c.EndedAt), Nodes: []NodeView{},
		Dashboard: "/ray/" + m.DashboardToken(c.ID, c.OwnerID) + "/"}
	if err := json.Unmarshal([]byte(c.Request), &v.Request); err != nil {
		return v, fmt.Errorf("reading cluster request: %w", err)
	}
	var err error
	if v.Cost.Charged, v.Cost.Unpaid, v.Cost.BilledSeconds, err = store.ClusterCost(ctx, m.Store.Reader(), c.ID); err != nil {
		return v, err
	}
	v.Cost.BilledSeconds /= 1000
	if v.Cost.Accruing, err = store.ClusterAccruing(ctx, m.Store.Reader(), c.ID, m.Now()); err != nil {
		return v, err
	}
	if tunnelUp != nil {
		v.Tunnel = tunnelUp(c.ID)
	}
	if !full {
		return v, nil
	}
	nodes, err := store.ClusterNodes(ctx, m.Store.Reader(), c.ID)
	if err != nil {
		return v, err
	}
	now := m.Now()
	v.Simulated = len(nodes) > 0
	for _, n := range nodes {
		nv := NodeView{DeviceID: n.DeviceID, Role: n.Role, State: n.State, GPUModel: n.GPUModel, GPUs: n.GPUs, Region: n.Region,
			PricePerGPUHour: n.PricePerGPUHour, Reason: n.Reason, JoinedAt: timePtr(n.JoinedAt), ReleasedAt: timePtr(n.ReleasedAt)}
		if d, err := store.DeviceByID(ctx, m.Store.Reader(), n.DeviceID); err == nil {
			nv.Simulated = d.Simulated
		}
		v.Simulated = v.Simulated && nv.Simulated
		nv.Health = m.Hub.Config().State(time.Time{}, now)
		if live, ok := m.Hub.Live(n.DeviceID); ok {
			nv.Health = m.Hub.Config().State(live.LastSeen, now)
			if live.State == proto.StatePaused {
				nv.Health = "paused"
			}
		}
		if r, ok := m.reportOf(n.DeviceID, c.ID); ok {
			nv.Runtime = r.State
		}
		v.Nodes = append(v.Nodes, nv)
	}
	if v.Events, err = store.ClusterEvents(ctx, m.Store.Reader(), c.ID); err != nil {
		return v, err
	}
	return v, nil
}

// Terminate ends ownerID's cluster: billing stops now and every node is
// told to stop. Terminating an ended cluster changes nothing.
func (m *Manager) Terminate(ctx context.Context, ownerID, id string) (store.Cluster, error) {
	c, err := m.Own(ctx, ownerID, id)
	if err != nil {
		return c, err
	}
	if c.Ended() || c.State == store.ClusterTerminating {
		return c, nil
	}
	err = m.end(ctx, id, store.ClusterTerminating, "terminating", "terminated by its owner")
	if errors.Is(err, store.ErrConflict) {
		err = nil // it ended by itself meanwhile
	}
	if err != nil {
		return c, err
	}
	return store.ClusterByID(ctx, m.Store.Reader(), id)
}

// Extend adds hours to a ready cluster; the credit must cover its first
// added hour(s) like a deploy.
func (m *Manager) Extend(ctx context.Context, ownerID, id string, hours int) (store.Cluster, error) {
	if hours < 1 || hours > pricing.MaxHours {
		return store.Cluster{}, problem.Invalid("bad_hours", "hours must be 1..%d", pricing.MaxHours)
	}
	c, err := m.Own(ctx, ownerID, id)
	if err != nil {
		return c, err
	}
	if c.State != store.ClusterRunning && c.State != store.ClusterDegraded {
		return c, problem.New(problem.ErrConflict, "not_running", "only a running cluster can be extended; this one is %s", c.State)
	}
	now := m.Now()
	err = m.Store.Write(ctx, func(tx *sql.Tx) error {
		if err := m.checkDeposit(ctx, tx, ownerID, c.PricePerHour); err != nil {
			return err
		}
		if err := store.ExtendCluster(ctx, tx, id, hours, now); err != nil {
			return err
		}
		return store.AddClusterEvent(ctx, tx, id, "extended", fmt.Sprintf("extended by %d h", hours), now)
	})
	if err != nil {
		return c, err
	}
	return store.ClusterByID(ctx, m.Store.Reader(), id)
}
