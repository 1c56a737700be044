// Package sim is a simulated cluster runtime for demo fleets and flow
// tests: nodes "start" after a delay and a head counts the nodes of its
// cluster that run on the same Network (one process). It runs nothing and
// serves no dashboard; devices using it are simulated and say so.
package sim

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/idlegrid/idlegrid/shared/proto"
)

// Network is the simulated LAN the nodes of a process share.
type Network struct {
	mu    sync.Mutex
	nodes map[string]map[string]*Runtime // cluster → node name → its runtime
}

// NewNetwork returns an empty network.
func NewNetwork() *Network { return &Network{nodes: map[string]map[string]*Runtime{}} }

// Runtime is one device's simulated runtime.
type Runtime struct {
	net      *Network
	startFor time.Duration

	mu      sync.Mutex
	states  map[string]*node
	changed chan struct{}
}

type node struct {
	spec  proto.RuntimeStart
	state proto.RuntimeState
	timer *time.Timer
}

// Runtime returns a device's runtime whose nodes take startFor to start.
func (n *Network) Runtime(startFor time.Duration) *Runtime {
	return &Runtime{net: n, startFor: startFor, states: map[string]*node{}, changed: make(chan struct{}, 1)}
}

func (r *Runtime) signal() {
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

// Detect reports the simulated runtime.
func (r *Runtime) Detect(context.Context) (proto.RuntimeInfo, error) {
	return proto.RuntimeInfo{Name: proto.RuntimeRay, Version: "simulated"}, nil
}

// Start begins a simulated node; repeating a start is a no-op.
func (r *Runtime) Start(_ context.Context, s proto.RuntimeStart) error {
	if s.Role == proto.RoleWorker && s.HeadAddress == "" {
		return errors.New("a worker needs the head's address")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if n, ok := r.states[s.ClusterID]; ok && (n.state.State == proto.RuntimeStarting || n.state.State == proto.RuntimeRunning) {
		return nil
	}
	n := &node{spec: s, state: proto.RuntimeState{ClusterID: s.ClusterID, Role: s.Role, State: proto.RuntimeStarting}}
	r.states[s.ClusterID] = n
	n.timer = time.AfterFunc(r.startFor, func() {
		r.mu.Lock()
		if r.states[s.ClusterID] != n {
			r.mu.Unlock()
			return
		}
		n.state.State = proto.RuntimeRunning
		if s.Role == proto.RoleHead {
			n.state.Address = "sim:" + s.ClusterID
		}
		r.mu.Unlock()
		r.net.join(s.ClusterID, s.NodeName, r)
	})
	r.signal()
	return nil
}

// Stop ends a node.
func (r *Runtime) Stop(_ context.Context, clusterID, _ string) error {
	r.mu.Lock()
	n, ok := r.states[clusterID]
	if ok {
		n.timer.Stop()
		n.state.State, n.state.Nodes = proto.RuntimeStopped, nil
	}
	r.mu.Unlock()
	if ok {
		r.net.leave(clusterID, n.spec.NodeName)
		r.signal()
	}
	return nil
}

// Kill makes a running node fail, as a crashed Ray would.
func (r *Runtime) Kill(clusterID, why string) {
	r.mu.Lock()
	n, ok := r.states[clusterID]
	if ok {
		n.state.State, n.state.Error, n.state.Nodes = proto.RuntimeFailed, why, nil
	}
	r.mu.Unlock()
	if ok {
		r.net.leave(clusterID, n.spec.NodeName)
		r.signal()
	}
}

// States lists every node this runtime knows; a head lists the running
// nodes of its cluster.
func (r *Runtime) States() []proto.RuntimeState {
	r.mu.Lock()
	var out []proto.RuntimeState
	var heads []int
	for _, n := range r.states {
		if n.state.Role == proto.RoleHead && n.state.State == proto.RuntimeRunning {
			heads = append(heads, len(out))
		}
		out = append(out, n.state)
	}
	r.mu.Unlock()
	for _, i := range heads {
		out[i].Nodes = r.net.members(out[i].ClusterID)
	}
	return out
}

// Forget drops a node's entry.
func (r *Runtime) Forget(clusterID string) {
	r.mu.Lock()
	delete(r.states, clusterID)
	r.mu.Unlock()
}

// Changed signals state changes.
func (r *Runtime) Changed() <-chan struct{} { return r.changed }

// Ports is empty: a simulated head serves no dashboard.
func (r *Runtime) Ports(string) map[string]string { return nil }

// Close stops every node.
func (r *Runtime) Close(ctx context.Context) error {
	r.mu.Lock()
	ids := make([]string, 0, len(r.states))
	for id := range r.states {
		ids = append(ids, id)
	}
	r.mu.Unlock()
	for _, id := range ids {
		_ = r.Stop(ctx, id, "agent stopping")
	}
	return nil
}

func (n *Network) join(cluster, name string, r *Runtime) {
	n.mu.Lock()
	if n.nodes[cluster] == nil {
		n.nodes[cluster] = map[string]*Runtime{}
	}
	n.nodes[cluster][name] = r
	heads := n.runtimes(cluster)
	n.mu.Unlock()
	for _, h := range heads {
		h.signal() // heads report the new member
	}
}

func (n *Network) leave(cluster, name string) {
	n.mu.Lock()
	delete(n.nodes[cluster], name)
	heads := n.runtimes(cluster)
	n.mu.Unlock()
	for _, h := range heads {
		h.signal()
	}
}

func (n *Network) runtimes(cluster string) []*Runtime {
	var out []*Runtime
	for _, r := range n.nodes[cluster] {
		out = append(out, r)
	}
	return out
}

func (n *Network) members(cluster string) []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	for name := range n.nodes[cluster] {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}
