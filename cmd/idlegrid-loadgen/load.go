package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	_ "modernc.org/sqlite"
)

// Report is what a run measured.
type Report struct {
	Agents            int     `json:"agents"`
	GPUsPerAgent      int     `json:"gpus_per_agent"`
	IntervalS         float64 `json:"heartbeat_interval_s"`
	ConnectS          float64 `json:"all_connected_after_s"`
	MeasuredS         float64 `json:"measured_s"`
	ServerCPUPct      float64 `json:"server_cpu_pct_of_machine"` // of all cores
	ServerCPUCores    float64 `json:"server_cpu_cores"`
	ServerRSSMiB      float64 `json:"server_rss_mib"`
	SamplesPerS       float64 `json:"gpu_samples_stored_per_s"`
	HeartbeatsSent    int64   `json:"heartbeats_sent"`
	StoredP50MS       float64 `json:"heartbeat_to_stored_p50_ms"`
	StoredP99MS       float64 `json:"heartbeat_to_stored_p99_ms"`
	Probed            int     `json:"heartbeats_probed"`
	APIRate           float64 `json:"api_reads_per_s,omitempty"`
	APIP50MS          float64 `json:"api_read_p50_ms,omitempty"`
	APIP99MS          float64 `json:"api_read_p99_ms,omitempty"`
	APIErrors         int64   `json:"api_read_errors,omitempty"`
	ReconnectS        float64 `json:"reconnect_after_restart_s,omitempty"`
	ReconnectedAgents int     `json:"reconnected_agents,omitempty"`
	DisconnectedAtEnd int64   `json:"links_lost_during_measure"`
}

// Print writes the report for people.
func (r Report) Print(w io.Writer) {
	fmt.Fprintf(w, "agents %d × %d GPUs, heartbeats every %.1fs; all connected after %.1fs; measured %.0fs\n", r.Agents, r.GPUsPerAgent, r.IntervalS, r.ConnectS, r.MeasuredS)
	fmt.Fprintf(w, "server: %.1f%% of the machine (%.2f cores), RSS %.0f MiB\n", r.ServerCPUPct, r.ServerCPUCores, r.ServerRSSMiB)
	fmt.Fprintf(w, "stored: %.0f GPU samples/s; heartbeat to stored p50 %.0f ms, p99 %.0f ms (%d probed)\n", r.SamplesPerS, r.StoredP50MS, r.StoredP99MS, r.Probed)
	fmt.Fprintf(w, "links lost while measuring: %d\n", r.DisconnectedAtEnd)
	if r.APIRate > 0 {
		fmt.Fprintf(w, "API single-object reads: %.0f/s, p50 %.1f ms, p99 %.1f ms, %d errors\n", r.APIRate, r.APIP50MS, r.APIP99MS, r.APIErrors)
	}
	if r.ReconnectedAgents > 0 {
		fmt.Fprintf(w, "after a server restart: %d agents back in %.1fs\n", r.ReconnectedAgents, r.ReconnectS)
	}
}

// server is the control plane under test.
type server struct {
	bin, dir, addr string
	interval       time.Duration
	debugListen    string
	cmd            *exec.Cmd
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func (s *server) start() error {
	s.cmd = exec.Command(s.bin, "--listen", s.addr, "--data", s.dir, "--heartbeat-interval", s.interval.String(),
		"--offline-after", (6 * s.interval).String(), "--log-level", "warn")
	if s.debugListen != "" {
		s.cmd.Args = append(s.cmd.Args, "--debug-listen", s.debugListen)
	}
	s.cmd.Stdout, s.cmd.Stderr = io.Discard, os.Stderr
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w (build it with: go build -o bin/ ./cmd/idlegrid-server)", s.bin, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get("http://" + s.addr + "/healthz"); err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("the server did not answer /healthz within 30 s")
}

func (s *server) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
}

// usage reads the process's CPU time and RSS from /proc.
func usage(pid int) (cpu time.Duration, rssBytes int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	rss, _ := strconv.ParseInt(f[21], 10, 64)
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticks, rss * int64(os.Getpagesize()), nil
}

