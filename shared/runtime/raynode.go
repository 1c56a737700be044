package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/idlegrid/idlegrid/shared/proto"
)

// markerEnv marks every process of a node, wherever Ray puts it: Ray
// passes its environment down to workers and job drivers.
const markerEnv = "IDLEGRID_RAY_NODE"

// logName is the file in a node's dir that takes `ray start`'s output.
const logName = "ray.log"

// rayPorts are the ports a node picks itself; 0 means none.
type rayPorts struct {
	agent                               int // dashboard agent HTTP, every node
	gcs, dashboard, client              int // head
	dashboardMetrics, autoscalerMetrics int // head; Ray fixes them at 44227 and 44217
}

func (p rayPorts) all() []int {
	var out []int
	for _, port := range []int{p.agent, p.gcs, p.dashboard, p.client, p.dashboardMetrics, p.autoscalerMetrics} {
		if port != 0 {
			out = append(out, port)
		}
	}
	return out
}

// rayNode is one `ray start --block` and everything it starts.
type rayNode struct {
	spec   proto.RuntimeStart
	dir    string // Ray's --temp-dir, ours alone
	nodeIP string
	marker string // markerEnv's value
	ports  rayPorts

	command  *exec.Cmd     // used by supervise only
	launched chan struct{} // closed once the launch succeeded or failed
	exited   chan struct{} // closed once `ray start` has exited
	done     chan struct{} // closed once the node is cleaned up and its final state set
	pid      int           // of `ray start`, leader of its process group; set before launched
	waitErr  error         // set before exited
	leftover error         // processes that survived; set before done

	// Guarded by Ray.mu.
	state      proto.RuntimeState
	stopping   bool
	failReason string // why the node was given up (not ready, not serving, not launched)
	rayIP      string // the IP Ray advertises, from the head's node list
}

func newRayNode(s proto.RuntimeStart, dir, nodeIP string, ports rayPorts) *rayNode {
	return &rayNode{
		spec:     s,
		dir:      dir,
		nodeIP:   nodeIP,
		marker:   randomHex(8),
		ports:    ports,
		launched: make(chan struct{}),
		exited:   make(chan struct{}),
		done:     make(chan struct{}),
		state:    proto.RuntimeState{ClusterID: s.ClusterID, Role: s.Role, State: proto.RuntimeStarting},
	}
}

// isDone says the node reached its final state; Ray.mu is held.
func (n *rayNode) isDone() bool {
	return n.state.State == proto.RuntimeStopped || n.state.State == proto.RuntimeFailed
}

// headPorts are a head's ports to dial locally; Ray.mu is held. The
// dashboard listens on the configured node IP; the others on the IP Ray
// advertises.
func (n *rayNode) headPorts() map[string]string {
	return map[string]string{
		PortDashboard: net.JoinHostPort(n.nodeIP, strconv.Itoa(n.ports.dashboard)),
		PortClient:    net.JoinHostPort(n.rayIP, strconv.Itoa(n.ports.client)),
		PortGCS:       net.JoinHostPort(n.rayIP, strconv.Itoa(n.ports.gcs)),
	}
}

