// Package agent is the supplier agent's core, shared by the headless agent
// and the desktop app: it keeps the device key, pairs with an account, holds
// the websocket to the control plane's hub (reconnecting with jittered
// backoff), and sends heartbeats with telemetry. It has no UI; front ends
// read Status and subscribe to its changes.
package agent

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/idlegrid/idlegrid/shared/backoff"
	"github.com/idlegrid/idlegrid/shared/hw"
	"github.com/idlegrid/idlegrid/shared/proto"
	"github.com/idlegrid/idlegrid/shared/tunnel"
)

// Config wires an Agent.
type Config struct {
	DataDir   string
	ServerURL string // http(s)://host:port of the control plane; state from pairing wins
	Name      string // device name proposed at pairing; default the host name
	Version   string // agent build version
	GPU       hw.GPUProbe
	Host      hw.HostProbe
	// Monitor, when set, is the one sampler of this machine: heartbeats send
	// its latest sample instead of reading the hardware again.
	Monitor    *Monitor
	Log        *slog.Logger
	HTTPClient *http.Client
	// MinBackoff and MaxBackoff bound reconnect delays (default 1 s, 60 s).
	MinBackoff, MaxBackoff time.Duration
	Now                    func() time.Time
	// Runtime runs cluster work (Ray); nil offers none. Tunnel keeps a head
	// node reachable for its cluster's owner (shared/tunnel.Keep).
	Runtime Runtime
	Tunnel  TunnelFunc
	// Region is where this machine is, as its owner says ("eu-west").
	Region string
}

// Agent is one supplier device. Create with New, pair once, then Serve.
type Agent struct {
	cfg Config
	key ed25519.PrivateKey

	mu          sync.Mutex
	state       State
	status      Status
	subs        map[chan struct{}]struct{}
	paused      bool
	pauseReason string
	seq         uint64
	kick        chan struct{}          // asks the link to heartbeat now
	reports     chan proto.BenchReport // waiting to be sent
	wallets     chan proto.PayoutWallet
	work        *challengeWork // the last challenge computed, until opened
	clusters    *clusterWork   // nil without a runtime
}

// Connection states shown to the user.
const (
	ConnUnpaired     = "unpaired"     // no account yet: pair first
	ConnConnecting   = "connecting"   // dialling
	ConnOnline       = "online"       // handshake done, heartbeats flowing
	ConnReconnecting = "reconnecting" // link lost; next try at Status.NextTry
	ConnOutdated     = "outdated"     // protocol too old or too new: update
	ConnRemoved      = "removed"      // the device was removed or its key refused: pair again
	ConnStopped      = "stopped"
)

// Status is a snapshot for front ends.
type Status struct {
	Conn        string
	DeviceID    string
	ServerURL   string
	NextTry     time.Time // when reconnecting
	LastError   string    // in words
	Since       time.Time // when Conn last changed
	Heartbeats  uint64    // sent on this link
	Interval    time.Duration
	Paused      bool
	PauseReason string
	// Device is the control plane's view of this device (verification,
	// tier, reputation), as last sent.
	Device proto.DeviceStatus
}

// ErrNotPaired is returned by Serve before pairing.
var ErrNotPaired = errors.New("this device is not paired with an account yet: run with --pair CODE (from the console) or --enroll TOKEN")

// RemovedError means the server no longer accepts this device.
type RemovedError struct{ Reason string }

func (e *RemovedError) Error() string {
	return "the control plane refused this device (" + e.Reason + "): pair it again with a new code"
}

// New loads or creates the device key and state in cfg.DataDir.
func New(cfg Config) (*Agent, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("agent: a data directory is required")
	}
	if cfg.GPU == nil {
		cfg.GPU = hw.None("no GPU probe configured")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating agent data directory: %w", err)
	}
	key, err := loadOrCreateKey(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	st, err := loadState(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	a := &Agent{cfg: cfg, key: key, state: st, subs: map[chan struct{}]struct{}{}, kick: make(chan struct{}, 1), reports: make(chan proto.BenchReport, 1), wallets: make(chan proto.PayoutWallet, 1)}
	if cfg.Runtime != nil {
		if cfg.Tunnel == nil {
			log := cfg.Log.With("part", "tunnel")
			cfg.Tunnel = func(ctx context.Context, endpoint, token string, resolve func(string) (string, bool)) error {
				return tunnel.Keep(ctx, nil, endpoint, token, resolve, log)
			}
		}
		a.clusters = newWork(cfg.Runtime, cfg.Tunnel)
	}
	if !proto.ValidRegion(cfg.Region) {
		return nil, fmt.Errorf("region %q: use up to 32 lowercase letters, digits and dashes, like eu-west", cfg.Region)
	}
	a.status = Status{Conn: ConnUnpaired, Since: cfg.Now()}
	if st.DeviceID != "" {
		a.status = Status{Conn: ConnStopped, DeviceID: st.DeviceID, ServerURL: st.ServerURL, Since: cfg.Now()}
	}
	return a, nil
}

// PublicKey is the device's identity.
func (a *Agent) PublicKey() ed25519.PublicKey { return a.key.Public().(ed25519.PublicKey) }

// State returns the pairing state.
func (a *Agent) State() State {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.state
}

// Paired reports whether the device belongs to an account.
func (a *Agent) Paired() bool { return a.State().DeviceID != "" }

// Status returns the current snapshot.
func (a *Agent) Status() Status {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.status
}

// Subscribe returns a channel that receives a signal (coalesced) whenever
// Status changes, and a function to stop.
func (a *Agent) Subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	a.mu.Lock()
	a.subs[ch] = struct{}{}
	a.mu.Unlock()
	return ch, func() {
		a.mu.Lock()
		delete(a.subs, ch)
		a.mu.Unlock()
	}
}

