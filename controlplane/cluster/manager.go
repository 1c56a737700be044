package cluster

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/idlegrid/idlegrid/controlplane/hub"
	"github.com/idlegrid/idlegrid/controlplane/ledger"
	"github.com/idlegrid/idlegrid/controlplane/problem"
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

// TunnelToken is the head's credential for its cluster's tunnel: only the
// control plane can mint it, and it names both the cluster and the head.
func (m *Manager) TunnelToken(clusterID, headDeviceID string) string {
	mac := hmac.New(sha256.New, m.TokenKey)
	fmt.Fprintf(mac, "idlegrid/tunnel/v1\n%s\n%s", clusterID, headDeviceID)
	return clusterID + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// DashboardToken is the capability in the owner's link to the head's Ray
// dashboard (/ray/TOKEN/): the proxied pages run sandboxed, without the
// owner's cookies, so the link itself must carry the right to use it.
func (m *Manager) DashboardToken(clusterID, ownerID string) string {
	mac := hmac.New(sha256.New, m.TokenKey)
	fmt.Fprintf(mac, "idlegrid/dashboard/v1\n%s\n%s", clusterID, ownerID)
	return clusterID + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// CheckDashboardToken returns the cluster a dashboard token opens, while
// the cluster runs.
func (m *Manager) CheckDashboardToken(ctx context.Context, token string) (string, error) {
	id, _, _ := strings.Cut(token, ".")
	bad := problem.New(problem.ErrNotFound, "bad_dashboard_link", "this dashboard link is not valid (any more): open it again from the cluster's page")
	if len(id) > 64 {
		return "", bad
	}
	c, err := store.ClusterByID(ctx, m.Store.Reader(), id)
	if err != nil || c.Ended() || c.State == store.ClusterTerminating || !hmac.Equal([]byte(m.DashboardToken(id, c.OwnerID)), []byte(token)) {
		return "", bad
	}
	return id, nil
}

// CheckTunnelToken returns the cluster and head device a token is for,
// if the cluster still runs with that head.
func (m *Manager) CheckTunnelToken(ctx context.Context, token string) (clusterID, deviceID string, err error) {
	id, _, ok := strings.Cut(token, ".")
	bad := problem.New(problem.ErrUnauthorized, "bad_tunnel_token", "this tunnel token is not valid (any more)")
	if !ok || len(id) > 64 {
		return "", "", bad
	}
	c, err := store.ClusterByID(ctx, m.Store.Reader(), id)
	if err != nil || c.Ended() || c.State == store.ClusterTerminating {
		return "", "", bad
	}
	nodes, err := store.ClusterNodes(ctx, m.Store.Reader(), id)
	if err != nil {
		return "", "", err
	}
	for _, n := range nodes {
		if n.Role == proto.RoleHead && n.ReleasedAt.IsZero() && hmac.Equal([]byte(m.TunnelToken(id, n.DeviceID)), []byte(token)) {
			return id, n.DeviceID, nil
		}
	}
	return "", "", bad
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