// args are `ray start`'s arguments.
func (n *rayNode) args() []string {
	s := n.spec
	a := []string{"start", "--block",
		"--disable-usage-stats", "--log-style=record", "--log-color=false",
		"--node-ip-address=" + n.nodeIP,
		"--temp-dir=" + n.dir,
		"--num-gpus=" + strconv.Itoa(s.GPUs), // always: Ray would otherwise offer every GPU it finds
		"--resources=" + resourcesJSON(s),
		"--dashboard-agent-listen-port=" + strconv.Itoa(n.ports.agent),
		// 0: each process binds a port of the kernel's choosing and
		// reports it, so nodes on one host never collide.
		"--node-manager-port=0", "--object-manager-port=0",
		"--dashboard-agent-grpc-port=0", "--runtime-env-agent-port=0", "--metrics-export-port=0",
		"--min-worker-port=0", "--max-worker-port=0",
	}
	if s.NumCPUs > 0 {
		a = append(a, "--num-cpus="+strconv.Itoa(s.NumCPUs))
	}
	if s.ObjectStoreMiB > 0 {
		a = append(a, "--object-store-memory="+strconv.FormatInt(int64(s.ObjectStoreMiB)<<20, 10))
	}
	if s.Role == proto.RoleHead {
		return append(a, "--head",
			"--port="+strconv.Itoa(n.ports.gcs),
			"--include-dashboard=true", // fail rather than run a head without the Jobs API
			"--dashboard-host="+n.nodeIP,
			"--dashboard-port="+strconv.Itoa(n.ports.dashboard),
			"--ray-client-server-port="+strconv.Itoa(n.ports.client),
		)
	}
	return append(a, "--address="+s.HeadAddress)
}

// env is the agent's environment with the node's marker and, on a head,
// the ports of the two metrics servers Ray only lets the environment set.
func (n *rayNode) env() []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		return name == markerEnv || name == "RAY_ADDRESS" || name == "PYTHONUNBUFFERED"
	})
	// Unbuffered, so that ray.log holds what `ray start` printed before a
	// SIGKILL. Ray's processes inherit it; Ray runs most of them with -u.
	env = append(env, markerEnv+"="+n.marker, "PYTHONUNBUFFERED=1")
	if n.spec.Role == proto.RoleHead {
		env = append(env,
			"DASHBOARD_METRIC_PORT="+strconv.Itoa(n.ports.dashboardMetrics),
			"AUTOSCALER_METRIC_PORT="+strconv.Itoa(n.ports.autoscalerMetrics),
		)
	}
	return env
}

// resourcesJSON is --resources: the GPU model and the node name.
func resourcesJSON(s proto.RuntimeStart) string {
	res := map[string]int{NodeResource(s.NodeName): 1}
	if s.GPUs > 0 && s.GPUModel != "" {
		res[GPUResource(s.GPUModel)] = s.GPUs
	}
	b, _ := json.Marshal(res) // a map of strings to ints always marshals
	return string(b)
}

// Resource name prefixes; see the package doc.
const (
	gpuResourcePrefix  = "idlegrid_gpu:"
	nodeResourcePrefix = "idlegrid_node:"
)

// GPUResource is the custom resource naming a GPU model, such as
// "idlegrid_gpu:NVIDIA_GeForce_RTX_4090": runs of characters other than
// letters, digits, '.', '-' and '_' become one '_'.
func GPUResource(model string) string {
	var b strings.Builder
	b.WriteString(gpuResourcePrefix)
	under := false
	for _, c := range strings.TrimSpace(model) {
		if nameChar(c) {
			b.WriteRune(c)
			under = false
		} else if !under {
			b.WriteByte('_')
			under = true
		}
	}
	return b.String()
}

// NodeResource is the custom resource naming a node, such as
// "idlegrid_node:dev_1234abcd".
func NodeResource(name string) string { return nodeResourcePrefix + name }

func nameChar(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_'
}

func validNodeName(s string) bool {
	return s != "" && len(s) <= 64 && !strings.ContainsFunc(s, func(c rune) bool { return !nameChar(c) })
}

// launch starts `ray start` and the goroutines that follow it. On failure
// the node ends failed and the error is returned too.
func (r *Ray) launch(n *rayNode) error {
	started := make(chan error, 1)
	go r.supervise(n, started)
	go r.watch(n)
	return <-started
}

// supervise starts `ray start` and waits for it. The goroutine keeps its
// OS thread locked meanwhile: Linux sends Pdeathsig when the thread that
// forked the child ends, not the process, and Go may end threads.
func (r *Ray) supervise(n *rayNode, started chan<- error) {
	goruntime.LockOSThread()
	defer goruntime.UnlockOSThread()

	err := r.startProcess(n)
	close(n.launched)
	started <- err
	if err != nil {
		r.mu.Lock()
		n.failReason = err.Error()
		r.mu.Unlock()
		n.waitErr = err
		close(n.exited)
		return
	}
	n.waitErr = n.command.Wait()
	close(n.exited)
}

