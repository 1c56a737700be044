//go:build linux

package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/idlegrid/idlegrid/shared/proto"
)

// These tests run real Ray (pip install "ray[default]") except where a
// fake ray binary is enough. Nodes are kept small for a 2-core machine.

func newTestRay(t testing.TB, cfg RayConfig) *Ray {
	t.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	cfg.NumCPUs, cfg.ObjectStoreMiB = 1, 80
	cfg.Log = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	r := NewRay(cfg)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := r.Close(ctx); err != nil {
			t.Errorf("closing ray: %v", err)
		}
		for _, s := range r.States() {
			r.Forget(s.ClusterID)
		}
	})
	return r
}

// requireRay fails the test, saying how to install Ray, when it is missing.
func requireRay(t testing.TB, r *Ray) {
	t.Helper()
	if _, err := r.Detect(t.Context()); err != nil {
		t.Fatalf("this test runs real Ray: %v", err)
	}
}

func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, timeout)
		}
		<-tick.C
	}
}

func stateOf(r *Ray, clusterID string) proto.RuntimeState {
	for _, s := range r.States() {
		if s.ClusterID == clusterID {
			return s
		}
	}
	return proto.RuntimeState{}
}

func nodeOf(t testing.TB, r *Ray, clusterID string) *rayNode {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.nodes[clusterID]
	if n == nil {
		t.Fatalf("no node for %s", clusterID)
	}
	return n
}

func testSpec(clusterID, role, name string) proto.RuntimeStart {
	return proto.RuntimeStart{ClusterID: clusterID, Runtime: proto.RuntimeRay, Role: role, NodeName: name, GPUs: 1, GPUModel: "Tesla T4"}
}

// procInfo is a live process as /proc shows it.
type procInfo struct {
	pid, pgid int
	cmdline   string
}

// markedProcesses lists the live processes that carry a node's marker or
// name its dir, read independently of nodeProcesses.
func markedProcesses(t testing.TB, n *rayNode) []procInfo {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []procInfo
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		dir := "/proc/" + e.Name()
		status, err := os.ReadFile(dir + "/status")
		if err != nil || bytes.Contains(status, []byte("State:\tZ")) {
			continue
		}
		environ, _ := os.ReadFile(dir + "/environ")
		cmdline, _ := os.ReadFile(dir + "/cmdline")
		if !slices.Contains(strings.Split(string(environ), "\x00"), markerEnv+"="+n.marker) && !bytes.Contains(cmdline, []byte(n.dir)) {
			continue
		}
		stat, _ := os.ReadFile(dir + "/stat")
		var pgid int
		if i := bytes.LastIndexByte(stat, ')'); i >= 0 {
			if f := strings.Fields(string(stat[i+1:])); len(f) > 2 {
				pgid, _ = strconv.Atoi(f[2])
			}
		}
		out = append(out, procInfo{pid, pgid, strings.ReplaceAll(string(cmdline), "\x00", " ")})
	}
	return out
}

func TestRayDetect(t *testing.T) {
	t.Run("installed", func(t *testing.T) {
		info, err := NewRay(RayConfig{}).Detect(t.Context())
		if err != nil {
			t.Fatalf("detecting ray: %v", err)
		}
		if info != (proto.RuntimeInfo{Name: "ray", Version: "2.60.0"}) {
			t.Errorf("detected %+v, want ray 2.60.0", info)
		}
	})
	t.Run("missing", func(t *testing.T) {
		_, err := NewRay(RayConfig{Binary: filepath.Join(t.TempDir(), "ray")}).Detect(t.Context())
		if err == nil || !strings.Contains(err.Error(), `pip install "ray[default]"`) {
			t.Errorf("Detect without ray = %v, want an error saying how to install it", err)
		}
	})
	t.Run("without dashboard", func(t *testing.T) {
		// A ray whose python lacks the dashboard's dependencies.
		dir := t.TempDir()
		writeScript(t, dir, "python3", "#!/bin/sh\necho \"ModuleNotFoundError: No module named 'aiohttp'\" >&2\nexit 1\n")
		bin := writeScript(t, dir, "ray", "#!/bin/sh\necho 'ray, version 2.60.0'\n")
		info, err := NewRay(RayConfig{Binary: bin}).Detect(t.Context())
		if err == nil || !strings.Contains(err.Error(), `pip install "ray[default]"`) || !strings.Contains(err.Error(), "aiohttp") {
			t.Errorf("Detect without the dashboard = %+v, %v; want an error saying how to install it", info, err)
		}
	})
}

