// Package server wires the control plane: store, hub, account service, API,
// console and the demo fleet, behind one http.Handler and one Serve loop.
// cmd/idlegrid-server and the test harness both use it.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"path/filepath"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/idlegrid/idlegrid/controlplane/account"
	"github.com/idlegrid/idlegrid/controlplane/api"
	"github.com/idlegrid/idlegrid/controlplane/cluster"
	"github.com/idlegrid/idlegrid/controlplane/demo"
	"github.com/idlegrid/idlegrid/controlplane/hub"
	"github.com/idlegrid/idlegrid/controlplane/ledger"
	"github.com/idlegrid/idlegrid/controlplane/notify"
	"github.com/idlegrid/idlegrid/controlplane/payout"
	"github.com/idlegrid/idlegrid/controlplane/pricing"
	"github.com/idlegrid/idlegrid/controlplane/sched"
	"github.com/idlegrid/idlegrid/controlplane/store"
	"github.com/idlegrid/idlegrid/controlplane/tunnel"
	"github.com/idlegrid/idlegrid/controlplane/verify"
	"github.com/idlegrid/idlegrid/controlplane/web"
	"github.com/idlegrid/idlegrid/shared/keyfile"
	"github.com/idlegrid/idlegrid/shared/proto"
)

// Server is one control plane.
type Server struct {
	cfg      Config
	log      *slog.Logger
	Store    *store.Store
	Hub      *hub.Hub
	Accounts *account.Service
	API      *api.Server
	Verify   *verify.Service
	Ledger   *ledger.Ledger
	Meter    *ledger.Meter
	Signer   *ledger.Signer
	Payout   *payout.Service
	Clusters *cluster.Manager
	Tunnels  *tunnel.Registry
	Notifier *notify.Notifier
	handler  http.Handler
}

// New opens the database and builds every part.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*Server, error) {
	st, err := store.Open(ctx, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	h := hub.New(st, hub.Config{HeartbeatInterval: cfg.HeartbeatInterval, OfflineAfter: cfg.OfflineAfter}, log.With("part", "hub"))
	acc := account.New(st)
	ver := verify.New(st, h, verify.Config{Every: cfg.ChallengeEvery, N: cfg.ChallengeSize}, log.With("part", "verify"))
	a := api.New(st, acc, h, cfg.RateLimit, log.With("part", "api"))
	a.VerifyEvery, a.Challenger = cfg.ChallengeEvery, ver
	signer, err := ledger.LoadSigner(cfg.DataDir)
	if err != nil {
		st.Close()
		return nil, err
	}
	led := &ledger.Ledger{Store: st, Now: time.Now}
	a.Ledger, a.Signer, a.Demo = led, signer, cfg.Demo > 0
	// Quotes share a read of the online supply for up to a heartbeat
	// interval (2 s at most): at 20,000 devices one read is about 0.4 s.
	a.Quoter = &sched.Quoter{Store: st, Hub: h, Pricing: pricing.DefaultConfig(), VerifyEvery: cfg.ChallengeEvery, Now: time.Now,
		CacheFor: min(2*time.Second, cfg.HeartbeatInterval)}
	a.DepositHours = 1
	pay, err := payout.New(cfg.Payout, st, led, log.With("part", "payout"))
	if err != nil {
		st.Close()
		return nil, err
	}
	if cfg.FailPoint != "" {
		point, err := payoutFailPoint(cfg.FailPoint)
		if err != nil {
			st.Close()
			return nil, err
		}
		pay.Crash = killAt(point, log.With("part", "payout"))
		log.Warn("test fail point set: this server kills itself when a payout reaches it; unset "+FailPointEnv+" to run normally", "failpoint", cfg.FailPoint)
	}
	pc := pay.Config()
	a.Payouts = api.PayoutPolicy{Mode: pc.Mode, Threshold: pc.Threshold, Every: pc.Every, Cluster: cfg.PayoutExplorerCluster}
	ver.Enrich = func(ctx context.Context, userID string, ds *proto.DeviceStatus) {
		enrich(ctx, st, led, a.Payouts, userID, ds)
	}
	h.Handle(proto.TypePayoutWallet, func(ctx context.Context, deviceID string, msg any) error {
		return setWalletFromDevice(ctx, st, ver, log, deviceID, msg.(*proto.PayoutWallet).Address)
	})
	meter := &ledger.Meter{Ledger: led, MaxGap: 3 * cfg.HeartbeatInterval, Lag: 3 * time.Second, Log: log.With("part", "meter")}
	tunnelKey, err := keyfile.LoadOrCreate(filepath.Join(cfg.DataDir, "tunnel.key"))
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("tunnel key: %w", err)
	}
	ccfg := cfg.Cluster
	ccfg.LostAfter = h.Config().OfflineAfter // lost is what the hub calls offline
	clusters := cluster.New(st, h, a.Quoter, meter, signer, tunnelKey.Seed(), ccfg, log.With("part", "clusters"))
	h.Handle(proto.TypeRuntimeStatus, clusters.OnStatus)
	tunnels := tunnel.New(log.With("part", "tunnel"))
	clusters.Tunnels, a.Clusters, a.Tunnels = tunnels, clusters, tunnels
	console, err := web.New(a, log.With("part", "web"))
	if err != nil {
		st.Close()
		return nil, err
	}
	mux := http.NewServeMux()
	a.Register(mux)
	console.Register(mux)
	// Browsers may not post forms or API calls from other origins; agents
	// and CLIs send no Origin or Sec-Fetch-Site and pass.
	return &Server{
		cfg: cfg, log: log, Store: st, Hub: h, Accounts: acc, API: a, Verify: ver, Ledger: led, Meter: meter, Signer: signer, Payout: pay, Clusters: clusters, Tunnels: tunnels,
		Notifier: notify.New(st, h, cfg.ChallengeEvery, cfg.Notify, log.With("part", "notify")),
		handler:  crossOriginProtection().Handler(mux),
	}, nil
}

