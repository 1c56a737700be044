// Package supplier is the supplier app's core, behind any front end: it
// owns the agent (connection), the monitor (live telemetry), the guard
// (when the PC may work) and the settings, and offers what the screens
// show as plain values. The desktop app renders it; it never imports Fyne.
package supplier

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/idlegrid/idlegrid/shared/agent"
	"github.com/idlegrid/idlegrid/shared/bench"
	"github.com/idlegrid/idlegrid/shared/guard"
	"github.com/idlegrid/idlegrid/shared/hw"
	"github.com/idlegrid/idlegrid/shared/idle"
	"github.com/idlegrid/idlegrid/shared/proto"
	"github.com/idlegrid/idlegrid/shared/wallet"
)

// Config wires a Supplier.
type Config struct {
	DataDir       string
	DefaultServer string // prefilled in onboarding
	Version       string
	GPU           hw.GPUProbe
	Host          hw.HostProbe
	Idle          idle.Source
	Prefs         Prefs
	Log           *slog.Logger
	HTTPClient    *http.Client
	SampleEvery   time.Duration // monitor period; default 1 s
	GuardEvery    time.Duration // guard period; default 1 s
	Now           func() time.Time
	// MinBackoff/MaxBackoff bound reconnect delays (tests shorten them).
	MinBackoff, MaxBackoff time.Duration
	// Bench tunes benchmark runs (sizes and budgets; tests shrink them).
	// DataDir and ServerURL are filled in from the supplier's own.
	Bench bench.Options
	// Runtime runs the cluster work this PC is given (Ray); nil: none.
	Runtime agent.Runtime
}

// Supplier is the running app core.
type Supplier struct {
	cfg     Config
	Agent   *agent.Agent
	Monitor *agent.Monitor
	Guard   *guard.Guard

	mu       sync.Mutex
	host     *hw.HostInfo // read once, on first use
	settings Settings
	decision guard.Decision
	subs     map[chan struct{}]struct{}
	paired   chan struct{} // signalled when pairing completes
}

// New loads settings and builds the parts; nothing runs until Serve.
func New(cfg Config) (*Supplier, error) {
	if cfg.Prefs == nil {
		cfg.Prefs = &MemPrefs{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.GPU == nil {
		cfg.GPU = hw.None("no GPU probe configured")
	}
	settings := LoadSettings(cfg.Prefs, cfg.DefaultServer)
	mon := &agent.Monitor{GPU: cfg.GPU, Host: cfg.Host, Every: cfg.SampleEvery, Now: cfg.Now}
	a, err := agent.New(agent.Config{
		DataDir: cfg.DataDir, ServerURL: settings.ServerURL, Version: cfg.Version,
		GPU: cfg.GPU, Host: cfg.Host, Monitor: mon, Log: cfg.Log, HTTPClient: cfg.HTTPClient,
		MinBackoff: cfg.MinBackoff, MaxBackoff: cfg.MaxBackoff, Now: cfg.Now, Runtime: cfg.Runtime,
	})
	if err != nil {
		return nil, err
	}
	s := &Supplier{cfg: cfg, Agent: a, Monitor: mon, settings: settings, subs: map[chan struct{}]struct{}{}, paired: make(chan struct{}, 1)}
	g := &guard.Guard{
		Sample: func() (time.Time, []hw.GPUSample) {
			smp, ok := mon.Latest()
			if !ok {
				return cfg.Now(), nil
			}
			return smp.At, smp.GPUs
		},
		Idle:     cfg.Idle,
		Every:    cfg.GuardEvery,
		OnChange: s.onDecision,
	}
	if pl, ok := cfg.GPU.(hw.ProcessLister); ok {
		g.Processes = pl
	}
	if pl, ok := cfg.GPU.(hw.PowerLimiter); ok {
		g.PowerLimit = pl
	}
	g.SetLimits(settings.Limits)
	g.SetUserPaused(settings.Paused)
	s.Guard = g
	return s, nil
}

// onDecision pauses or resumes the agent as the guard decides.
func (s *Supplier) onDecision(d guard.Decision) {
	s.mu.Lock()
	s.decision = d
	s.mu.Unlock()
	s.Agent.SetPaused(!d.Supply, d.Reason())
	s.notify()
}

// Serve runs the monitor, the guard and, once paired, the link, until ctx
// ends.
func (s *Supplier) Serve(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.Monitor.Serve(ctx) })
	g.Go(func() error { return s.Guard.Serve(ctx) })
	g.Go(func() error { return s.forward(ctx) })
	g.Go(func() error { return s.link(ctx) })
	return g.Wait()
}