// jobSource runs one task on each of two nodes, each taking a GPU of the
// model, and prints the idlegrid resources of the nodes they ran on. The
// entrypoint quotes it in single quotes, so it has none.
const jobSource = `
import ray
from ray.util.placement_group import placement_group
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy as In
ray.init()
gpu = {"GPU": 1, "idlegrid_gpu:Tesla_T4": 1}
pg = placement_group([gpu, gpu], strategy="STRICT_SPREAD")
ray.get(pg.ready(), timeout=60)
@ray.remote(num_gpus=1, num_cpus=0, resources={"idlegrid_gpu:Tesla_T4": 1})
def where():
    me = ray.get_runtime_context().get_node_id()
    res = [n["Resources"] for n in ray.nodes() if n["NodeID"] == me][0]
    return me, sorted(k for k in res if k.startswith("idlegrid_"))
seen = ray.get([where.options(scheduling_strategy=In(placement_group=pg, placement_group_bundle_index=i)).remote() for i in range(2)])
print("NODE_IDS", len(set(me for me, _ in seen)))
print("IDLEGRID", sorted(set(k for _, ks in seen for k in ks)))
`

func TestRayHeadAndWorkerRunAJob(t *testing.T) {
	ctx := t.Context()
	head, worker := newTestRay(t, RayConfig{}), newTestRay(t, RayConfig{})
	requireRay(t, head)
	cid := "clu_" + randomHex(6)

	if err := head.Start(ctx, testSpec(cid, proto.RoleHead, "dev_head0001")); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "head running", func() bool { return stateOf(head, cid).State == proto.RuntimeRunning })
	address := stateOf(head, cid).Address
	if _, _, err := net.SplitHostPort(address); err != nil {
		t.Fatalf("head address %q: %v", address, err)
	}
	ws := testSpec(cid, proto.RoleWorker, "dev_work0001")
	ws.HeadAddress = address
	if err := worker.Start(ctx, ws); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "worker running", func() bool { return stateOf(worker, cid).State == proto.RuntimeRunning })
	want := []string{"dev_head0001", "dev_work0001"}
	eventually(t, 30*time.Second, "head lists both nodes", func() bool { return slices.Equal(stateOf(head, cid).Nodes, want) })

	ports := head.Ports(cid)
	for _, name := range []string{PortDashboard, PortClient, PortGCS} {
		if _, _, err := net.SplitHostPort(ports[name]); err != nil {
			t.Errorf("port %q = %q: %v", name, ports[name], err)
		}
	}
	if worker.Ports(cid) != nil {
		t.Errorf("a worker has ports %v", worker.Ports(cid))
	}
	dashboard := "http://" + ports[PortDashboard]
	var version struct {
		RayVersion string `json:"ray_version"`
	}
	getJSON(t, dashboard+"/api/version", &version)
	if version.RayVersion != "2.60.0" {
		t.Errorf("dashboard says ray %q", version.RayVersion)
	}

	// The job leaves a process behind in the driver's own session, which
	// Ray does not stop: Stop must find it.
	entrypoint := "python -c '" + jobSource + "' && (sleep 600 >/dev/null 2>&1 &)"
	logs := runJob(t, dashboard, entrypoint)
	for _, s := range []string{"NODE_IDS 2", "IDLEGRID ['idlegrid_gpu:Tesla_T4', 'idlegrid_node:dev_head0001', 'idlegrid_node:dev_work0001']"} {
		if !strings.Contains(logs, s) {
			t.Errorf("job logs lack %q:\n%s", s, logs)
		}
	}

	hn, wn := nodeOf(t, head, cid), nodeOf(t, worker, cid)
	outside := slices.DeleteFunc(markedProcesses(t, hn), func(p procInfo) bool { return p.pgid == hn.pid })
	if len(outside) == 0 {
		t.Errorf("no process of the head outside its process group; the job's sleep should be")
	}
	usedPorts := append(hn.ports.all(), wn.ports.all()...)

	var wg sync.WaitGroup
	for _, r := range []*Ray{worker, head} {
		wg.Go(func() {
			if err := r.Stop(ctx, cid, "test over"); err != nil {
				t.Errorf("stopping: %v", err)
			}
		})
	}
	wg.Wait()
	for _, r := range []*Ray{head, worker} {
		if s := stateOf(r, cid); s.State != proto.RuntimeStopped || s.Error != "" || s.Nodes != nil {
			t.Errorf("after Stop: %+v", s)
		}
	}
	for _, n := range []*rayNode{hn, wn} {
		if left := markedProcesses(t, n); len(left) > 0 {
			t.Errorf("processes left of %s: %v", n.spec.NodeName, left)
		}
		if _, err := os.Stat(n.dir); !os.IsNotExist(err) {
			t.Errorf("node dir %s still there: %v", n.dir, err)
		}
	}
	for _, port := range usedPorts {
		l, err := net.Listen("tcp", ":"+strconv.Itoa(port))
		if err != nil {
			t.Errorf("port %d still taken: %v", port, err)
			continue
		}
		l.Close()
	}
	if err := head.Stop(ctx, cid, "again"); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func getJSON(t testing.TB, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", url, resp.Status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v: %s", url, err, body)
	}
}