func (r *Ray) startProcess(n *rayNode) error {
	if err := os.MkdirAll(n.dir, 0o700); err != nil {
		return fmt.Errorf("making node dir: %w", err)
	}
	logf, err := os.OpenFile(filepath.Join(n.dir, logName), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("opening ray log: %w", err)
	}
	defer logf.Close() // the child holds its own copy
	cmd := exec.Command(r.cfg.Binary, n.args()...)
	cmd.Dir = n.dir
	cmd.Env = n.env()
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("running %s: %w", r.cfg.Binary, err)
	}
	n.command = cmd
	n.pid = cmd.Process.Pid
	return nil
}

// watch follows a node until its `ray start` exits, then cleans up. A
// node that stops serving while `ray start` lives on is given up after
// UnhealthyAfter: `ray start --block` takes a process that exits on SIGTERM
// (as `ray stop` on the host sends) for a graceful exit and blocks on.
func (r *Ray) watch(n *rayNode) {
	<-n.launched
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-n.exited
		cancel() // ends a request in flight
	}()

	ready := time.NewTimer(r.cfg.ReadyTimeout)
	defer ready.Stop()
	tick := time.NewTicker(r.cfg.PollInterval)
	defer tick.Stop()
	running := false
	var lastOK time.Time
	for {
		select {
		case <-n.exited:
			r.finish(n)
			return
		case <-ready.C:
			if !running {
				r.giveUp(n, fmt.Sprintf("ray was not ready after %s", r.cfg.ReadyTimeout))
			}
		case <-tick.C:
			err := r.poll(ctx, n)
			switch {
			case err == nil:
				lastOK = time.Now()
				if !running {
					running = true
					ready.Stop()
					tick.Reset(r.cfg.NodesInterval)
				}
			case running && time.Since(lastOK) > r.cfg.UnhealthyAfter:
				r.giveUp(n, fmt.Sprintf("ray stopped serving: %v", err))
			case running:
				r.log.Debug("checking ray node", keyCluster, n.spec.ClusterID, keyErr, err)
			}
		}
	}
}

// giveUp fails a node that does not serve, once.
func (r *Ray) giveUp(n *rayNode, reason string) {
	r.mu.Lock()
	first := !n.stopping && n.failReason == ""
	if first {
		n.failReason = reason
	}
	r.mu.Unlock()
	if first {
		r.log.Warn("giving up on ray node", keyCluster, n.spec.ClusterID, keyReason, reason)
		killGroup(n.pid)
	}
}

// poll checks once that a node serves and brings its state up to date.
func (r *Ray) poll(ctx context.Context, n *rayNode) error {
	if n.spec.Role == proto.RoleWorker {
		// The worker's own agent (a port it picked, on loopback) asks the
		// head's GCS whether this raylet is alive: local, and true only
		// once the node has joined. (The agent also says success while the
		// GCS is unreachable, so as not to raise false alarms.)
		if err := r.raylet(ctx, net.JoinHostPort(loopback(n.nodeIP), strconv.Itoa(n.ports.agent))); err != nil {
			return err
		}
		r.update(n, func(st *proto.RuntimeState) { st.State = proto.RuntimeRunning })
		return nil
	}

	dashboard := net.JoinHostPort(n.nodeIP, strconv.Itoa(n.ports.dashboard))
	r.mu.Lock()
	starting := n.state.State == proto.RuntimeStarting
	r.mu.Unlock()
	if starting {
		if _, err := r.version(ctx, dashboard); err != nil {
			return err
		}
	}
	list, err := r.aliveNodes(ctx, dashboard)
	if err != nil {
		return err
	}
	if list.headIP == "" {
		return errors.New("the head's own node is not alive")
	}
	r.update(n, func(st *proto.RuntimeState) {
		if st.State == proto.RuntimeStarting {
			n.rayIP = list.headIP
			st.State = proto.RuntimeRunning
			st.Address = net.JoinHostPort(list.headIP, strconv.Itoa(n.ports.gcs))
		}
		st.Nodes = list.names
	})
	return nil
}