// link runs the agent whenever the device is paired; after a refusal it
// waits for a new pairing.
func (s *Supplier) link(ctx context.Context) error {
	for {
		if s.Agent.Paired() {
			// Resend the newest report: the control plane keeps one copy
			// per measurement, and may have missed it while offline.
			if hist, err := bench.History(s.cfg.DataDir); err == nil && len(hist) > 0 {
				s.Agent.SendBenchReport(proto.BenchReportOf(hist[0]))
			}
			if w := s.Settings().Wallet; w != "" {
				s.Agent.SendWallet(w) // taken only if the account has none yet
			}
			err := s.Agent.Serve(ctx)
			if ctx.Err() != nil {
				return nil
			}
			s.cfg.Log.Warn("link ended", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.paired:
		}
	}
}

// forward passes agent and monitor changes on to subscribers.
func (s *Supplier) forward(ctx context.Context) error {
	as, stopA := s.Agent.Subscribe()
	defer stopA()
	ms, stopM := s.Monitor.Subscribe()
	defer stopM()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-as:
		case <-ms:
		}
		s.notify()
	}
}

// Subscribe signals (coalesced) whenever anything shown may have changed.
func (s *Supplier) Subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	s.mu.Lock()
	s.subs[ch] = struct{}{}
	s.mu.Unlock()
	return ch, func() {
		s.mu.Lock()
		delete(s.subs, ch)
		s.mu.Unlock()
	}
}

func (s *Supplier) notify() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ch := range s.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// Settings returns the current settings.
func (s *Supplier) Settings() Settings {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.settings
}

// SaveSettings validates and stores settings, applying the limits at once.
func (s *Supplier) SaveSettings(n Settings) error {
	if err := n.Limits.Validate(); err != nil {
		return err
	}
	if n.PricePerKWh < 0 || n.PricePerKWh > 10 {
		return errors.New("the electricity price must be between 0 and 10 per kWh")
	}
	if n.Wallet != "" {
		if _, err := wallet.Parse(n.Wallet); err != nil {
			return err
		}
	}
	s.mu.Lock()
	s.settings = n
	s.mu.Unlock()
	saveSettings(s.cfg.Prefs, n)
	s.Guard.SetLimits(n.Limits)
	s.Guard.SetUserPaused(n.Paused)
	s.notify()
	return nil
}

func (s *Supplier) update(f func(*Settings)) error {
	n := s.Settings()
	f(&n)
	return s.SaveSettings(n)
}

// SetPaused is the pause/resume switch; it takes effect within a second.
func (s *Supplier) SetPaused(p bool) error {
	err := s.update(func(n *Settings) { n.Paused = p })
	s.Guard.Check(context.Background())
	return err
}

// SetWallet validates and stores the payout address ("" clears it).
func (s *Supplier) SetWallet(addr string) error {
	addr = strings.TrimSpace(addr)
	if addr != "" {
		a, err := wallet.Parse(addr)
		if err != nil {
			return err
		}
		addr = string(a)
	}
	if err := s.update(func(n *Settings) { n.Wallet = addr }); err != nil {
		return err
	}
	if addr != "" {
		s.Agent.SendWallet(addr)
	}
	return nil
}

// FinishOnboarding marks the first-run flow done.
func (s *Supplier) FinishOnboarding() error {
	return s.update(func(n *Settings) { n.Onboarded = true })
}

