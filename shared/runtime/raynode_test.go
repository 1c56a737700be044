package runtime

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/idlegrid/idlegrid/shared/proto"
)

func TestGPUResource(t *testing.T) {
	tests := []struct{ model, want string }{
		{"Tesla T4", "idlegrid_gpu:Tesla_T4"},
		{"NVIDIA GeForce RTX 4090", "idlegrid_gpu:NVIDIA_GeForce_RTX_4090"},
		{" NVIDIA A100-SXM4-40GB ", "idlegrid_gpu:NVIDIA_A100-SXM4-40GB"},
		{"AMD Radeon, Pro (W7900)", "idlegrid_gpu:AMD_Radeon_Pro_W7900_"},
	}
	for _, tt := range tests {
		if got := GPUResource(tt.model); got != tt.want {
			t.Errorf("GPUResource(%q) = %q, want %q", tt.model, got, tt.want)
		}
	}
}

func TestRayArgs(t *testing.T) {
	ports := rayPorts{agent: 20001, gcs: 20002, dashboard: 20003, client: 20004, dashboardMetrics: 20005, autoscalerMetrics: 20006}
	head := newRayNode(proto.RuntimeStart{ClusterID: "clu_a", Runtime: "ray", Role: proto.RoleHead, NodeName: "dev_h", GPUs: 2, GPUModel: "Tesla T4", NumCPUs: 3, ObjectStoreMiB: 100}, "/tmp/igr-1/2", "10.1.2.3", ports)
	args := head.args()
	for _, want := range []string{
		"--head", "--block", "--port=20002", "--dashboard-port=20003", "--ray-client-server-port=20004",
		"--dashboard-agent-listen-port=20001", "--dashboard-host=10.1.2.3", "--node-ip-address=10.1.2.3",
		"--num-gpus=2", "--num-cpus=3", "--object-store-memory=104857600", "--temp-dir=/tmp/igr-1/2",
		"--min-worker-port=0", "--max-worker-port=0", "--node-manager-port=0", "--object-manager-port=0",
		"--dashboard-agent-grpc-port=0", "--runtime-env-agent-port=0", "--metrics-export-port=0",
		"--include-dashboard=true",
	} {
		if !slices.Contains(args, want) {
			t.Errorf("head args lack %s: %v", want, args)
		}
	}
	var res map[string]int
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--resources="); ok {
			if err := json.Unmarshal([]byte(v), &res); err != nil {
				t.Fatal(err)
			}
		}
	}
	if want := map[string]int{"idlegrid_gpu:Tesla_T4": 2, "idlegrid_node:dev_h": 1}; !maps.Equal(res, want) {
		t.Errorf("resources %v, want %v", res, want)
	}
	env := head.env()
	for _, want := range []string{markerEnv + "=" + head.marker, "DASHBOARD_METRIC_PORT=20005", "AUTOSCALER_METRIC_PORT=20006"} {
		if !slices.Contains(env, want) {
			t.Errorf("head env lacks %s", want)
		}
	}

	worker := newRayNode(proto.RuntimeStart{ClusterID: "clu_a", Runtime: "ray", Role: proto.RoleWorker, HeadAddress: "10.1.2.4:20002", NodeName: "dev_w"}, "/tmp/igr-1/3", "10.1.2.3", rayPorts{agent: 20007})
	args = worker.args()
	for _, want := range []string{"--address=10.1.2.4:20002", "--num-gpus=0", `--resources={"idlegrid_node:dev_w":1}`, "--dashboard-agent-listen-port=20007"} {
		if !slices.Contains(args, want) {
			t.Errorf("worker args lack %s: %v", want, args)
		}
	}
	for _, a := range args {
		if a == "--head" || strings.HasPrefix(a, "--dashboard-port") || strings.HasPrefix(a, "--num-cpus") {
			t.Errorf("worker args have %s", a)
		}
	}
}

func TestParseNodes(t *testing.T) {
	// Captured from Ray 2.60.0: a head, a worker, and a worker that left.
	body, err := os.ReadFile(filepath.Join("testdata", "api_v0_nodes.json"))
	if err != nil {
		t.Fatal(err)
	}
	list, err := parseNodes(body)
	if err != nil {
		t.Fatal(err)
	}
	if list.headIP != "192.0.2.2" || !slices.Equal(list.names, []string{"dev_head0001", "dev_work0001"}) {
		t.Errorf("parsed %+v", list)
	}
	if _, err := parseNodes([]byte(`{"result": false, "msg": "Failed to query nodes", "data": {}}`)); err == nil || !strings.Contains(err.Error(), "Failed to query nodes") {
		t.Errorf("a failed answer gave %v", err)
	}
}

func TestTailLines(t *testing.T) {
	tests := []struct {
		name, log, want string
	}{
		{
			"traceback before start",
			"2026-11-22 04:57:11,214\tINFO usage_lib.py:448 -- Usage stats collection is disabled.\n\n" +
				"2026-11-22 04:57:11,215\tINFO scripts.py:1043 -- \x1b[37mLocal node IP\x1b[39m: \x1b[1m192.0.2.2\x1b[22m\n" +
				"Traceback (most recent call last):\n  File \"x.py\", line 1\nValueError: Failed to bind\n\n",
			"Traceback (most recent call last):\nFile \"x.py\", line 1\nValueError: Failed to bind",
		},
		{
			// Captured from Ray 2.60.0: the raylet was killed after the node had started.
			"raylet killed", readFile(t, "testdata/ray-start-raylet-killed.log"),
			"Some Ray subprocesses exited unexpectedly:\nraylet [exit code=-9]\nRemaining processes will be killed.",
		},
		{
			"killed after start",
			"2026-11-22 05:10:35,000\tSUCC scripts.py:1085 -- Ray runtime started.\n--block\nThis command will now block forever until terminated by a signal.\n" +
				"2026-11-22 05:10:35,000\tINFO scripts.py:1274 -- Process exit logs will be saved to: /tmp/x/ray_process_exit.log\n",
			"",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tailLines(tt.log, 4); got != tt.want {
				t.Errorf("tailLines = %q, want %q", got, tt.want)
			}
		})
	}
	if got := truncateFront("abcdefghij", 8); got != "...fghij" {
		t.Errorf("truncateFront = %q", got)
	}
}

func TestDescribeExitFitsTheWire(t *testing.T) {
	log := filepath.Join(t.TempDir(), logName)
	if err := os.WriteFile(log, []byte(strings.Repeat("Error: "+strings.Repeat("x", 300)+"\n", 50)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, reason := range []string{"", "short", strings.Repeat("long reason ", 200)} {
		if got := describeExit(reason, nil, log); len(got) > maxError {
			t.Errorf("describeExit with a reason of %d bytes gave %d bytes", len(reason), len(got))
		}
	}
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestNodeDirsAreShort(t *testing.T) {
	long := filepath.Join(t.TempDir(), strings.Repeat("x", 60))
	for _, dataDir := range []string{"", "/d", long} {
		base, _ := nodesBase(dataDir)
		if n := len(base) + 1 + nodeDirLen; n > maxTempDir {
			t.Errorf("nodesBase(%q) = %q: node dirs of %d bytes, over %d", dataDir, base, n, maxTempDir)
		}
	}
	if base, own := nodesBase("/d"); base != "/d/ray" || own {
		t.Errorf("nodesBase(/d) = %q, %v", base, own)
	}
}
