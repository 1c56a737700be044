package cluster

// Keeping a running cluster whole: workers lost, drained or missing from
// Ray are taken out and replaced.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/idlegrid/idlegrid/controlplane/problem"
	"github.com/idlegrid/idlegrid/controlplane/sched"
	"github.com/idlegrid/idlegrid/controlplane/store"
	"github.com/idlegrid/idlegrid/shared/proto"
)

// checkWorker handles a worker's loss, draining and start; lost reports
// that the node left.
func (m *Manager) checkWorker(ctx context.Context, c store.Cluster, n *store.ClusterNode, hr proto.RuntimeState, alive map[string]bool) (lost bool, err error) {
	now := m.Now()
	h := m.health(ctx, n.DeviceID)
	r, _ := m.reportOf(n.DeviceID, c.ID)
	m.mu.Lock()
	missingSince := m.missing[n.ID]
	m.mu.Unlock()
	var why string
	at := now
	switch {
	case h.lost:
		why, at = h.why, h.lastSeen
	case r.State == proto.RuntimeFailed:
		why = "Ray failed on it: " + r.Error
	case n.State == store.NodeDraining && !now.Before(n.LeaveAt):
		why = "its supplier took it back (" + n.Reason + ")"
	case n.State == store.NodeJoined && !missingSince.IsZero() && now.Sub(missingSince) > m.Config.MissingAfter:
		why = fmt.Sprintf("Ray has not counted it alive for %s", now.Sub(missingSince).Round(time.Second))
	}
	if why != "" {
		return true, m.loseNode(ctx, c, *n, why, at)
	}
	if err := m.drain(ctx, c, n, h); err != nil {
		return false, err
	}
	if hr.State == proto.RuntimeRunning && hr.Address != "" && r.State != proto.RuntimeRunning {
		m.sendOnce(n.DeviceID, "start:"+c.ID, proto.TypeRuntimeStart, m.startMsg(c, *n, hr.Address))
	}
	return false, nil
}

// trackMissing remembers since when a joined node is absent from its
// head's list of live nodes.
func (m *Manager) trackMissing(n store.ClusterNode, hr proto.RuntimeState, alive map[string]bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if n.State == store.NodeStarting || hr.State != proto.RuntimeRunning || alive[n.DeviceID] {
		delete(m.missing, n.ID)
		return
	}
	if _, ok := m.missing[n.ID]; !ok {
		m.missing[n.ID] = m.Now()
	}
}

// drain tells the requester a node's supplier is taking it back, or that
// it came back.
func (m *Manager) drain(ctx context.Context, c store.Cluster, n *store.ClusterNode, h health) error {
	now := m.Now()
	switch {
	case h.paused && n.State != store.NodeDraining:
		leave := now.Add(m.Config.DrainGrace)
		why := h.why
		if why == "" {
			why = "paused by its supplier"
		}
		return m.Store.Write(ctx, func(tx *sql.Tx) error {
			if err := store.UpdateClusterNode(ctx, tx, n.ID, store.NodeUpdate{State: store.NodeDraining, Reason: why, LeaveAt: leave}); err != nil {
				return err
			}
			return store.AddClusterEvent(ctx, tx, c.ID, "notice", fmt.Sprintf("node %s (%s) is being taken back by its supplier: %s; it leaves at %s and will be replaced",
				n.DeviceID, n.Role, why, leave.UTC().Format("15:04:05 UTC")), now)
		})
	case !h.paused && n.State == store.NodeDraining:
		state := store.NodeJoined
		if n.JoinedAt.IsZero() {
			state = store.NodeStarting
		}
		n.State = state
		return m.Store.Write(ctx, func(tx *sql.Tx) error {
			if err := store.UpdateClusterNode(ctx, tx, n.ID, store.NodeUpdate{State: state, ClearLeave: true}); err != nil {
				return err
			}
			return store.AddClusterEvent(ctx, tx, c.ID, "notice", fmt.Sprintf("node %s stays: its supplier resumed", n.DeviceID), now)
		})
	}
	return nil
}