// runJob submits a job through the Jobs REST API, waits for it to succeed
// and returns its logs.
func runJob(t testing.TB, dashboard, entrypoint string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"entrypoint": entrypoint})
	resp, err := http.Post(dashboard+"/api/jobs/", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var job struct {
		SubmissionID string `json:"submission_id"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(answer, &job) != nil || job.SubmissionID == "" {
		t.Fatalf("submitting a job: %s: %s", resp.Status, answer)
	}
	var status struct {
		Status  string `json:"status"`
		Message string `json:"message"`
	}
	eventually(t, 90*time.Second, "job finished", func() bool {
		getJSON(t, dashboard+"/api/jobs/"+job.SubmissionID, &status)
		return status.Status == "SUCCEEDED" || status.Status == "FAILED" || status.Status == "STOPPED"
	})
	var logs struct {
		Logs string `json:"logs"`
	}
	getJSON(t, dashboard+"/api/jobs/"+job.SubmissionID+"/logs", &logs)
	if status.Status != "SUCCEEDED" {
		t.Fatalf("job %s: %s\n%s", status.Status, status.Message, logs.Logs)
	}
	return logs.Logs
}

func writeScript(t testing.TB, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRayStartIsIdempotentAndChecksSpecs(t *testing.T) {
	ctx := t.Context()
	bin := t.TempDir()
	sleeper := writeScript(t, bin, "ray-sleeps", "#!/bin/sh\nexec sleep 300\n")
	failing := writeScript(t, bin, "ray-fails", "#!/bin/sh\necho 'starting ray'\necho 'ValueError: Failed to bind to 192.0.2.2:6379 because it is already occupied.' >&2\nexit 1\n")

	t.Run("bad specs", func(t *testing.T) {
		r := newTestRay(t, RayConfig{Binary: sleeper})
		good := testSpec("clu_bad00001", proto.RoleWorker, "dev_work0001")
		good.HeadAddress = "10.0.0.1:6379"
		tests := []struct {
			name string
			edit func(*proto.RuntimeStart)
			want string
		}{
			{"worker without head", func(s *proto.RuntimeStart) { s.HeadAddress = "" }, "a worker needs head_address"},
			{"head address without port", func(s *proto.RuntimeStart) { s.HeadAddress = "10.0.0.1" }, "head_address"},
			{"unknown role", func(s *proto.RuntimeStart) { s.Role = "boss" }, `unknown role "boss"`},
			{"other runtime", func(s *proto.RuntimeStart) { s.Runtime = "docker" }, `runtime "docker" is not "ray"`},
			{"no node name", func(s *proto.RuntimeStart) { s.NodeName = "" }, "node_name"},
			{"node name with space", func(s *proto.RuntimeStart) { s.NodeName = "my box" }, "node_name"},
			{"tiny object store", func(s *proto.RuntimeStart) { s.ObjectStoreMiB = 10 }, "minimum of 75"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := good
				tt.edit(&s)
				err := r.Start(ctx, s)
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("Start = %v, want an error with %q", err, tt.want)
				}
			})
		}
		if s := r.States(); len(s) != 0 {
			t.Errorf("bad specs left states %+v", s)
		}
	})

	t.Run("second start is a no-op", func(t *testing.T) {
		r := newTestRay(t, RayConfig{Binary: sleeper})
		s := testSpec("clu_twice001", proto.RoleHead, "dev_head0001")
		if err := r.Start(ctx, s); err != nil {
			t.Fatal(err)
		}
		select {
		case <-r.Changed():
		case <-time.After(5 * time.Second):
			t.Fatal("no change signalled after Start")
		}
		pid := nodeOf(t, r, s.ClusterID).pid
		if err := r.Start(ctx, s); err != nil {
			t.Errorf("second Start: %v", err)
		}
		if got := nodeOf(t, r, s.ClusterID).pid; got != pid {
			t.Errorf("second Start launched ray again: pid %d, was %d", got, pid)
		}
		other := s
		other.Role, other.HeadAddress = proto.RoleWorker, "10.0.0.1:6379"
		if err := r.Start(ctx, other); err == nil || !strings.Contains(err.Error(), "already runs here as head") {
			t.Errorf("Start as worker of a cluster run as head = %v", err)
		}
		if st := r.States(); len(st) != 1 || st[0].State != proto.RuntimeStarting {
			t.Errorf("states %+v, want one starting", st)
		}
		if p := r.Ports(s.ClusterID); p != nil {
			t.Errorf("ports of a starting head: %v", p)
		}
		if err := r.Stop(ctx, s.ClusterID, "test"); err != nil {
			t.Fatal(err)
		}
		if st := stateOf(r, s.ClusterID); st.State != proto.RuntimeStopped {
			t.Errorf("after Stop: %+v", st)
		}
		for _, id := range []string{s.ClusterID, "clu_unknown1"} {
			if err := r.Stop(ctx, id, "again"); err != nil {
				t.Errorf("Stop(%s) again: %v", id, err)
			}
		}
		if err := r.Start(ctx, s); err != nil { // a stopped cluster may start again
			t.Fatal(err)
		}
		if got := nodeOf(t, r, s.ClusterID).pid; got == pid {
			t.Errorf("Start after Stop did not launch ray")
		}
	})

	t.Run("failing ray reports why", func(t *testing.T) {
		r := newTestRay(t, RayConfig{Binary: failing})
		s := testSpec("clu_fails001", proto.RoleHead, "dev_head0001")
		if err := r.Start(ctx, s); err != nil {
			t.Fatal(err)
		}
		eventually(t, 10*time.Second, "failed", func() bool { return stateOf(r, s.ClusterID).State == proto.RuntimeFailed })
		msg := stateOf(r, s.ClusterID).Error
		for _, want := range []string{"exit status 1", "ValueError: Failed to bind to 192.0.2.2:6379"} {
			if !strings.Contains(msg, want) {
				t.Errorf("Error %q lacks %q", msg, want)
			}
		}
		dir := nodeOf(t, r, s.ClusterID).dir
		if _, err := os.Stat(filepath.Join(dir, logName)); err != nil {
			t.Errorf("a failed node's log is gone: %v", err)
		}
		r.Forget(s.ClusterID)
		if st := r.States(); len(st) != 0 {
			t.Errorf("states after Forget: %+v", st)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("Forget left %s: %v", dir, err)
		}
	})

	t.Run("missing binary", func(t *testing.T) {
		r := newTestRay(t, RayConfig{Binary: filepath.Join(bin, "no-ray")})
		s := testSpec("clu_nobin001", proto.RoleHead, "dev_head0001")
		if err := r.Start(ctx, s); err == nil {
			t.Fatal("Start without a ray binary succeeded")
		}
		eventually(t, 10*time.Second, "failed", func() bool { return stateOf(r, s.ClusterID).State == proto.RuntimeFailed })
		if msg := stateOf(r, s.ClusterID).Error; !strings.Contains(msg, "no-ray") {
			t.Errorf("Error %q does not name the binary", msg)
		}
	})
}

func TestRayNodeKilledFromOutsideFails(t *testing.T) {
	tests := []struct {
		name string
		kill func(t *testing.T, n *rayNode)
		want string
	}{
		{"group killed", func(t *testing.T, n *rayNode) {
			if err := syscall.Kill(-n.pid, syscall.SIGKILL); err != nil {
				t.Fatalf("killing process group %d: %v", n.pid, err)
			}
		}, "ray exited: signal: killed"},
		// `ray stop` on the host sends SIGTERM to every raylet, which
		// `ray start --block` takes for a graceful exit.
		{"raylet terminated", func(t *testing.T, n *rayNode) {
			for _, p := range markedProcesses(t, n) {
				if filepath.Base(strings.Fields(p.cmdline)[0]) == "raylet" {
					if err := syscall.Kill(p.pid, syscall.SIGTERM); err != nil {
						t.Fatal(err)
					}
					return
				}
			}
			t.Fatal("no raylet found")
		}, "ray stopped serving: the head's own node is not alive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			r := newTestRay(t, RayConfig{UnhealthyAfter: 3 * time.Second})
			requireRay(t, r)
			s := testSpec("clu_"+randomHex(6), proto.RoleHead, "dev_head0001")
			if err := r.Start(ctx, s); err != nil {
				t.Fatal(err)
			}
			eventually(t, time.Minute, "head running", func() bool { return stateOf(r, s.ClusterID).State == proto.RuntimeRunning })
			n := nodeOf(t, r, s.ClusterID)
			tt.kill(t, n)
			eventually(t, 30*time.Second, "failed", func() bool { return stateOf(r, s.ClusterID).State == proto.RuntimeFailed })
			if msg := stateOf(r, s.ClusterID).Error; !strings.HasPrefix(msg, tt.want) {
				t.Errorf("Error %q does not start %q", msg, tt.want)
			}
			if left := markedProcesses(t, n); len(left) > 0 {
				t.Errorf("processes left: %v", left)
			}
			if _, err := os.Stat(filepath.Join(n.dir, logName)); err != nil {
				t.Errorf("a failed node's log is gone: %v", err)
			}
			if p := r.Ports(s.ClusterID); p != nil {
				t.Errorf("ports of a failed head: %v", p)
			}
		})
	}
}
