package runtime

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/idlegrid/idlegrid/shared/proto"
)

// RayConfig configures Ray. Zero values take the defaults of NewRay.
type RayConfig struct {
	// Binary is the ray command: "ray" from PATH by default.
	Binary string
	// NodeIP is the address Ray advertises to the other nodes; 127.0.0.1
	// by default, which Ray itself replaces with the host's outbound IP.
	NodeIP string
	// DataDir holds the nodes' temp dirs unless its path is too long for
	// the unix sockets Ray makes in them; then a short dir under the system
	// temp dir does.
	DataDir string
	Log     *slog.Logger
	// NumCPUs and ObjectStoreMiB apply when a start leaves them 0; 0 here
	// lets Ray decide (all CPUs, 30 % of RAM).
	NumCPUs        int
	ObjectStoreMiB int
	// PollInterval is how often a starting node is checked (500 ms).
	PollInterval time.Duration
	// NodesInterval is how often a running head lists its nodes (2 s).
	NodesInterval time.Duration
	// ReadyTimeout bounds starting: a node not running by then fails (3 min).
	ReadyTimeout time.Duration
	// UnhealthyAfter is how long a running node may fail its checks before
	// it is given up (30 s).
	UnhealthyAfter time.Duration
	// StopGrace is how long Stop waits after SIGTERM before SIGKILL (10 s).
	StopGrace time.Duration
}

// Sockets in a node's temp dir look like
// <dir>/session_2026-11-22_05-00-51_156664_4194304/sockets/dash_MetricsHead,
// 68 bytes after <dir>, and a unix socket path holds at most 107.
const (
	maxTempDir = 36
	nodeDirLen = 8 // hex characters
)

// Ray is the Ray runtime.
type Ray struct {
	cfg     RayConfig
	log     *slog.Logger
	base    string // parent of the nodes' temp dirs
	ownBase bool   // base is ours alone: Close removes it when empty
	http    *http.Client
	changes chan struct{}

	mu       sync.Mutex
	nodes    map[string]*rayNode // by cluster id
	reserved map[int]bool        // ports picked for nodes not yet gone
	closed   bool
}

var _ Runtime = (*Ray)(nil)

// NewRay returns the Ray runtime. Nothing runs until Start.
func NewRay(cfg RayConfig) *Ray {
	if cfg.Binary == "" {
		cfg.Binary = "ray"
	}
	if cfg.NodeIP == "" {
		cfg.NodeIP = "127.0.0.1"
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 500 * time.Millisecond
	}
	if cfg.NodesInterval <= 0 {
		cfg.NodesInterval = 2 * time.Second
	}
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = 3 * time.Minute
	}
	if cfg.UnhealthyAfter <= 0 {
		cfg.UnhealthyAfter = 30 * time.Second
	}
	if cfg.StopGrace <= 0 {
		cfg.StopGrace = 10 * time.Second
	}
	r := &Ray{
		cfg:      cfg,
		log:      cfg.Log,
		http:     &http.Client{Timeout: 5 * time.Second},
		changes:  make(chan struct{}, 1),
		nodes:    make(map[string]*rayNode),
		reserved: make(map[int]bool),
	}
	r.base, r.ownBase = nodesBase(cfg.DataDir)
	return r
}

// nodesBase chooses the parent of the nodes' temp dirs.
func nodesBase(dataDir string) (dir string, own bool) {
	if dataDir != "" {
		if abs, err := filepath.Abs(filepath.Join(dataDir, "ray")); err == nil && len(abs)+1+nodeDirLen <= maxTempDir {
			return abs, false
		}
	}
	tmp := os.TempDir()
	if len(tmp)+len("/igr-")+nodeDirLen+1+nodeDirLen > maxTempDir && goruntime.GOOS != "windows" {
		tmp = "/tmp" // macOS's per-user temp dir alone is about 50 bytes
	}
	return filepath.Join(tmp, "igr-"+randomHex(nodeDirLen/2)), true
}

// Name is proto.RuntimeRay.
func (r *Ray) Name() string { return proto.RuntimeRay }

// Changed receives (buffered, never blocking the sender) on every change of
// any state.
func (r *Ray) Changed() <-chan struct{} { return r.changes }