// loseNode takes a worker out: billing stops at `at`, the device is told
// to stop, and the cluster is degraded until a replacement joins.
func (m *Manager) loseNode(ctx context.Context, c store.Cluster, n store.ClusterNode, why string, at time.Time) error {
	now := m.Now()
	if at.After(now) || at.IsZero() {
		at = now
	}
	err := m.Store.Write(ctx, func(tx *sql.Tx) error {
		if err := store.UpdateClusterNode(ctx, tx, n.ID, store.NodeUpdate{State: store.NodeStopping, Reason: why, LeaveAt: now.Add(m.Config.StopTimeout)}); err != nil {
			return err
		}
		if err := store.EndAssignment(ctx, tx, n.Assignment, at); err != nil {
			return err
		}
		if c.State == store.ClusterRunning {
			if err := store.SetClusterState(ctx, tx, c.ID, store.ClusterDegraded, "", now, store.ClusterRunning); err != nil {
				return err
			}
		}
		return store.AddClusterEvent(ctx, tx, c.ID, "node_lost", fmt.Sprintf("%s %s left: %s; not charged after %s; looking for a replacement",
			n.Role, n.DeviceID, why, at.UTC().Format("15:04:05 UTC")), now)
	})
	if err != nil {
		return err
	}
	m.Log.Info("cluster node lost", "cluster", c.ID, "device", n.DeviceID, "why", why)
	n.State = store.NodeStopping
	return m.stopNode(ctx, c, n)
}

// replace reserves devices for gpus missing GPUs, billed at no more than
// the cluster's price per GPU-hour; no supply is retried on the next tick.
func (m *Manager) replace(ctx context.Context, c store.Cluster, gpus int) error {
	m.mu.Lock()
	k := "replace|" + c.ID
	if last, ok := m.sent[k]; ok && m.Now().Sub(last) < m.Config.ResendEvery {
		m.mu.Unlock()
		return nil
	}
	m.sent[k] = m.Now()
	m.mu.Unlock()
	var req sched.Request
	if err := json.Unmarshal([]byte(c.Request), &req); err != nil {
		return err
	}
	nodes, err := store.ClusterNodes(ctx, m.Store.Reader(), c.ID)
	if err != nil {
		return err
	}
	exclude := map[string]bool{}
	var maxPrice int64
	for _, n := range nodes {
		exclude[n.DeviceID] = true // never bring a lost device straight back
		maxPrice = max(maxPrice, n.PricePerGPUHour)
	}
	req.GPUs = gpus
	picked, _, err := m.Quoter.Pick(ctx, req, exclude)
	if err != nil {
		var pe *problem.Error
		if errors.As(err, &pe) {
			return m.note(ctx, c.ID, "no_replacement", "no replacement available yet ("+pe.Message+"); trying again")
		}
		return err
	}
	for i := range picked {
		// The requester never pays more for a repair than at deploy.
		picked[i].PricePerGPUHour = min(picked[i].PricePerGPUHour, maxPrice)
	}
	now := m.Now()
	err = m.Store.Write(ctx, func(tx *sql.Tx) error {
		for _, p := range picked {
			if err := m.addNode(ctx, tx, c, p, proto.RoleWorker, now); err != nil {
				return err
			}
			if err := store.AddClusterEvent(ctx, tx, c.ID, "replacement", fmt.Sprintf("reserved %s (%d× %s) as a replacement", p.DeviceID, p.GPUs, p.GPUModel), now); err != nil {
				return err
			}
		}
		return nil
	})
	var taken *takenError
	if errors.As(err, &taken) {
		return nil // lost a race with a deploy: the next tick places again
	}
	return err
}

// note adds an event unless the last one says the same.
func (m *Manager) note(ctx context.Context, clusterID, kind, msg string) error {
	evs, err := store.ClusterEvents(ctx, m.Store.Reader(), clusterID)
	if err != nil {
		return err
	}
	if len(evs) > 0 && evs[len(evs)-1].Kind == kind {
		return nil
	}
	return m.Store.Write(ctx, func(tx *sql.Tx) error { return store.AddClusterEvent(ctx, tx, clusterID, kind, msg, m.Now()) })
}