func (a *Agent) setStatus(f func(s *Status)) {
	a.mu.Lock()
	before := a.status.Conn
	f(&a.status)
	if a.status.Conn != before {
		a.status.Since = a.cfg.Now()
	}
	for ch := range a.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	a.mu.Unlock()
}

// SetPaused stops or resumes offering this device for work, with the reason
// in words ("you are playing", "GPU at 86 °C"). Heartbeats go on; a change
// is sent at once, so the control plane can drain work within seconds.
func (a *Agent) SetPaused(paused bool, reason string) {
	if !paused {
		reason = ""
	}
	a.mu.Lock()
	changed := a.paused != paused || a.pauseReason != reason
	a.paused, a.pauseReason = paused, reason
	a.mu.Unlock()
	if !changed {
		return
	}
	a.setStatus(func(s *Status) { s.Paused, s.PauseReason = paused, reason })
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

// SetServerURL sets the control plane to pair with (the onboarding asks for
// it); once paired, the URL saved with the pairing is used.
func (a *Agent) SetServerURL(u string) {
	a.mu.Lock()
	a.cfg.ServerURL = strings.TrimRight(strings.TrimSpace(u), "/")
	a.mu.Unlock()
}

func (a *Agent) serverURL() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cfg.ServerURL
}

// Relocate points a paired device at a control plane that moved to
// serverURL (a new address for the same server), and saves it; the next
// link uses it. The demo fleet follows its server this way.
func (a *Agent) Relocate(serverURL string) error {
	serverURL = strings.TrimRight(strings.TrimSpace(serverURL), "/")
	if _, err := wsURL(serverURL); err != nil {
		return err
	}
	a.mu.Lock()
	st := a.state
	a.mu.Unlock()
	if st.DeviceID == "" {
		return ErrNotPaired
	}
	if st.ServerURL == serverURL {
		return nil
	}
	st.ServerURL = serverURL
	if err := saveState(a.cfg.DataDir, st); err != nil {
		return fmt.Errorf("saving the new server address: %w", err)
	}
	a.mu.Lock()
	a.state = st
	a.mu.Unlock()
	a.setStatus(func(s *Status) { s.ServerURL = serverURL })
	return nil
}

// Pair joins the account that created code (a pairing code from the
// console).
func (a *Agent) Pair(ctx context.Context, code string) error {
	return a.pair(ctx, proto.SignPairing(a.key, normalizeCode(code)), map[string]any{"code": code})
}

// Enroll joins a farm's account with a reusable enrollment token.
func (a *Agent) Enroll(ctx context.Context, token string) error {
	token = strings.TrimSpace(token)
	return a.pair(ctx, proto.SignPairing(a.key, token), map[string]any{"enroll_token": token})
}

// normalizeCode mirrors the server's canonical form (XXXX-XXXX, upper case)
// so the signature covers exactly what the server checks.
func normalizeCode(code string) string {
	var sym []rune
	for _, r := range strings.ToUpper(code) {
		if r != '-' && r != ' ' {
			sym = append(sym, r)
		}
	}
	if len(sym) == 8 {
		return string(sym[:4]) + "-" + string(sym[4:])
	}
	return strings.ToUpper(strings.TrimSpace(code))
}