// HostInfo describes the host (read once; zero if it can't be read).
func (s *Supplier) HostInfo() hw.HostInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.host == nil {
		var info hw.HostInfo
		if s.cfg.Host != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			info, _ = s.cfg.Host.Info(ctx)
			cancel()
		}
		s.host = &info
	}
	return *s.host
}

// Decision is the guard's latest verdict.
func (s *Supplier) Decision() guard.Decision {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.decision
}

// PairWithCode pairs this device using a code from the console.
func (s *Supplier) PairWithCode(ctx context.Context, server, code string) error {
	if err := s.setServer(server); err != nil {
		return err
	}
	if err := s.Agent.Pair(ctx, code); err != nil {
		return err
	}
	s.pairedNow()
	return nil
}

// SignInAndPair signs in with the account's email and password, asks the
// control plane for a pairing code and pairs with it. The password is used
// once and never stored.
func (s *Supplier) SignInAndPair(ctx context.Context, server, email, password string) error {
	if err := s.setServer(server); err != nil {
		return err
	}
	server = s.Settings().ServerURL
	var sess struct {
		SessionToken string `json:"session_token"`
	}
	if err := s.call(ctx, "POST", server+"/api/v1/auth/login", "", map[string]string{"email": email, "password": password}, &sess); err != nil {
		return fmt.Errorf("signing in: %w", err)
	}
	var pc struct {
		Code string `json:"code"`
	}
	if err := s.call(ctx, "POST", server+"/api/v1/pairing-codes", sess.SessionToken, nil, &pc); err != nil {
		return fmt.Errorf("getting a pairing code: %w", err)
	}
	// The session was only for this; end it so no token lingers.
	_ = s.call(ctx, "POST", server+"/api/v1/auth/logout", sess.SessionToken, nil, nil)
	if err := s.Agent.Pair(ctx, pc.Code); err != nil {
		return err
	}
	s.pairedNow()
	return nil
}

func (s *Supplier) pairedNow() {
	select {
	case s.paired <- struct{}{}:
	default:
	}
	s.notify()
}

func (s *Supplier) setServer(server string) error {
	server = strings.TrimRight(strings.TrimSpace(server), "/")
	if !strings.HasPrefix(server, "http://") && !strings.HasPrefix(server, "https://") {
		return fmt.Errorf("the server URL must start with https:// (or http:// for a local test server)")
	}
	s.Agent.SetServerURL(server)
	return s.update(func(n *Settings) { n.ServerURL = server })
}

// call does one JSON API request; the error carries the server's message.
func (s *Supplier) call(ctx context.Context, method, url, token string, body, out any) error {
	var rd *bytes.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the server: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		var e struct {
			Error struct{ Message string } `json:"error"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&e)
		if e.Error.Message == "" {
			e.Error.Message = resp.Status
		}
		return errors.New(e.Error.Message)
	}
	if out != nil {
		return json.NewDecoder(resp.Body).Decode(out)
	}
	return nil
}

// ConnectionText says how the link is, in words for the dashboard.
func ConnectionText(st agent.Status, now time.Time) string {
	switch st.Conn {
	case agent.ConnOnline:
		return "Online"
	case agent.ConnConnecting:
		return "Connecting…"
	case agent.ConnReconnecting:
		wait := max(0, int(st.NextTry.Sub(now).Round(time.Second)/time.Second))
		return fmt.Sprintf("Reconnecting (next try in %d s)", wait)
	case agent.ConnOutdated:
		return "This app is too old for the server: update Idlegrid"
	case agent.ConnRemoved:
		return "This PC was removed from your account: pair it again"
	case agent.ConnUnpaired:
		return "Not connected to an account yet"
	}
	return "Stopped"
}

// IsVersionError reports whether err means the app must be updated.
func IsVersionError(err error) bool {
	var ve *proto.VersionError
	return errors.As(err, &ve)
}
