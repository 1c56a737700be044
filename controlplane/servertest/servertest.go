// Package servertest starts the real control plane in-process for tests:
// sqlite in a temp dir, a real listener on loopback, real websockets. It
// can stop and restart the server on the same address so agents reconnect
// on their own, and it makes test agents that speak the real protocol.
package servertest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/idlegrid/idlegrid/controlplane/api"
	"github.com/idlegrid/idlegrid/controlplane/demo"
	"github.com/idlegrid/idlegrid/controlplane/server"
	"github.com/idlegrid/idlegrid/shared/agent"
	"github.com/idlegrid/idlegrid/shared/hw"
	simrt "github.com/idlegrid/idlegrid/shared/runtime/sim"
)

// Server is a running control plane.
type Server struct {
	t    testing.TB
	Cfg  server.Config
	URL  string
	Addr string
	Srv  *server.Server
	Log  *slog.Logger

	cancel context.CancelFunc
	done   chan error

	logs        *testWriter
	simMu       sync.Mutex
	simNet      *simrt.Network
	simRuntimes map[string]*simrt.Runtime
}

// FastConfig has short intervals so liveness tests take seconds.
func FastConfig(dir string) server.Config {
	c := server.Defaults()
	c.Listen = "127.0.0.1:0"
	c.DataDir = dir
	c.HeartbeatInterval = 100 * time.Millisecond
	c.OfflineAfter = 1500 * time.Millisecond
	c.LogLevel = "warn"
	c.RateLimit = api.RateLimit{Burst: 10000, Every: time.Millisecond, UserPerSecond: 1e6, UserBurst: 1e6} // tests sign up and pair a lot from one address
	c.ChallengeSize = 64                                                                                   // a challenge in milliseconds
	c.Cluster.Tick, c.Cluster.ResendEvery = 100*time.Millisecond, time.Second
	c.Cluster.MissingAfter, c.Cluster.DrainGrace, c.Cluster.StopTimeout = 3*time.Second, time.Second, 5*time.Second
	c.Cluster.ProvisionTimeout, c.Cluster.RestartGrace = 30*time.Second, 3*time.Second
	c.Notify.Every, c.Notify.RetryBase, c.Notify.AllowPrivate = 200*time.Millisecond, 200*time.Millisecond, true // webhooks on loopback
	return c
}

// Start runs a server with cfg (FastConfig in a temp dir when nil) and stops
// it when the test ends.
func Start(t testing.TB, cfg *server.Config) *Server {
	t.Helper()
	c := FastConfig(t.TempDir())
	if cfg != nil {
		c = *cfg
	}
	s := &Server{t: t, Cfg: c, logs: newTestWriter(t)}
	s.Log = slog.New(slog.NewTextHandler(s.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s.start(c.Listen)
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) start(addr string) {
	s.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, s.Cfg, s.Log)
	if err != nil {
		cancel()
		s.t.Fatalf("starting server: %v", err)
	}
	var ln net.Listener
	deadline := time.Now().Add(5 * time.Second)
	for {
		ln, err = net.Listen("tcp", addr)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond) // the old listener's port is being released
	}
	if err != nil {
		cancel()
		srv.Close()
		s.t.Fatalf("listening on %s: %v", addr, err)
	}
	s.Srv, s.Addr, s.URL = srv, ln.Addr().String(), "http://"+ln.Addr().String()
	s.cancel, s.done = cancel, make(chan error, 1)
	ready := make(chan struct{})
	go func() {
		err := srv.Serve(ctx, ln, func(string, *demo.Login) { close(ready) })
		s.done <- err
	}()
	select {
	case <-ready:
	case err := <-s.done:
		s.t.Fatalf("server stopped at start: %v", err)
	}
}

// Stop shuts the server down gracefully and closes its database. Safe to
// call twice.
func (s *Server) Stop() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	if err := <-s.done; err != nil {
		s.t.Errorf("server stopped with: %v", err)
	}
	if err := s.Srv.Close(); err != nil {
		s.t.Errorf("closing store: %v", err)
	}
	s.cancel = nil
}

// Restart stops the server and starts it again on the same address and data.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.start(s.Addr)
}

// TestLogger logs to the test's output (shown on failure or with -v) and
// goes quiet once the test is over.
func TestLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(newTestWriter(t), &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func newTestWriter(t testing.TB) *testWriter {
	w := &testWriter{w: t.Output()}
	t.Cleanup(w.close)
	return w
}

type testWriter struct {
	mu     sync.Mutex
	w      io.Writer
	all    bytes.Buffer // everything logged, for tests that read the logs
	closed bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.all.Write(p)
	if w.closed {
		return len(p), nil
	}
	return w.w.Write(p)
}

// Logs is every line logged so far by the server and the agents made with
// NewAgent, at debug level and up.
func (s *Server) Logs() string {
	s.logs.mu.Lock()
	defer s.logs.mu.Unlock()
	return s.logs.all.String()
}

func (w *testWriter) close() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
}

