package cluster

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/idlegrid/idlegrid/controlplane/hub"
	"github.com/idlegrid/idlegrid/controlplane/ledger"
	"github.com/idlegrid/idlegrid/controlplane/sched"
	"github.com/idlegrid/idlegrid/controlplane/store"
	"github.com/idlegrid/idlegrid/shared/proto"
)

// Config tunes the manager. Zero fields take Defaults.
type Config struct {
	// ProvisionTimeout: a cluster not ready this long after its deploy
	// fails, naming the nodes that did not join.
	ProvisionTimeout time.Duration
	// LostAfter: a node silent this long is lost (the hub's offline time).
	LostAfter time.Duration
	// RestartGrace: after the control plane starts, nodes get this long to
	// reconnect before silence counts against them. Agents back off up to
	// a minute between tries, and their Ray nodes go on running meanwhile:
	// a restart must not fail the clusters it finds.
	RestartGrace time.Duration
	// MissingAfter: a joined node the head has not counted alive for this
	// long is lost (Ray itself declares a node dead after about 15 s).
	MissingAfter time.Duration
	// DrainGrace: a supplier reclaiming a node (gaming, heat) gets it back
	// this long after the requester was told.
	DrainGrace time.Duration
	// StopTimeout: a node told to stop is released after this even if it
	// never confirms.
	StopTimeout time.Duration
	// CreditGrace: a cluster whose owner is out of credit this long is
	// terminated.
	CreditGrace time.Duration
	// DepositHours of a cluster's price must be covered by credit to deploy.
	DepositHours int
	// Tick is how often every cluster is looked at; ResendEvery how often
	// an unanswered start or stop is repeated.
	Tick, ResendEvery time.Duration
	// NumCPUs and ObjectStoreMiB bound what each Ray node offers; 0 lets
	// the agent decide.
	NumCPUs, ObjectStoreMiB int
}

// Defaults returns the production settings.
func Defaults() Config {
	return Config{
		ProvisionTimeout: 5 * time.Minute,
		LostAfter:        30 * time.Second,
		RestartGrace:     90 * time.Second,
		MissingAfter:     30 * time.Second,
		DrainGrace:       30 * time.Second,
		StopTimeout:      time.Minute,
		CreditGrace:      10 * time.Minute,
		DepositHours:     1,
		Tick:             time.Second,
		ResendEvery:      10 * time.Second,
	}
}

func (c Config) withDefaults() Config {
	d := Defaults()
	for _, f := range []struct{ v, d *time.Duration }{
		{&c.ProvisionTimeout, &d.ProvisionTimeout}, {&c.LostAfter, &d.LostAfter}, {&c.RestartGrace, &d.RestartGrace}, {&c.MissingAfter, &d.MissingAfter}, {&c.DrainGrace, &d.DrainGrace},
		{&c.StopTimeout, &d.StopTimeout}, {&c.CreditGrace, &d.CreditGrace}, {&c.Tick, &d.Tick}, {&c.ResendEvery, &d.ResendEvery},
	} {
		if *f.v <= 0 {
			*f.v = *f.d
		}
	}
	if c.DepositHours <= 0 {
		c.DepositHours = d.DepositHours
	}
	return c
}

// Tunnels is the part of the tunnel registry the manager uses.
type Tunnels interface {
	Close(clusterID string)
}

// Manager deploys and runs clusters. Set the fields, then run Serve.
type Manager struct {
	Store   *store.Store
	Hub     *hub.Hub
	Quoter  *sched.Quoter
	Meter   *ledger.Meter
	Signer  *ledger.Signer
	Tunnels Tunnels
	Log     *slog.Logger
	Now     func() time.Time
	Config  Config
	// TokenKey signs head tunnel tokens (HMAC-SHA256).
	TokenKey []byte

	started time.Time
	kick    chan struct{}

	mu      sync.Mutex
	reports map[string]report    // device → its last runtime status
	sent    map[string]time.Time // command key → when last sent
	missing map[int64]time.Time  // node → since when its head does not count it
}

type report struct {
	at     time.Time
	states map[string]proto.RuntimeState // by cluster
}

