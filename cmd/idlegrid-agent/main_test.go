package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/idlegrid/idlegrid/shared/bench"
)

func build(t *testing.T, cgo string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "idlegrid-agent")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED="+cgo)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=%s go build: %v\n%s", cgo, err, out)
	}
	return bin
}

// The agent builds with cgo (NVML) and without; each says at start-up, in
// words, what it can offer, and an unpaired agent says how to pair.
func TestAgentBuildsWithAndWithoutCgoAndSaysWhatItOffers(t *testing.T) {
	cases := []struct {
		cgo, says string
	}{
		{"0", "this build has no NVIDIA support (built with CGO_ENABLED=0)"},
		{"1", "GPUs: "}, // "none offered: no NVIDIA driver found…" here, "N NVIDIA (driver …)" on a GPU rig
	}
	for _, tc := range cases {
		t.Run("CGO_ENABLED="+tc.cgo, func(t *testing.T) {
			bin := build(t, tc.cgo)
			cmd := exec.Command(bin, "--data", t.TempDir(), "--server", "http://127.0.0.1:1")
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("an unpaired agent exited 0:\n%s", out)
			}
			if tc.cgo == "1" && !strings.Contains(string(out), "no NVIDIA driver found") && !strings.Contains(string(out), " NVIDIA (driver ") {
				t.Errorf("a cgo build neither found GPUs nor said why not:\n%s", out)
			}
			for _, want := range []string{tc.says, "not paired", "--pair CODE"} {
				if !strings.Contains(string(out), want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

func TestSimulatedGPUsAreAnnounced(t *testing.T) {
	bin := build(t, "0")
	out, _ := exec.Command(bin, "--data", t.TempDir(), "--sim-gpus", "RTX 4090x2").CombinedOutput()
	if !strings.Contains(string(out), "2 simulated") || !strings.Contains(string(out), "never paid") {
		t.Fatalf("output does not announce simulated GPUs:\n%s", out)
	}
	out, err := exec.Command(bin, "--data", t.TempDir(), "--sim-gpus", "RTX 9999").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--sim-gpus") {
		t.Fatalf("a bad --sim-gpus was not refused clearly (%v):\n%s", err, out)
	}
}

// `idlegrid-agent bench --json` prints a report it also keeps in the data
// dir, with real figures and a worded reason for the missing GPU.
func TestBenchCommand(t *testing.T) {
	data := t.TempDir()
	var out, errOut strings.Builder
	code := runBench([]string{"--data", data, "--json", "--only", "cpu,memory,gpu", "--budget", "100ms"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var rep bench.Report
	if err := json.Unmarshal([]byte(out.String()), &rep); err != nil {
		t.Fatalf("output is not a JSON report: %v\n%s", err, out.String())
	}
	if len(rep.Results) != 3 || rep.Results[0].CPUGFLOPS <= 0 || rep.Results[1].MemGBps <= 0 || rep.Tier != bench.TierBronze {
		t.Fatalf("report %+v", rep)
	}
	if g := rep.Results[2]; g.Kind != bench.GPU || (g.Skipped == "" && len(g.GPUs) == 0) {
		t.Fatalf("GPU result %+v: want figures or a reason", g)
	}
	hist, err := bench.History(data)
	if err != nil || len(hist) != 1 || hist[0].Score != rep.Score {
		t.Fatalf("history %v, %v", hist, err)
	}
	if code := runBench([]string{"--data", data, "--only", "warp"}, &out, &errOut); code == 0 || !strings.Contains(errOut.String(), "unknown kind") {
		t.Fatalf("an unknown kind: exit %d, %s", code, errOut.String())
	}
}