// Run carries out one load run.
func Run(ctx context.Context, c Config, progress func(string, ...any)) (Report, error) {
	rep := Report{Agents: c.Agents, GPUsPerAgent: c.GPUs, IntervalS: c.Interval.Seconds()}
	dir := c.DataDir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "idlegrid-load-"); err != nil {
			return rep, err
		}
		defer os.RemoveAll(dir)
	}
	addr, err := freePort()
	if err != nil {
		return rep, err
	}
	srv := &server{bin: c.ServerBin, dir: dir, addr: addr, interval: c.Interval, debugListen: c.DebugListen}
	if err := srv.start(); err != nil {
		return rep, err
	}
	defer srv.stop()
	base := "http://" + addr
	token, err := setUp(ctx, base)
	if err != nil {
		return rep, err
	}
	progress("enrolling %d agents in %d worker processes…", c.Agents, workerCount(c))
	fl, err := startWorkers(ctx, c, base, token)
	if err != nil {
		return rep, err
	}
	defer fl.stop()
	started := time.Now()
	if err := fl.connect(); err != nil {
		return rep, err
	}
	progress("connecting over %s…", c.Ramp)
	if err := waitFor(ctx, c.Ramp+2*time.Minute, func() bool { return fl.online() == int64(c.Agents) }); err != nil {
		return rep, fmt.Errorf("only %d of %d agents connected: %w", fl.online(), c.Agents, err)
	}
	rep.ConnectS = time.Since(started).Seconds()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "idlegrid.db")+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		return rep, err
	}
	defer db.Close()
	countSamples := func() (int64, error) {
		var n int64
		err := db.QueryRowContext(ctx, `SELECT coalesce(sum(json_array_length(gpus)), 0) FROM telemetry_host`).Scan(&n)
		return n, err
	}
	// Let the ramp's heartbeats settle, then measure.
	time.Sleep(c.Interval)
	progress("measuring for %s…", c.Duration)
	n0, err := countSamples()
	if err != nil {
		return rep, err
	}
	cpu0, _, err := usage(srv.cmd.Process.Pid)
	if err != nil {
		return rep, err
	}
	var readers []string
	if c.APIRate > 0 {
		// 15 requests/s per account stays inside the default budget of 20.
		if readers, err = accounts(ctx, base, (c.APIRate+14)/15); err != nil {
			return rep, err
		}
	}
	t0 := time.Now()
	sent0, lost0 := fl.sent(), fl.lost()
	fl.measuring.Store(true)
	apiDone := make(chan apiResult, 1)
	if c.APIRate > 0 {
		go func() { apiDone <- readLoad(ctx, base, readers, c.APIRate, c.Duration) }()
	}
	lat := probeLatencies(ctx, db, fl.sends, c.Duration)
	if c.APIRate > 0 {
		r := <-apiDone
		rep.APIRate, rep.APIErrors = float64(len(r.lat))/c.Duration.Seconds(), r.errors
		if len(r.lat) > 0 {
			slices.Sort(r.lat)
			rep.APIP50MS = float64(r.lat[len(r.lat)/2].Microseconds()) / 1000
			rep.APIP99MS = float64(r.lat[len(r.lat)*99/100].Microseconds()) / 1000
		}
	}
	fl.measuring.Store(false)
	elapsed := time.Since(t0)
	cpu1, rss, err := usage(srv.cmd.Process.Pid)
	if err != nil {
		return rep, err
	}
	n1, err := countSamples()
	if err != nil {
		return rep, err
	}
	rep.MeasuredS = elapsed.Seconds()
	rep.ServerCPUCores = (cpu1 - cpu0).Seconds() / elapsed.Seconds()
	rep.ServerCPUPct = 100 * rep.ServerCPUCores / float64(cpus())
	rep.ServerRSSMiB = float64(rss) / (1 << 20)
	rep.SamplesPerS = float64(n1-n0) / elapsed.Seconds()
	rep.HeartbeatsSent = fl.sent() - sent0
	rep.DisconnectedAtEnd = fl.lost() - lost0
	rep.Probed = len(lat)
	if len(lat) > 0 {
		slices.Sort(lat)
		rep.StoredP50MS = float64(lat[len(lat)/2].Microseconds()) / 1000
		rep.StoredP99MS = float64(lat[int(math.Min(float64(len(lat)-1), float64(len(lat))*0.99))].Microseconds()) / 1000
	}
	if c.Restart {
		progress("restarting the server…")
		srv.stop()
		restarted := time.Now()
		if err := srv.start(); err != nil {
			return rep, err
		}
		if err := waitFor(ctx, 5*time.Minute, func() bool { return connected(base) == c.Agents }); err != nil {
			rep.ReconnectedAgents = connected(base)
			return rep, fmt.Errorf("after the restart only %d of %d agents came back: %w", rep.ReconnectedAgents, c.Agents, err)
		}
		rep.ReconnectS, rep.ReconnectedAgents = time.Since(restarted).Seconds(), c.Agents
	}
	return rep, nil
}

