package cluster_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/idlegrid/idlegrid/controlplane/cluster"
	"github.com/idlegrid/idlegrid/controlplane/servertest"
	"github.com/idlegrid/idlegrid/controlplane/store"
	"github.com/idlegrid/idlegrid/shared/agent"
	igruntime "github.com/idlegrid/idlegrid/shared/runtime"
	"github.com/idlegrid/idlegrid/shared/tunnel"
)

// spreadJob runs one task on each of n GPUs, on n different nodes (a
// STRICT_SPREAD placement group), and prints how many nodes answered.
const spreadJob = `
import ray
from ray.util.placement_group import placement_group
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy
ray.init()
pg = placement_group([{'GPU': 1}] * %d, strategy='STRICT_SPREAD')
ray.get(pg.ready(), timeout=120)
@ray.remote(num_gpus=1, num_cpus=0)
def where():
    return ray.get_runtime_context().get_node_id()
ids = ray.get([where.options(scheduling_strategy=PlacementGroupSchedulingStrategy(placement_group=pg, placement_group_bundle_index=i)).remote() for i in range(%d)])
print('distinct nodes:', len(set(ids)))
`

// The whole requester story on real Ray: three suppliers on loopback, a
// two-GPU cluster deployed, a job submitted with 'ray job submit' through
// the tunnel running on both nodes, a node killed and replaced, the job
// possible again, then terminate: no Ray process left, devices free, and
// charges exactly what the ready seconds cost.
func TestRayClusterEndToEnd(t *testing.T) {
	rayBin, err := exec.LookPath("ray")
	if err != nil {
		t.Fatal(`ray is not installed: pip install "ray[default]==2.60.0" (make deps does)`)
	}
	if _, err := igruntime.NewRay(igruntime.RayConfig{}).Detect(t.Context()); err != nil {
		t.Fatalf("Ray is not usable: %v", err)
	}
	cfg := servertest.FastConfig(t.TempDir())
	// Ray nodes load both cores while they start: slower heartbeats keep
	// the suppliers from looking lost while they work.
	cfg.HeartbeatInterval, cfg.OfflineAfter = 500*time.Millisecond, 6*time.Second
	cfg.Cluster.NumCPUs, cfg.Cluster.ObjectStoreMiB = 1, 100
	cfg.Cluster.ProvisionTimeout, cfg.Cluster.MissingAfter = 4*time.Minute, 40*time.Second
	srv := servertest.Start(t, &cfg)
	gamer, renter := srv.SignUp("gamer@example.com"), srv.SignUp("renter@example.com")

	type rig struct {
		a    *agent.Agent
		stop func()
		dir  string
	}
	rigs := map[string]*rig{}
	for i := range 3 {
		// A short dir: Ray's unix sockets live under it, and the runtime
		// would otherwise move them somewhere this test can't name.
		dir, err := os.MkdirTemp("", "igt")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		rt := igruntime.NewRay(igruntime.RayConfig{Binary: rayBin, DataDir: dir, Log: srv.Log.With("ray", i)})
		a := srv.NewAgentWith(fmt.Sprintf("rig%d", i), "RTX 4090", rt)
		if err := a.Pair(t.Context(), gamer.PairingCode()); err != nil {
			t.Fatal(err)
		}
		stop, _ := servertest.RunAgent(t, a)
		rigs[a.State().DeviceID] = &rig{a: a, stop: stop, dir: dir}
	}
	servertest.Eventually(t, 20*time.Second, "three rigs online", func() bool {
		n := 0
		for _, d := range gamer.Devices() {
			if d.State == "online" {
				n++
			}
		}
		return n == 3
	})
	u, _ := store.UserByEmail(t.Context(), srv.Srv.Store.Reader(), "renter@example.com")
	if _, err := srv.Srv.Ledger.TopUp(t.Context(), u.ID, 20_000_000, "seed", ""); err != nil {
		t.Fatal(err)
	}
	var key struct{ Key string }
	if st := renter.Do("POST", "/api/v1/keys", map[string]string{"name": "ray"}, &key); st != http.StatusCreated {
		t.Fatalf("api key: %d", st)
	}
	var v cluster.View
	if st := renter.Do("POST", "/api/v1/clusters", map[string]any{"gpu_model": "4090", "gpus": 2, "hours": 1}, &v); st != http.StatusCreated {
		t.Fatalf("deploy: %d", st)
	}
	f := &fleet{srv: srv, renter: renter}
	v = f.waitState(t, v.ID, "running", 4*time.Minute)
	t.Logf("cluster %s ready after %s", v.ID, v.ReadyAt.Sub(v.CreatedAt).Round(time.Second))

	// The requester's side of `idlegridctl forward`: a local port to the
	// head's dashboard through the control plane.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fctx, stopForward := context.WithCancel(context.Background())
	defer stopForward()
	endpoint := "ws" + strings.TrimPrefix(srv.URL, "http") + "/api/v1/clusters/" + v.ID + "/tunnel?port=dashboard"
	go func() {
		_ = tunnel.Forward(fctx, ln, func(ctx context.Context) (net.Conn, error) {
			return tunnel.DialWebsocket(ctx, endpoint, http.Header{"Authorization": {"Bearer " + key.Key}})
		}, srv.Log)
	}()
	address := "http://" + ln.Addr().String()
	submit := func(what string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, rayBin, "job", "submit", "--address", address, "--", "python", "-c", fmt.Sprintf(spreadJob, 2, 2))
		cmd.Env = append(os.Environ(), "RAY_DISABLE_USAGE_STATS=1")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil || !strings.Contains(out.String(), "distinct nodes: 2") {
			t.Fatalf("%s: ray job submit: %v\n%s", what, err, out.String())
		}
	}
	servertest.Eventually(t, time.Minute, "the head's tunnel", func() bool { return srv.Srv.Tunnels.Connected(v.ID) })
	submit("first job")

	// The console's dashboard link works without a session, sandboxed; a
	// forged one opens nothing.
	var ver struct {
		RayVersion string `json:"ray_version"`
	}
	resp, err := http.Get(srv.URL + v.Dashboard + "api/version")
	if err != nil {
		t.Fatal(err)
	}
	err = json.NewDecoder(resp.Body).Decode(&ver)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || ver.RayVersion != "2.60.0" || !strings.HasPrefix(resp.Header.Get("Content-Security-Policy"), "sandbox") {
		t.Fatalf("dashboard link: %d %+v %v csp %q", resp.StatusCode, ver, err, resp.Header.Get("Content-Security-Policy"))
	}
	// And the dashboard itself renders in a real browser, sandboxed.
	bctx := servertest.Browser(t)
	servertest.Within(t, bctx, 90*time.Second,
		chromedp.Navigate(srv.URL+v.Dashboard),
		chromedp.Poll[chromedp.Void](`document.body.innerText.includes("Jobs") && document.body.innerText.includes("Cluster")`,
			chromedp.WithPollingInterval(200*time.Millisecond), chromedp.WithPollingTimeout(80*time.Second)))
	servertest.Screenshot(t, bctx, "ray-dashboard.png")
	forged := strings.Replace(v.Dashboard, ".", ".x", 1)
	if resp, err := http.Get(srv.URL + forged + "api/version"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("forged dashboard link: %v %v", resp, err)
	}

	// A worker's machine goes away: the cluster degrades, the spare joins.
	var worker string
	for _, n := range v.Nodes {
		if n.Role == "worker" {
			worker = n.DeviceID
		}
	}
	rigs[worker].stop()
	v = f.waitState(t, v.ID, "degraded", 30*time.Second)
	v = f.waitState(t, v.ID, "running", 3*time.Minute)
	if !hasEvent(v, "replacement", "") || slices.ContainsFunc(activeNodes(v), func(n cluster.NodeView) bool { return n.DeviceID == worker }) {
		t.Fatalf("after the repair: %+v", v.Events)
	}
	submit("job after the repair")

	if st := renter.Do("DELETE", "/api/v1/clusters/"+v.ID, nil, &v); st != http.StatusAccepted {
		t.Fatalf("terminate: %d", st)
	}
	v = f.waitState(t, v.ID, "terminated", 2*time.Minute)
	stopForward()
	for id, r := range rigs {
		if left := rayProcesses(r.dir); len(left) > 0 {
			t.Errorf("rig %s: Ray processes left after terminate: %v", id, left)
		}
	}
	busy, err := store.BusyDevices(t.Context(), srv.Srv.Store.Reader())
	if err != nil || len(busy) != 0 {
		t.Fatalf("devices still reserved: %v %v", busy, err)
	}
	checkCharges(t, srv, v.ID)
	if v.Cost.Charged <= 0 || v.Cost.BilledSeconds <= 0 {
		t.Fatalf("a cluster that ran was not charged: %+v", v.Cost)
	}
}

// rayProcesses lists processes whose command line or environment mentions
// dir, where that node's Ray keeps its sockets and logs.
func rayProcesses(dir string) []string {
	var out []string
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		cmd, err := os.ReadFile(filepath.Join(p, "cmdline"))
		if err != nil {
			continue
		}
		env, _ := os.ReadFile(filepath.Join(p, "environ"))
		if bytes.Contains(cmd, []byte(dir)) || bytes.Contains(env, []byte(dir)) {
			out = append(out, filepath.Base(p)+": "+strings.ReplaceAll(string(cmd), "\x00", " "))
		}
	}
	return out
}