func (a *Agent) pair(ctx context.Context, sig []byte, body map[string]any) error {
	server := a.serverURL()
	if _, err := wsURL(server); err != nil || server == "" {
		return fmt.Errorf("the server URL %q is not usable: give one like https://grid.example.com", server)
	}
	name := a.cfg.Name
	if name == "" {
		name, _ = os.Hostname()
	}
	body["public_key"] = []byte(a.PublicKey())
	body["signature"] = sig
	body["name"] = name
	body["simulated"] = isSimulated(a.cfg.GPU)
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	u := server + "/api/v1/agent/pair"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("pairing: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("pairing: cannot reach %s: %w", server, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		var e struct {
			Error struct{ Message string } `json:"error"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&e)
		if e.Error.Message == "" {
			e.Error.Message = resp.Status
		}
		return fmt.Errorf("pairing refused: %s", e.Error.Message)
	}
	var out struct {
		DeviceID string `json:"device_id"`
		Name     string `json:"name"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.DeviceID == "" {
		return fmt.Errorf("pairing: unreadable answer from the server: %v", err)
	}
	st := State{DeviceID: out.DeviceID, ServerURL: server, Name: out.Name, PairedAt: a.cfg.Now().UTC()}
	if err := saveState(a.cfg.DataDir, st); err != nil {
		return fmt.Errorf("saving pairing: %w", err)
	}
	a.mu.Lock()
	a.state = st
	a.mu.Unlock()
	a.setStatus(func(s *Status) { s.Conn, s.DeviceID, s.ServerURL = ConnStopped, st.DeviceID, st.ServerURL })
	a.cfg.Log.Info("paired", "device", st.DeviceID, "name", st.Name)
	return nil
}

func isSimulated(p hw.GPUProbe) bool {
	gpus := p.GPUs()
	for _, g := range gpus {
		if !g.Simulated {
			return false
		}
	}
	return len(gpus) > 0
}

// wsURL turns the server's http(s) URL into the agent endpoint's ws(s) URL.
func wsURL(server string) (string, error) {
	u, err := url.Parse(server)
	if err != nil {
		return "", fmt.Errorf("server URL %q: %w", server, err)
	}
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	case "ws", "wss":
	default:
		return "", fmt.Errorf("server URL %q must start with http:// or https://", server)
	}
	u.Path = strings.TrimRight(u.Path, "/") + "/api/v1/agent/connect"
	return u.String(), nil
}

// healthyLink is how long a link must last to count as a success for the
// reconnect backoff.
const healthyLink = 30 * time.Second

// Serve keeps the device connected until ctx ends, reconnecting with
// backoff. It returns early only for what retrying cannot fix: not paired,
// a protocol mismatch (*proto.VersionError), or the device removed
// (*RemovedError).
func (a *Agent) Serve(ctx context.Context) error {
	st := a.State()
	if st.DeviceID == "" {
		return ErrNotPaired
	}
	server := st.ServerURL
	if server == "" {
		server = a.serverURL()
	}
	endpoint, err := wsURL(server)
	if err != nil {
		return err
	}
	inv := a.inventory(ctx)
	runtimes := a.detectRuntimes(ctx)
	if a.clusters != nil {
		a.clusters.endpoint = tunnelURL(endpoint)
		a.clusters.run(ctx, a.cfg.Log.Warn)
	}
	bo := backoff.Backoff{Min: a.cfg.MinBackoff, Max: a.cfg.MaxBackoff}
	stopped := func() { a.setStatus(func(s *Status) { s.Conn = ConnStopped }) }
	for {
		a.setStatus(func(s *Status) { s.Conn = ConnConnecting })
		var welcomed time.Time
		err := a.session(ctx, endpoint, st.DeviceID, inv, runtimes, func() { welcomed = time.Now() })
		// Start the backoff over only after a link that held: a server that
		// accepts the handshake and then closes at once must not be
		// hammered every second.
		if !welcomed.IsZero() && time.Since(welcomed) >= healthyLink {
			bo.Reset()
		}
		if ctx.Err() != nil {
			stopped()
			return nil
		}
		var ve *proto.VersionError
		var re *RemovedError
		switch {
		case errors.As(err, &ve):
			a.setStatus(func(s *Status) { s.Conn, s.LastError = ConnOutdated, ve.Error() })
			return err
		case errors.As(err, &re):
			a.setStatus(func(s *Status) { s.Conn, s.LastError = ConnRemoved, re.Error() })
			return err
		}
		wait := bo.Next()
		a.cfg.Log.Warn("link to control plane lost", "err", err, "retry_in", wait.Round(time.Millisecond))
		a.setStatus(func(s *Status) {
			s.Conn, s.NextTry, s.LastError = ConnReconnecting, a.cfg.Now().Add(wait), describe(err)
		})
		if backoff.Wait(ctx, wait) != nil {
			stopped()
			return nil
		}
	}
}

func (a *Agent) inventory(ctx context.Context) proto.Inventory {
	inv := proto.Inventory{GPUs: a.cfg.GPU.GPUs(), GPUStatus: a.cfg.GPU.Status()}
	if inv.GPUs == nil {
		inv.GPUs = []hw.GPU{}
	}
	if a.cfg.Host != nil {
		info, err := a.cfg.Host.Info(ctx)
		if err != nil {
			a.cfg.Log.Warn("reading host info", "err", err)
		}
		inv.Host = info
	}
	return inv
}
