package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"time"
)

// OverheadConfig is one measurement of the headless agent's own cost.
type OverheadConfig struct {
	ServerBin, AgentBin string
	// NodeExporter, when set, is a prometheus-node-exporter binary run and
	// scraped the same way beside the agent, for comparison.
	NodeExporter string
	// Warmup passes before measuring: the agent's first minute has one-off
	// work (the server's first compute challenge).
	Warmup   time.Duration
	Duration time.Duration
}

// Usage is a process's measured cost.
type Usage struct {
	Name     string  `json:"name"`
	CPUPct   float64 `json:"cpu_pct_of_one_core"`
	RSSMiB   float64 `json:"rss_mib"` // the most seen while measuring
	Scrapes  int     `json:"scrapes"`
	Failures int     `json:"scrape_failures"`
}

// Overhead runs the real agent with two simulated GPUs against the real
// server, heartbeating every 5 s, while its /metrics is scraped every 5 s as
// Prometheus would, and measures its CPU and RSS over d from /proc; then the
// same for node_exporter when given.
func Overhead(ctx context.Context, c OverheadConfig, progress func(string, ...any)) ([]Usage, error) {
	dir, err := os.MkdirTemp("", "idlegrid-overhead-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	srv := &server{bin: c.ServerBin, dir: dir + "/server", addr: addr, interval: 5 * time.Second}
	if err := srv.start(); err != nil {
		return nil, err
	}
	defer srv.stop()
	base := "http://" + addr
	token, err := setUp(ctx, base)
	if err != nil {
		return nil, err
	}
	metrics, err := freePort()
	if err != nil {
		return nil, err
	}
	agent := exec.CommandContext(ctx, c.AgentBin, "--server", base, "--data", dir+"/agent", "--enroll", token, "--name", "overhead",
		"--sim-gpus", "RTX 4090x2", "--clusters", "off", "--metrics-listen", metrics, "--log-level", "warn")
	agent.Stdout, agent.Stderr = io.Discard, os.Stderr
	if err := agent.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w (build it with: go build -o bin/ ./cmd/idlegrid-agent)", c.AgentBin, err)
	}
	defer func() { _ = agent.Process.Kill(); _ = agent.Wait() }()
	if err := waitFor(ctx, time.Minute, func() bool { return connected(base) == 1 }); err != nil {
		return nil, fmt.Errorf("the agent did not connect: %w", err)
	}
	progress("agent connected; warming up for %s, then measuring it for %s…", c.Warmup, c.Duration)
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(c.Warmup):
	}
	u, err := measure(ctx, "idlegrid-agent (2 simulated GPUs, host sampling, 5 s heartbeats, /metrics scraped every 5 s)", agent.Process.Pid, "http://"+metrics+"/metrics", c.Duration)
	if err != nil {
		return nil, err
	}
	out := []Usage{u}
	if c.NodeExporter != "" {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		ne := exec.CommandContext(ctx, c.NodeExporter, "--web.listen-address="+port)
		ne.Stdout, ne.Stderr = io.Discard, io.Discard
		if err := ne.Start(); err != nil {
			return nil, fmt.Errorf("starting %s: %w", c.NodeExporter, err)
		}
		defer func() { _ = ne.Process.Kill(); _ = ne.Wait() }()
		if err := waitFor(ctx, 30*time.Second, func() bool { return get("http://"+port+"/metrics") == nil }); err != nil {
			return nil, fmt.Errorf("node_exporter did not answer: %w", err)
		}
		progress("measuring node_exporter for %s…", c.Duration)
		u, err := measure(ctx, "node_exporter (default collectors, scraped every 5 s)", ne.Process.Pid, "http://"+port+"/metrics", c.Duration)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, nil
}

// measure scrapes url every 5 s for d and reads pid's CPU time and RSS.
func measure(ctx context.Context, name string, pid int, url string, d time.Duration) (Usage, error) {
	u := Usage{Name: name}
	cpu0, _, err := usage(pid)
	if err != nil {
		return u, err
	}
	start := time.Now()
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	var peak int64
	for time.Since(start) < d {
		select {
		case <-ctx.Done():
			return u, ctx.Err()
		case <-tick.C:
		}
		u.Scrapes++
		if get(url) != nil {
			u.Failures++
		}
		_, rss, err := usage(pid)
		if err != nil {
			return u, err
		}
		peak = max(peak, rss)
	}
	cpu1, _, err := usage(pid)
	if err != nil {
		return u, err
	}
	u.CPUPct = 100 * (cpu1 - cpu0).Seconds() / time.Since(start).Seconds()
	u.RSSMiB = float64(peak) / (1 << 20)
	return u, nil
}

func get(url string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return nil
}