func (r *Ray) notify() {
	select {
	case r.changes <- struct{}{}:
	default:
	}
}

// Start launches the node and returns; the node reports running once Ray
// serves. A cluster already starting or running here is left alone, or is
// an error when the start asks for another role or node name.
func (r *Ray) Start(ctx context.Context, s proto.RuntimeStart) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkStart(s); err != nil {
		return fmt.Errorf("checking ray start of %q: %w", s.ClusterID, err)
	}
	if s.NumCPUs == 0 {
		s.NumCPUs = r.cfg.NumCPUs
	}
	if s.ObjectStoreMiB == 0 {
		s.ObjectStoreMiB = r.cfg.ObjectStoreMiB
	}

	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return ErrClosed
	}
	var old *rayNode
	if n, ok := r.nodes[s.ClusterID]; ok {
		switch {
		case n.stopping && !n.isDone():
			r.mu.Unlock()
			return fmt.Errorf("cluster %s is stopping here; start it again once it has stopped", s.ClusterID)
		case !n.isDone():
			r.mu.Unlock()
			if n.spec.Role != s.Role || n.spec.NodeName != s.NodeName {
				return fmt.Errorf("cluster %s already runs here as %s %q", s.ClusterID, n.spec.Role, n.spec.NodeName)
			}
			return nil
		}
		old = n
	}
	ports, err := r.pickPorts(s.Role)
	if err != nil {
		r.mu.Unlock()
		return fmt.Errorf("picking ports for cluster %s: %w", s.ClusterID, err)
	}
	n := newRayNode(s, filepath.Join(r.base, randomHex(nodeDirLen/2)), r.cfg.NodeIP, ports)
	r.nodes[s.ClusterID] = n
	r.mu.Unlock()

	if old != nil {
		r.removeDir(old.dir)
	}
	r.notify()
	err = r.launch(n)
	if err != nil {
		return fmt.Errorf("starting ray for cluster %s: %w", s.ClusterID, err)
	}
	r.log.Info("ray node started", keyCluster, s.ClusterID, keyRole, s.Role, keyPID, n.pid, keyDir, n.dir)
	return nil
}

// checkStart rejects specs Ray cannot run.
func checkStart(s proto.RuntimeStart) error {
	var errs []error
	if s.ClusterID == "" || len(s.ClusterID) > 128 {
		errs = append(errs, errors.New("cluster_id must be 1 to 128 characters"))
	}
	if s.Runtime != proto.RuntimeRay {
		errs = append(errs, fmt.Errorf("runtime %q is not %q", s.Runtime, proto.RuntimeRay))
	}
	switch s.Role {
	case proto.RoleHead:
	case proto.RoleWorker:
		if s.HeadAddress == "" {
			errs = append(errs, errors.New("a worker needs head_address"))
		} else if err := checkHostPort(s.HeadAddress); err != nil {
			errs = append(errs, fmt.Errorf("head_address: %w", err))
		}
	default:
		errs = append(errs, fmt.Errorf("unknown role %q (want %q or %q)", s.Role, proto.RoleHead, proto.RoleWorker))
	}
	if !validNodeName(s.NodeName) {
		errs = append(errs, fmt.Errorf("node_name %q must be 1 to 64 letters, digits, '.', '-' or '_'", s.NodeName))
	}
	if s.GPUs < 0 || s.NumCPUs < 0 || s.ObjectStoreMiB < 0 {
		errs = append(errs, errors.New("gpus, num_cpus and object_store_mib may not be negative"))
	}
	if s.ObjectStoreMiB > 0 && s.ObjectStoreMiB < minObjectStoreMiB {
		errs = append(errs, fmt.Errorf("object_store_mib %d is under Ray's minimum of %d", s.ObjectStoreMiB, minObjectStoreMiB))
	}
	return errors.Join(errs...)
}

// minObjectStoreMiB is Ray's OBJECT_STORE_MINIMUM_MEMORY_BYTES.
const minObjectStoreMiB = 75

func checkHostPort(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if host == "" {
		return fmt.Errorf("%q has no host", addr)
	}
	if _, err := net.LookupPort("tcp", port); err != nil || port == "0" {
		return fmt.Errorf("%q has no valid port", addr)
	}
	return nil
}