// New returns a Manager; fields may be changed before Serve.
func New(st *store.Store, h *hub.Hub, q *sched.Quoter, meter *ledger.Meter, signer *ledger.Signer, tokenKey []byte, cfg Config, log *slog.Logger) *Manager {
	return &Manager{Store: st, Hub: h, Quoter: q, Meter: meter, Signer: signer, TokenKey: tokenKey, Config: cfg.withDefaults(), Log: log, Now: time.Now,
		kick: make(chan struct{}, 1), reports: map[string]report{}, sent: map[string]time.Time{}, missing: map[int64]time.Time{}}
}

// Kick asks the loop to look at every cluster now.
func (m *Manager) Kick() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// Serve runs the loop until ctx ends.
func (m *Manager) Serve(ctx context.Context) error {
	m.started = m.Now()
	t := time.NewTicker(m.Config.Tick)
	defer t.Stop()
	for {
		if err := m.Reconcile(ctx); err != nil && ctx.Err() == nil {
			m.Log.Error("managing clusters", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-m.kick:
		}
	}
}

// OnStatus takes an agent's runtime snapshot (a hub handler). A runtime
// for a cluster the device is no longer part of is told to stop.
func (m *Manager) OnStatus(ctx context.Context, deviceID string, msg any) error {
	st := msg.(*proto.RuntimeStatus)
	r := report{at: m.Now(), states: map[string]proto.RuntimeState{}}
	for _, s := range st.Runtimes {
		r.states[s.ClusterID] = s
	}
	m.mu.Lock()
	old := m.reports[deviceID]
	m.reports[deviceID] = r
	m.mu.Unlock()
	for id, s := range r.states {
		if s.State != proto.RuntimeStarting && s.State != proto.RuntimeRunning {
			continue
		}
		n, err := store.NodeOfDevice(ctx, m.Store.Reader(), deviceID)
		if err == nil && n.ClusterID == id && n.State != store.NodeStopping {
			continue
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil // our failure, not the agent's: look again next time
		}
		m.sendOnce(deviceID, "stray:"+id, proto.TypeRuntimeStop, proto.RuntimeStop{ClusterID: id, Reason: "this device is no longer part of the cluster"})
	}
	if changed(old, r) {
		m.Kick()
	}
	return nil
}

func changed(a, b report) bool {
	if len(a.states) != len(b.states) {
		return true
	}
	for id, s := range b.states {
		o, ok := a.states[id]
		if !ok || o.State != s.State || o.Address != s.Address || !slices.Equal(o.Nodes, s.Nodes) {
			return true
		}
	}
	return false
}

func (m *Manager) reportOf(deviceID, clusterID string) (proto.RuntimeState, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.reports[deviceID].states[clusterID]
	return s, ok
}

// sendOnce sends a command unless the same one went out within
// ResendEvery.
func (m *Manager) sendOnce(deviceID, key, typ string, body any) {
	now := m.Now()
	k := deviceID + "|" + key
	m.mu.Lock()
	if last, ok := m.sent[k]; ok && now.Sub(last) < m.Config.ResendEvery {
		m.mu.Unlock()
		return
	}
	m.sent[k] = now
	m.mu.Unlock()
	if err := m.Hub.Send(deviceID, typ, body); err != nil && !errors.Is(err, hub.ErrNotConnected) {
		m.Log.Warn("sending to a node", "device", deviceID, "type", typ, "err", err)
	}
}

// Reconcile looks at every cluster once.
func (m *Manager) Reconcile(ctx context.Context) error {
	cs, err := store.ClustersToManage(ctx, m.Store.Reader())
	if err != nil {
		return err
	}
	var errs []error
	for _, c := range cs {
		if err := m.step(ctx, c); err != nil {
			errs = append(errs, fmt.Errorf("cluster %s: %w", c.ID, err))
		}
	}
	if err := m.stopUnpaid(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (m *Manager) health(ctx context.Context, deviceID string) health {
	now := m.Now()
	var h health
	if live, ok := m.Hub.Live(deviceID); ok {
		h.connected, h.lastSeen = true, live.LastSeen
		h.paused, h.why = live.State == proto.StatePaused, live.PauseReason
	} else if d, err := store.DeviceByID(ctx, m.Store.Reader(), deviceID); err == nil {
		h.lastSeen = d.LastSeenAt
	}
	// After a restart agents need a moment to come back: nobody is lost
	// before RestartGrace has passed since the loop started.
	if now.Sub(h.lastSeen) > m.Config.LostAfter && now.Sub(m.started) > max(m.Config.RestartGrace, m.Config.LostAfter) {
		h.lost, h.why = true, fmt.Sprintf("not heard from for %s", now.Sub(h.lastSeen).Round(time.Second))
		if h.lastSeen.IsZero() {
			h.why = "never heard from"
		}
	}
	return h
}

// step moves one cluster along.
func (m *Manager) step(ctx context.Context, c store.Cluster) error {
	nodes, err := store.ClusterNodes(ctx, m.Store.Reader(), c.ID)
	if err != nil {
		return err
	}
	active := slices.DeleteFunc(nodes, func(n store.ClusterNode) bool { return !n.ReleasedAt.IsZero() })
	now := m.Now()
	switch c.State {
	case store.ClusterTerminating, store.ClusterTerminated, store.ClusterFailed:
		return m.stopNodes(ctx, c, active)
	case store.ClusterPending:
		err := m.Store.Write(ctx, func(tx *sql.Tx) error {
			if err := store.SetClusterState(ctx, tx, c.ID, store.ClusterProvisioning, "", now, store.ClusterPending); err != nil {
				return err
			}
			return store.AddClusterEvent(ctx, tx, c.ID, "provisioning", "starting the Ray head, then the workers", now)
		})
		if err != nil {
			return err
		}
		c.State = store.ClusterProvisioning
	}
	if !c.ExpiresAt.IsZero() && !now.Before(c.ExpiresAt) {
		return m.end(ctx, c.ID, store.ClusterTerminating, "expired", fmt.Sprintf("its %d hour(s) are over", c.Hours))
	}
	var head *store.ClusterNode
	for i := range active {
		if active[i].Role == proto.RoleHead && active[i].State != store.NodeStopping {
			head = &active[i]
		}
	}
	if head == nil {
		return m.end(ctx, c.ID, store.ClusterFailed, "head_lost", "the head node is gone")
	}
	hh := m.health(ctx, head.DeviceID)
	hr, _ := m.reportOf(head.DeviceID, c.ID)
	switch {
	case hh.lost:
		return m.failHead(ctx, c, *head, hh.why, hh.lastSeen)
	case hr.State == proto.RuntimeFailed:
		return m.failHead(ctx, c, *head, "Ray failed on it: "+hr.Error, now)
	case head.State == store.NodeDraining && !now.Before(head.LeaveAt):
		return m.failHead(ctx, c, *head, "its supplier took it back ("+head.Reason+")", now)
	}
	if err := m.drain(ctx, c, head, hh); err != nil {
		return err
	}
	if hr.State != proto.RuntimeRunning {
		m.sendOnce(head.DeviceID, "start:"+c.ID, proto.TypeRuntimeStart, m.startMsg(c, *head, ""))
	}
	alive := map[string]bool{}
	if hr.State == proto.RuntimeRunning {
		for _, n := range hr.Nodes {
			alive[n] = true
		}
	}
	joinedGPUs, pendingGPUs := 0, 0
	var waiting []string
	for i := range active {
		n := &active[i]
		if n.State == store.NodeStopping {
			if err := m.stopNode(ctx, c, *n); err != nil {
				return err
			}
			continue
		}
		if n.Role == proto.RoleWorker {
			lost, err := m.checkWorker(ctx, c, n, hr, alive)
			if err != nil {
				return err
			}
			if lost {
				continue
			}
		}
		if n.State == store.NodeStarting && alive[n.DeviceID] {
			if err := m.joined(ctx, c, *n); err != nil {
				return err
			}
			n.State = store.NodeJoined
		}
		m.trackMissing(*n, hr, alive)
		if n.State == store.NodeStarting {
			pendingGPUs += n.GPUs
			waiting = append(waiting, n.DeviceID)
		} else {
			joinedGPUs += n.GPUs
		}
	}
	if joinedGPUs >= c.GPUs && len(waiting) == 0 {
		return m.full(ctx, c)
	}
	if c.State == store.ClusterProvisioning && now.Sub(c.CreatedAt) > m.Config.ProvisionTimeout {
		return m.end(ctx, c.ID, store.ClusterFailed, "provisioning_timeout",
			fmt.Sprintf("not ready within %s: waiting for %s; nothing was charged", m.Config.ProvisionTimeout, strings.Join(waiting, ", ")))
	}
	if joinedGPUs+pendingGPUs < c.GPUs {
		return m.replace(ctx, c, c.GPUs-joinedGPUs-pendingGPUs)
	}
	return nil
}

func (m *Manager) startMsg(c store.Cluster, n store.ClusterNode, headAddr string) proto.RuntimeStart {
	s := proto.RuntimeStart{ClusterID: c.ID, Runtime: proto.RuntimeRay, Role: n.Role, HeadAddress: headAddr, NodeName: n.DeviceID,
		GPUs: n.GPUs, GPUModel: n.GPUModel, NumCPUs: m.Config.NumCPUs, ObjectStoreMiB: m.Config.ObjectStoreMiB}
	if n.Role == proto.RoleHead {
		s.TunnelToken = m.TunnelToken(c.ID, n.DeviceID)
	}
	return s
}

// joined records that the head counts a node alive; in a ready cluster
// its billing starts now.
func (m *Manager) joined(ctx context.Context, c store.Cluster, n store.ClusterNode) error {
	now := m.Now()
	return m.Store.Write(ctx, func(tx *sql.Tx) error {
		if err := store.UpdateClusterNode(ctx, tx, n.ID, store.NodeUpdate{State: store.NodeJoined, JoinedAt: now}); err != nil {
			return err
		}
		if !c.ReadyAt.IsZero() {
			if err := store.SetAssignmentReady(ctx, tx, n.Assignment, now); err != nil {
				return err
			}
		}
		return store.AddClusterEvent(ctx, tx, c.ID, "node_joined", fmt.Sprintf("%s %s joined (%d× %s)", n.Role, n.DeviceID, n.GPUs, n.GPUModel), now)
	})
}

// full is reached when every GPU asked for is in: the first time the
// cluster becomes ready and billing starts; after a repair it is running
// again.
func (m *Manager) full(ctx context.Context, c store.Cluster) error {
	now := m.Now()
	switch c.State {
	case store.ClusterProvisioning:
		nodes, err := store.ClusterNodes(ctx, m.Store.Reader(), c.ID)
		if err != nil {
			return err
		}
		return m.Store.Write(ctx, func(tx *sql.Tx) error {
			if err := store.SetClusterState(ctx, tx, c.ID, store.ClusterRunning, "", now, store.ClusterProvisioning); err != nil {
				return err
			}
			if err := store.SetClusterReady(ctx, tx, c.ID, now, now.Add(time.Duration(c.Hours)*time.Hour)); err != nil {
				return err
			}
			for _, n := range nodes {
				if n.ReleasedAt.IsZero() && n.State != store.NodeStopping {
					if err := store.SetAssignmentReady(ctx, tx, n.Assignment, now); err != nil {
						return err
					}
				}
			}
			return store.AddClusterEvent(ctx, tx, c.ID, "ready", fmt.Sprintf("ready after %s: billing starts now", now.Sub(c.CreatedAt).Round(time.Second)), now)
		})
	case store.ClusterDegraded:
		return m.Store.Write(ctx, func(tx *sql.Tx) error {
			if err := store.SetClusterState(ctx, tx, c.ID, store.ClusterRunning, "", now, store.ClusterDegraded); err != nil {
				return err
			}
			return store.AddClusterEvent(ctx, tx, c.ID, "running", "back at full strength", now)
		})
	}
	return nil
}