// probeLatencies times probe heartbeats from send until their row is in
// the store, for d.
func probeLatencies(ctx context.Context, db *sql.DB, sends <-chan probeSend, d time.Duration) []time.Duration {
	var mu sync.Mutex
	var out []time.Duration
	var wg sync.WaitGroup
	end := time.After(d)
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return out
		case <-end:
			wg.Wait()
			return out
		case s := <-sends:
			wg.Go(func() {
				for time.Since(s.At) < 30*time.Second {
					var one int
					err := db.QueryRowContext(ctx, `SELECT 1 FROM telemetry_host WHERE device_id = ? AND seq = ?`, s.Device, s.Seq).Scan(&one)
					if err == nil {
						mu.Lock()
						out = append(out, time.Since(s.At))
						mu.Unlock()
						return
					}
					time.Sleep(10 * time.Millisecond)
				}
				mu.Lock()
				out = append(out, 30*time.Second) // never stored in time: counts as the worst
				mu.Unlock()
			})
		}
	}
}

func connected(base string) int {
	resp, err := http.Get(base + "/healthz")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var h struct {
		Agents int `json:"agents_connected"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&h)
	return h.Agents
}

func waitFor(ctx context.Context, limit time.Duration, cond func() bool) error {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %s", limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

// setUp makes the fleet's account and its enrollment token.
func setUp(ctx context.Context, base string) (string, error) {
	post := func(path, token string, body any, out any) error {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequestWithContext(ctx, "POST", base+path, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			msg, _ := io.ReadAll(resp.Body)
			return fmt.Errorf("%s: %s %s", path, resp.Status, msg)
		}
		return json.NewDecoder(resp.Body).Decode(out)
	}
	var s struct {
		Session string `json:"session_token"`
	}
	if err := post("/api/v1/auth/signup", "", map[string]string{"email": "load@example.com", "password": "correct horse battery"}, &s); err != nil {
		return "", err
	}
	var tok struct {
		Token string `json:"token"`
	}
	if err := post("/api/v1/enrollment-tokens", s.Session, map[string]any{"name": "load", "valid_hours": 24}, &tok); err != nil {
		return "", err
	}
	return tok.Token, nil
}

func cpus() int { return runtime.NumCPU() }

// accounts signs up n accounts and returns their session tokens.
func accounts(ctx context.Context, base string, n int) ([]string, error) {
	out := make([]string, n)
	for i := range out {
		b, _ := json.Marshal(map[string]string{"email": fmt.Sprintf("reader%d@example.com", i), "password": "correct horse battery"})
		req, _ := http.NewRequestWithContext(ctx, "POST", base+"/api/v1/auth/signup", bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		var s struct {
			Session string `json:"session_token"`
		}
		err = json.NewDecoder(resp.Body).Decode(&s)
		resp.Body.Close()
		if err != nil || s.Session == "" {
			return nil, fmt.Errorf("signing up reader %d: %s %v", i, resp.Status, err)
		}
		out[i] = s.Session
	}
	return out, nil
}

type apiResult struct {
	lat    []time.Duration
	errors int64
}

// readLoad reads GET /api/v1/me at rate requests/s for d, round-robin over
// the accounts, each request on its own schedule (open loop: a slow answer
// does not slow the offered load).
func readLoad(ctx context.Context, base string, tokens []string, rate int, d time.Duration) apiResult {
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	var mu sync.Mutex
	var res apiResult
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	end := time.After(d)
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			wg.Wait()
			return res
		case <-end:
			wg.Wait()
			return res
		case <-tick.C:
		}
		tok := tokens[i%len(tokens)]
		wg.Go(func() {
			req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/v1/me", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			start := time.Now()
			resp, err := client.Do(req)
			took := time.Since(start)
			ok := err == nil && resp.StatusCode == http.StatusOK
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			mu.Lock()
			if ok {
				res.lat = append(res.lat, took)
			} else {
				res.errors++
			}
			mu.Unlock()
		})
	}
}
