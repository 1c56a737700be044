package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// The harness starts this binary again as its worker processes.
func TestMain(m *testing.M) {
	if os.Getenv(workerEnv) == "1" {
		os.Exit(worker(context.Background(), os.Stdin, os.Stdout))
	}
	os.Exit(m.Run())
}

// A small run of the real harness against the real server binary, its
// agents spread over three worker processes: every
// agent connects, what they send is stored, the timings are measured, and
// all come back after a restart. Keeps the harness working between the
// big runs reported in docs/PERFORMANCE.md.
func TestSmallLoadRun(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "idlegrid-server")
	build := exec.Command("go", "build", "-o", bin, "../idlegrid-server")
	build.Env = append(build.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the server: %v\n%s", err, out)
	}
	c := Config{ServerBin: bin, Agents: 50, GPUs: 2, Interval: 300 * time.Millisecond, Duration: 3 * time.Second, Ramp: time.Second, Probes: 10, Restart: true, APIRate: 50,
		PerWorker: 20} // three worker processes, as a big run has
	rep, err := Run(t.Context(), c, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	want := float64(c.Agents*c.GPUs) / c.Interval.Seconds()
	switch {
	case rep.SamplesPerS < 0.7*want || rep.SamplesPerS > 1.3*want:
		t.Errorf("stored %.0f GPU samples/s, want about %.0f", rep.SamplesPerS, want)
	case rep.Probed == 0 || rep.StoredP99MS <= 0 || rep.StoredP99MS > 5000:
		t.Errorf("heartbeat to stored: %d probed, p99 %.0f ms", rep.Probed, rep.StoredP99MS)
	case rep.ServerRSSMiB <= 0 || rep.ServerCPUCores <= 0:
		t.Errorf("server usage not measured: %+v", rep)
	case rep.ReconnectedAgents != c.Agents:
		t.Errorf("%d of %d agents back after the restart", rep.ReconnectedAgents, c.Agents)
	case rep.DisconnectedAtEnd != 0:
		t.Errorf("%d links lost while measuring", rep.DisconnectedAtEnd)
	case rep.APIRate < 25 || rep.APIErrors != 0 || rep.APIP99MS <= 0:
		t.Errorf("API reads: %.0f/s, %d errors, p99 %.1f ms", rep.APIRate, rep.APIErrors, rep.APIP99MS)
	}
	t.Logf("%+v", rep)
}

// The agent-overhead mode runs the real agent binary against the real
// server and measures it from /proc while scraping its /metrics.
func TestAgentOverheadIsMeasured(t *testing.T) {
	dir := t.TempDir()
	for _, b := range []struct{ out, pkg, cgo string }{{"idlegrid-server", "../idlegrid-server", "0"}, {"idlegrid-agent", "../idlegrid-agent", "0"}} {
		build := exec.Command("go", "build", "-o", filepath.Join(dir, b.out), b.pkg)
		build.Env = append(build.Environ(), "CGO_ENABLED="+b.cgo)
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("building %s: %v\n%s", b.out, err, out)
		}
	}
	us, err := Overhead(t.Context(), OverheadConfig{ServerBin: filepath.Join(dir, "idlegrid-server"), AgentBin: filepath.Join(dir, "idlegrid-agent"), Warmup: 2 * time.Second, Duration: 11 * time.Second}, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	if len(us) != 1 {
		t.Fatalf("measured %d processes, want the agent only", len(us))
	}
	u := us[0]
	if u.Scrapes < 2 || u.Failures != 0 || u.RSSMiB <= 1 || u.CPUPct <= 0 {
		t.Fatalf("agent usage not measured: %+v", u)
	}
	t.Logf("%+v", u)
}
