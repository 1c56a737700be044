package cluster

// Ending clusters: terminate, expiry, credit, a lost head; nodes are told
// to stop and released once they have.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/idlegrid/idlegrid/controlplane/store"
	"github.com/idlegrid/idlegrid/shared/proto"
)

// stopUnpaid terminates clusters whose owner ran out of credit more than
// CreditGrace ago.
func (m *Manager) stopUnpaid(ctx context.Context) error {
	ids, err := store.OutOfCredit(ctx, m.Store.Reader(), m.Now().Add(-m.Config.CreditGrace))
	if err != nil {
		return err
	}
	for _, id := range ids {
		err := m.end(ctx, id, store.ClusterTerminating, "out_of_credit", fmt.Sprintf("credit ran out more than %s ago: top up to deploy again", m.Config.CreditGrace))
		if err != nil && !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
	return nil
}

// health is what the control plane knows of a node's device.
type health struct {
	connected bool
	lastSeen  time.Time
	lost      bool
	paused    bool
	why       string // paused or lost, in words
}

// failHead ends a cluster whose head is gone: Ray keeps the cluster's
// state on its head, so the cluster cannot go on without it.
func (m *Manager) failHead(ctx context.Context, c store.Cluster, head store.ClusterNode, why string, at time.Time) error {
	msg := fmt.Sprintf("head node %s lost (%s): Ray keeps the cluster's state on its head, so the cluster stopped; charges stopped at %s",
		head.DeviceID, why, at.UTC().Format("15:04:05 UTC"))
	return m.endAt(ctx, c.ID, store.ClusterFailed, "head_lost", msg, at)
}

// end moves a cluster to terminating or failed, stops billing every node
// now, and starts stopping them.
func (m *Manager) end(ctx context.Context, clusterID, state, kind, why string) error {
	return m.endAt(ctx, clusterID, state, kind, why, m.Now())
}

func (m *Manager) endAt(ctx context.Context, clusterID, state, kind, why string, at time.Time) error {
	now := m.Now()
	if at.After(now) || at.IsZero() {
		at = now
	}
	err := m.Store.Write(ctx, func(tx *sql.Tx) error {
		if err := store.SetClusterState(ctx, tx, clusterID, state, why, now,
			store.ClusterPending, store.ClusterProvisioning, store.ClusterRunning, store.ClusterDegraded); err != nil {
			return err
		}
		if err := store.EndClusterAssignments(ctx, tx, clusterID, at); err != nil {
			return err
		}
		return store.AddClusterEvent(ctx, tx, clusterID, kind, why, now)
	})
	if err != nil {
		return err
	}
	m.Log.Info("cluster ending", "cluster", clusterID, "state", state, "why", why)
	if m.Tunnels != nil {
		m.Tunnels.Close(clusterID)
	}
	m.Kick()
	return nil
}

// stopNodes stops and releases every node of an ending cluster; the last
// release makes a terminating cluster terminated.
func (m *Manager) stopNodes(ctx context.Context, c store.Cluster, active []store.ClusterNode) error {
	for _, n := range active {
		if n.State != store.NodeStopping {
			err := m.Store.Write(ctx, func(tx *sql.Tx) error {
				return store.UpdateClusterNode(ctx, tx, n.ID, store.NodeUpdate{State: store.NodeStopping, LeaveAt: m.Now().Add(m.Config.StopTimeout)})
			})
			if err != nil {
				return err
			}
			n.State, n.LeaveAt = store.NodeStopping, m.Now().Add(m.Config.StopTimeout)
		}
		if err := m.stopNode(ctx, c, n); err != nil {
			return err
		}
	}
	if c.State != store.ClusterTerminating {
		return nil
	}
	nodes, err := store.ClusterNodes(ctx, m.Store.Reader(), c.ID)
	if err != nil {
		return err
	}
	for _, n := range nodes {
		if n.ReleasedAt.IsZero() {
			return nil
		}
	}
	now := m.Now()
	return m.Store.Write(ctx, func(tx *sql.Tx) error {
		if err := store.SetClusterState(ctx, tx, c.ID, store.ClusterTerminated, "", now, store.ClusterTerminating); err != nil {
			return err
		}
		return store.AddClusterEvent(ctx, tx, c.ID, "terminated", "every node stopped and was released", now)
	})
}

// stopNode asks a stopping node to stop, and releases it once it has (or
// is gone, or StopTimeout passed). Its assignment is settled and receipted.
func (m *Manager) stopNode(ctx context.Context, c store.Cluster, n store.ClusterNode) error {
	now := m.Now()
	r, reported := m.reportOf(n.DeviceID, c.ID)
	running := reported && (r.State == proto.RuntimeRunning || r.State == proto.RuntimeStarting)
	connected := m.Hub.Connected(n.DeviceID)
	if running && connected && now.Before(n.LeaveAt) {
		m.sendOnce(n.DeviceID, "stop:"+c.ID, proto.TypeRuntimeStop, proto.RuntimeStop{ClusterID: c.ID, Reason: "the cluster no longer needs this node"})
		return nil
	}
	a, err := store.AssignmentByID(ctx, m.Store.Reader(), n.Assignment)
	if err != nil {
		return err
	}
	end := a.EndedAt
	if end.IsZero() {
		end = now
	}
	if err := m.Meter.Finish(ctx, n.Assignment, end, m.Signer); err != nil {
		return fmt.Errorf("settling %s: %w", n.Assignment, err)
	}
	why := "stopped"
	if !connected {
		why = "released: the device is offline"
	} else if running {
		why = "released: it did not confirm stopping in time"
	}
	err = m.Store.Write(ctx, func(tx *sql.Tx) error {
		if err := store.UpdateClusterNode(ctx, tx, n.ID, store.NodeUpdate{State: store.NodeLeft, ReleasedAt: now}); err != nil {
			return err
		}
		return store.AddClusterEvent(ctx, tx, c.ID, "node_released", fmt.Sprintf("%s %s %s", n.Role, n.DeviceID, why), now)
	})
	if err == nil {
		m.mu.Lock()
		delete(m.missing, n.ID)
		m.mu.Unlock()
	}
	return err
}