// crossOriginProtection refuses browsers' cross-origin POSTs and other
// unsafe requests. The Ray dashboard at /ray/ is the exception: its pages
// run sandboxed in an origin of their own, and the link's capability, not a
// cookie, authorizes them.
func crossOriginProtection() *http.CrossOriginProtection {
	p := http.NewCrossOriginProtection()
	p.AddInsecureBypassPattern("/ray/")
	return p
}

// Handler serves everything: console, API and the agent hub.
func (s *Server) Handler() http.Handler { return s.handler }

// Close closes the database; call after Serve returned.
func (s *Server) Close() error { return s.Store.Close() }

// Ready is called by Serve once it accepts connections, with the public URL
// and, in demo mode, the demo login.
type Ready func(url string, login *demo.Login)

// Serve serves on ln until ctx ends, then shuts down within 10 s: agents are
// told the server is going away and queued telemetry is stored.
func (s *Server) Serve(ctx context.Context, ln net.Listener, ready Ready) error {
	url := s.cfg.PublicURL
	if url == "" {
		url = "http://" + ln.Addr().String()
	}
	hs := &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	g, gctx := errgroup.WithContext(ctx)
	hubCtx, stopHub := context.WithCancel(context.WithoutCancel(ctx))
	hubDone := make(chan error, 1)
	go func() { hubDone <- s.Hub.Serve(hubCtx) }()

	g.Go(func() error { return s.Verify.Serve(gctx) })
	g.Go(func() error { return s.Meter.Serve(gctx, time.Minute, s.cfg.EarningsHold) })
	g.Go(func() error { return s.Payout.Serve(gctx) })
	g.Go(func() error { return s.Clusters.Serve(gctx) })
	g.Go(func() error { return s.Notifier.Serve(gctx) })
	if s.cfg.DebugListen != "" {
		g.Go(func() error { return serveDebug(gctx, s.cfg.DebugListen) })
	}
	g.Go(func() error {
		if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serving http: %w", err)
		}
		return nil
	})
	var login *demo.Login
	if s.cfg.Demo > 0 {
		fleet := &demo.Fleet{N: s.cfg.Demo, ServerURL: "http://" + ln.Addr().String(), DataDir: s.cfg.DataDir, Accounts: s.Accounts, Log: s.log.With("part", "demo")}
		l, err := fleet.PrepareLogin(ctx)
		if err != nil {
			_ = hs.Close()
			stopHub()
			<-hubDone
			return err
		}
		login = &l
		g.Go(func() error { return fleet.Serve(gctx) })
	}
	if ready != nil {
		ready(url, login)
	}
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		// Hijacked websockets are not closed by Shutdown: the hub closes them
		// (with "going away") and flushes what is queued.
		stopHub()
		s.Tunnels.CloseAll() // tunnels are hijacked connections too
		herr := <-hubDone
		return errors.Join(hs.Shutdown(sctx), herr)
	})
	return g.Wait()
}

// ListenAndServe listens on the configured address and serves.
func (s *Server) ListenAndServe(ctx context.Context, ready Ready) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w (is another server running? pick another with --listen)", s.cfg.Listen, err)
	}
	return s.Serve(ctx, ln, ready)
}

// Logger builds the process logger for a level name.
func Logger(level string, w interface{ Write([]byte) (int, error) }) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

// serveDebug serves Go's profiler on addr (loopback, checked by Config)
// until ctx ends.
func serveDebug(ctx context.Context, addr string) error {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--debug-listen %s: %w", addr, err)
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { <-ctx.Done(); _ = hs.Close() }()
	if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