// Stop stops the cluster's node: SIGTERM to `ray start`, which shuts its
// processes down in order, SIGKILL to the group after StopGrace, then every
// process the node left behind. It returns once all are gone.
func (r *Ray) Stop(ctx context.Context, clusterID, reason string) error {
	r.mu.Lock()
	n, ok := r.nodes[clusterID]
	if !ok || n.isDone() {
		r.mu.Unlock()
		return nil
	}
	first := !n.stopping
	n.stopping = true
	r.mu.Unlock()
	if first {
		r.log.Info("stopping ray node", keyCluster, clusterID, keyReason, reason)
	}

	select {
	case <-n.launched:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-n.exited:
	default:
		if err := terminate(n.pid); err != nil {
			r.log.Debug("sending SIGTERM to ray", keyCluster, clusterID, keyErr, err)
		}
	}
	grace := time.NewTimer(r.cfg.StopGrace)
	defer grace.Stop()
	select {
	case <-n.exited:
	case <-grace.C:
		r.log.Warn("ray did not stop in time; killing it", keyCluster, clusterID, keyPID, n.pid)
		killGroup(n.pid)
	case <-ctx.Done():
		killGroup(n.pid)
		return ctx.Err()
	}
	select {
	case <-n.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return n.leftover
}

// States lists every cluster, sorted by id.
func (r *Ray) States() []proto.RuntimeState {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]proto.RuntimeState, 0, len(r.nodes))
	for _, n := range r.nodes {
		s := n.state
		s.Nodes = slices.Clone(s.Nodes)
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b proto.RuntimeState) int { return strings.Compare(a.ClusterID, b.ClusterID) })
	return out
}

// Forget drops a stopped or failed cluster and its logs.
func (r *Ray) Forget(clusterID string) {
	r.mu.Lock()
	n, ok := r.nodes[clusterID]
	if !ok || !n.isDone() {
		r.mu.Unlock()
		return
	}
	delete(r.nodes, clusterID)
	r.mu.Unlock()
	r.removeDir(n.dir)
	r.notify()
}

// Ports gives the head's ports to dial locally, once it runs.
func (r *Ray) Ports(clusterID string) map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	n, ok := r.nodes[clusterID]
	if !ok || n.spec.Role != proto.RoleHead || n.state.State != proto.RuntimeRunning {
		return nil
	}
	return maps.Clone(n.headPorts())
}

// Close stops every cluster; Start fails afterwards.
func (r *Ray) Close(ctx context.Context) error {
	r.mu.Lock()
	r.closed = true
	ids := slices.Collect(maps.Keys(r.nodes))
	r.mu.Unlock()

	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() { errs[i] = r.Stop(ctx, id, "agent shutting down") })
	}
	wg.Wait()
	if r.ownBase {
		_ = os.Remove(r.base) // only if empty: failed nodes keep their logs until Forget
	}
	return errors.Join(errs...)
}

func (r *Ray) removeDir(dir string) {
	if err := os.RemoveAll(dir); err != nil {
		r.log.Warn("removing ray node dir", keyDir, dir, keyErr, err)
	}
	if r.ownBase {
		_ = os.Remove(r.base)
	}
}

// pickPorts reserves the ports a node binds itself; r.mu is held.
func (r *Ray) pickPorts(role string) (rayPorts, error) {
	n := 1 // dashboard agent
	if role == proto.RoleHead {
		n = 6
	}
	got, err := freePorts(n, r.reserved)
	if err != nil {
		return rayPorts{}, err
	}
	for _, p := range got {
		r.reserved[p] = true
	}
	p := rayPorts{agent: got[0]}
	if role == proto.RoleHead {
		p.gcs, p.dashboard, p.client, p.dashboardMetrics, p.autoscalerMetrics = got[1], got[2], got[3], got[4], got[5]
	}
	return p, nil
}

func (r *Ray) releasePorts(p rayPorts) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, port := range p.all() {
		delete(r.reserved, port)
	}
}

func randomHex(nBytes int) string {
	b := make([]byte, nBytes)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}