// update applies f to the node's state and tells of any change, unless the
// node is being stopped or has ended.
func (r *Ray) update(n *rayNode, f func(*proto.RuntimeState)) {
	r.mu.Lock()
	if n.stopping || n.failReason != "" || n.isDone() {
		r.mu.Unlock()
		return
	}
	before := n.state
	f(&n.state)
	after := n.state
	r.mu.Unlock()
	if before.State == after.State && before.Address == after.Address && slices.Equal(before.Nodes, after.Nodes) {
		return
	}
	if before.State != after.State {
		r.log.Info("ray node "+after.State, keyCluster, after.ClusterID, keyRole, after.Role, keyAddress, after.Address)
	} else {
		r.log.Info("ray nodes changed", keyCluster, after.ClusterID, keyNodes, after.Nodes)
	}
	r.notify()
}

// finish cleans up after `ray start` has exited and sets the final state:
// stopped when asked to stop, failed otherwise.
func (r *Ray) finish(n *rayNode) {
	leftover := sweep(n.pid, n.marker, n.dir)
	if leftover != nil {
		r.log.Error("ray node left processes behind", keyCluster, n.spec.ClusterID, keyErr, leftover)
	}

	r.mu.Lock()
	stopping, reason := n.stopping, n.failReason
	r.mu.Unlock()
	var failure string
	if stopping {
		r.removeDir(n.dir)
	} else {
		failure = describeExit(reason, n.waitErr, filepath.Join(n.dir, logName))
		pruneToLogs(n.dir)
	}
	r.releasePorts(n.ports)

	if stopping {
		r.log.Info("ray node stopped", keyCluster, n.spec.ClusterID)
	} else {
		r.log.Warn("ray node failed", keyCluster, n.spec.ClusterID, keyReason, failure)
	}

	r.mu.Lock()
	n.leftover = leftover
	n.state.Nodes = nil
	if stopping {
		n.state.State = proto.RuntimeStopped
		n.state.Error = ""
	} else {
		n.state.State = proto.RuntimeFailed
		n.state.Error = failure
	}
	close(n.done) // the last thing the node's goroutines do but notify
	r.mu.Unlock()
	r.notify()
}

// maxError keeps State.Error within what proto accepts.
const maxError = 1000

// describeExit says why a node ended by itself, with the last lines of
// its log.
func describeExit(reason string, waitErr error, logPath string) string {
	if reason == "" {
		var exit *exec.ExitError
		switch {
		case errors.As(waitErr, &exit):
			reason = "ray exited: " + exit.ProcessState.String()
		case waitErr != nil:
			reason = "ray: " + waitErr.Error()
		default:
			reason = "ray exited"
		}
	}
	reason = truncateFront(reason, maxError/2)
	tail := logTail(logPath, 6)
	if tail == "" {
		return reason
	}
	return reason + ": " + truncateFront(tail, maxError-len(reason)-2)
}

// pruneToLogs empties a failed node's dir but for its logs.
func pruneToLogs(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		switch {
		case e.Name() == logName:
		case e.IsDir() && strings.HasPrefix(e.Name(), "session_"):
			sub, _ := os.ReadDir(p)
			for _, s := range sub {
				if s.Name() != "logs" {
					_ = os.RemoveAll(filepath.Join(p, s.Name()))
				}
			}
		default:
			_ = os.RemoveAll(p)
		}
	}
}

// loopback is the loopback address of ip's family: Ray's agents listen on
// it as well as on the node IP.
func loopback(ip string) string {
	if a := net.ParseIP(ip); a != nil && a.To4() == nil {
		return "::1"
	}
	return "127.0.0.1"
}
