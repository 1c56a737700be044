package agent

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/idlegrid/idlegrid/shared/proto"
)

// Runtime is what the agent needs of a cluster runtime; shared/runtime
// provides Ray and a simulation for demo fleets.
type Runtime interface {
	Detect(ctx context.Context) (proto.RuntimeInfo, error)
	Start(ctx context.Context, s proto.RuntimeStart) error
	Stop(ctx context.Context, clusterID, reason string) error
	States() []proto.RuntimeState
	Forget(clusterID string)
	Changed() <-chan struct{}
	Ports(clusterID string) map[string]string
	Close(ctx context.Context) error
}

// TunnelFunc keeps a head node's reverse tunnel open until ctx ends:
// endpoint is the control plane's tunnel websocket, token the cluster's
// tunnel token, resolve maps a port name to a local address.
type TunnelFunc func(ctx context.Context, endpoint, token string, resolve func(name string) (string, bool)) error

// clusterWork runs the cluster parts this device was given. Runtimes outlive
// links: a dropped websocket does not stop a running Ray node.
type clusterWork struct {
	rt       Runtime
	tunnel   TunnelFunc
	endpoint string // tunnel websocket URL

	mu      sync.Mutex
	ctx     context.Context // the agent's Serve context
	failed  map[string]proto.RuntimeState
	tunnels map[string]context.CancelFunc
	changed chan struct{}
}

func newWork(rt Runtime, tunnel TunnelFunc) *clusterWork {
	return &clusterWork{rt: rt, tunnel: tunnel, failed: map[string]proto.RuntimeState{}, tunnels: map[string]context.CancelFunc{}, changed: make(chan struct{}, 1)}
}

// detectRuntimes says which runtimes this device offers, logging why not.
func (a *Agent) detectRuntimes(ctx context.Context) []proto.RuntimeInfo {
	if a.clusters == nil {
		return nil
	}
	info, err := a.clusters.rt.Detect(ctx)
	if err != nil {
		a.cfg.Log.Warn("this device will not be offered for clusters", "reason", err)
		return nil
	}
	a.cfg.Log.Info("cluster runtime available", "runtime", info.Name, "version", info.Version)
	return []proto.RuntimeInfo{info}
}

func (w *clusterWork) signal() {
	select {
	case w.changed <- struct{}{}:
	default:
	}
}

// snapshot is every runtime's state, with starts that failed before the
// runtime took them.
func (w *clusterWork) snapshot() proto.RuntimeStatus {
	out := proto.RuntimeStatus{Runtimes: w.rt.States()}
	w.mu.Lock()
	for id, st := range w.failed {
		if !slices.ContainsFunc(out.Runtimes, func(s proto.RuntimeState) bool { return s.ClusterID == id }) {
			out.Runtimes = append(out.Runtimes, st)
		}
	}
	w.mu.Unlock()
	if out.Runtimes == nil {
		out.Runtimes = []proto.RuntimeState{}
	}
	slices.SortFunc(out.Runtimes, func(a, b proto.RuntimeState) int { return strings.Compare(a.ClusterID, b.ClusterID) })
	return out
}

func (w *clusterWork) start(m *proto.RuntimeStart, log func(msg string, args ...any)) {
	w.mu.Lock()
	ctx := w.ctx
	w.mu.Unlock()
	if err := w.rt.Start(ctx, *m); err != nil {
		log("starting cluster work failed", "cluster", m.ClusterID, "err", err)
		w.mu.Lock()
		w.failed[m.ClusterID] = proto.RuntimeState{ClusterID: m.ClusterID, Role: m.Role, State: proto.RuntimeFailed, Error: err.Error()}
		w.mu.Unlock()
		w.signal()
		return
	}
	if m.Role != proto.RoleHead || m.TunnelToken == "" || w.tunnel == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.tunnels[m.ClusterID]; ok {
		return
	}
	tctx, cancel := context.WithCancel(ctx)
	w.tunnels[m.ClusterID] = cancel
	id := m.ClusterID
	go func() {
		err := w.tunnel(tctx, w.endpoint, m.TunnelToken, func(name string) (string, bool) {
			addr, ok := w.rt.Ports(id)[name]
			return addr, ok
		})
		if err != nil && tctx.Err() == nil {
			log("cluster tunnel ended", "cluster", id, "err", err)
		}
	}()
}

func (w *clusterWork) stop(m *proto.RuntimeStop, log func(msg string, args ...any)) {
	w.mu.Lock()
	if cancel := w.tunnels[m.ClusterID]; cancel != nil {
		cancel()
		delete(w.tunnels, m.ClusterID)
	}
	delete(w.failed, m.ClusterID)
	ctx := w.ctx
	w.mu.Unlock()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if err := w.rt.Stop(sctx, m.ClusterID, m.Reason); err != nil {
		log("stopping cluster work", "cluster", m.ClusterID, "err", err)
	}
	w.rt.Forget(m.ClusterID)
	w.signal()
}

// run binds the work to the agent's life and stops everything when ctx
// ends.
func (w *clusterWork) run(ctx context.Context, log func(msg string, args ...any)) {
	w.mu.Lock()
	w.ctx = ctx
	w.mu.Unlock()
	go func() {
		for {
			select {
			case <-ctx.Done():
				cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
				if err := w.rt.Close(cctx); err != nil {
					log("stopping cluster work at exit", "err", err)
				}
				cancel()
				return
			case <-w.rt.Changed():
				w.signal()
			}
		}
	}()
}

// tunnelURL is the control plane's websocket for head tunnels.
func tunnelURL(connectURL string) string {
	return strings.TrimSuffix(connectURL, "/connect") + "/tunnel"
}

// Runtimes lists the cluster work on this device, for local status pages;
// none without a runtime.
func (a *Agent) Runtimes() []proto.RuntimeState {
	if a.clusters == nil {
		return nil
	}
	return a.clusters.snapshot().Runtimes
}