// Client calls the JSON API as one account.
type Client struct {
	t     testing.TB
	base  string
	Token string // session token or API key; empty for anonymous
	Email string
	// Header is sent with every request (e.g. Idempotency-Key).
	Header http.Header
	http   *http.Client
}

// Anonymous returns a client without credentials.
func (s *Server) Anonymous() *Client {
	return &Client{t: s.t, base: s.URL, http: &http.Client{Timeout: 10 * time.Second}}
}

// SignUp creates an account and returns a client signed in as it.
func (s *Server) SignUp(email string) *Client {
	s.t.Helper()
	c := s.Anonymous()
	var out struct {
		SessionToken string `json:"session_token"`
	}
	if st := c.Do("POST", "/api/v1/auth/signup", map[string]string{"email": email, "password": "correct horse battery"}, &out); st != http.StatusCreated {
		s.t.Fatalf("sign up %s: status %d", email, st)
	}
	c.Token, c.Email = out.SessionToken, email
	return c
}

// Do sends a JSON request and decodes a JSON answer into out (if not nil),
// returning the status.
func (c *Client) Do(method, path string, body, out any) int {
	c.t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.t.Fatalf("encoding body: %v", err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, r)
	if err != nil {
		c.t.Fatalf("building request: %v", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	for k, vs := range c.Header {
		req.Header[k] = vs
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	if out != nil {
		b, _ := io.ReadAll(resp.Body)
		if len(b) > 0 {
			if err := json.Unmarshal(b, out); err != nil {
				c.t.Fatalf("%s %s: decoding %q: %v", method, path, b, err)
			}
		}
	}
	return resp.StatusCode
}

// PairingCode creates a pairing code for the client's account.
func (c *Client) PairingCode() string {
	c.t.Helper()
	var out struct{ Code string }
	if st := c.Do("POST", "/api/v1/pairing-codes", nil, &out); st != http.StatusCreated {
		c.t.Fatalf("creating pairing code: status %d", st)
	}
	return out.Code
}

// Device is a device as the API returns it (the fields tests look at).
type Device struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	State     string `json:"state"`
	Connected bool   `json:"connected"`
	Simulated bool   `json:"simulated"`
	GPUs      []struct {
		Name        string `json:"name"`
		MemoryTotal uint64 `json:"memory_total"`
	} `json:"gpus"`
}

// Devices lists the client's devices.
func (c *Client) Devices() []Device {
	c.t.Helper()
	var out struct{ Devices []Device }
	if st := c.Do("GET", "/api/v1/devices", nil, &out); st != http.StatusOK {
		c.t.Fatalf("listing devices: status %d", st)
	}
	return out.Devices
}

// NewAgent makes an agent with simulated GPUs (spec like "RTX 4090x2") and
// its own data dir, pointed at the server; it is not paired yet.
func (s *Server) NewAgent(name, spec string) *agent.Agent {
	s.t.Helper()
	return s.NewAgentWith(name, spec, s.SimRuntime(name))
}

// NewAgentWith is NewAgent with a cluster runtime of the test's choosing
// (a real Ray, say).
func (s *Server) NewAgentWith(name, spec string, rt agent.Runtime) *agent.Agent {
	s.t.Helper()
	models, err := hw.ParseSimSpec(spec)
	if err != nil {
		s.t.Fatalf("sim spec: %v", err)
	}
	a, err := agent.New(agent.Config{
		DataDir: s.t.TempDir(), ServerURL: s.URL, Name: name, Version: "test",
		GPU: hw.NewSim(models, int64(len(name)), nil), Log: s.Log.With("agent", name),
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond,
		Runtime: rt,
	})
	if err != nil {
		s.t.Fatalf("new agent: %v", err)
	}
	return a
}

// SimRuntime is a simulated cluster runtime on the server's simulated LAN,
// remembered by name so a test can make its node fail.
func (s *Server) SimRuntime(name string) *simrt.Runtime {
	s.simMu.Lock()
	defer s.simMu.Unlock()
	if s.simNet == nil {
		s.simNet, s.simRuntimes = simrt.NewNetwork(), map[string]*simrt.Runtime{}
	}
	if r := s.simRuntimes[name]; r != nil {
		return r
	}
	r := s.simNet.Runtime(50 * time.Millisecond)
	s.simRuntimes[name] = r
	return r
}

// RunAgent serves a until the returned stop is called (or the test ends),
// returning Serve's result through the channel.
func RunAgent(t testing.TB, a *agent.Agent) (stop func(), done <-chan error) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan error, 1)
	finished := make(chan struct{})
	go func() {
		ch <- a.Serve(ctx)
		close(finished)
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-finished:
			case <-time.After(10 * time.Second):
				t.Errorf("agent did not stop within 10s")
			}
		})
	}
	t.Cleanup(stop)
	return stop, ch
}

// Eventually polls cond every 20 ms until it holds or timeout passes.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: still not %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
