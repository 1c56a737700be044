package farm

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/idlegrid/idlegrid/shared/hw"
	"github.com/idlegrid/idlegrid/shared/proto"
)

// DefaultListen is where the status server listens unless told otherwise:
// loopback only, on the DCGM exporter's port, so a Prometheus job written
// for DCGM finds it.
const DefaultListen = "127.0.0.1:9400"

// DefaultPort is the port of DefaultListen, which Probe assumes when an
// address has none.
const DefaultPort = 9400

// MinTokenLen is the shortest token accepted for a server reachable from
// the network.
const MinTokenLen = 16

// ErrTokenRequired is wrapped by Serve when the server would be reachable
// from the network without a token.
var ErrTokenRequired = errors.New("a farm status server reachable from the network needs a token: pass --farm-token with at least 16 characters, or listen on 127.0.0.1")

// Log attribute keys.
const (
	keyAddr  = "addr"
	keyToken = "token"
	keyErr   = "err"
)

// Server serves a rig's metrics and status, read-only:
//
//	GET /metrics  Prometheus text format
//	GET /status   JSON (Status)
//
// Any other method gets 405 and any other path 404. On a loopback address
// no token is needed; on any other a Token is required, and every request
// must then send "Authorization: Bearer <token>" or get 401. A token set on
// loopback is required too.
type Server struct {
	Listen string // default DefaultListen
	Token  string
	Source Source
	// Host names the rig in metrics and status; default the host name.
	Host string
	Log  *slog.Logger
	// Now stamps statuses; default time.Now.
	Now func() time.Time
}

// Status is what GET /status answers: a snapshot, the host it is from and
// when it was taken.
type Status struct {
	Host string    `json:"host"`
	At   time.Time `json:"at"`
	Snapshot
}

// NeedsToken reports whether a server listening on addr ("host:port") is
// reachable from other machines and so must have a token. Only "localhost"
// and loopback IPs are safe; an empty host, an unspecified address
// (0.0.0.0, ::) or any other name listens beyond this machine.
func NeedsToken(addr string) (bool, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return true, fmt.Errorf("farm listen address %q: want host:port, like %s", addr, DefaultListen)
	}
	if strings.EqualFold(host, "localhost") {
		return false, nil
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsLoopback(), nil
}

// NewToken returns a random token (128 bits, 26 base32 characters), for a
// setup to suggest.
func NewToken() string { return rand.Text() }

func (s *Server) defaults() {
	if s.Listen == "" {
		s.Listen = DefaultListen
	}
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	if s.Host == "" {
		s.Host, _ = os.Hostname()
	}
	if s.Now == nil {
		s.Now = time.Now
	}
}

// check refuses a configuration that would expose the rig without a token.
func (s *Server) check(addr string) error {
	need, err := NeedsToken(addr)
	if err != nil {
		return err
	}
	if s.Token == "" && need {
		return fmt.Errorf("listening on %s: %w", addr, ErrTokenRequired)
	}
	if s.Token != "" && len(s.Token) < MinTokenLen {
		return fmt.Errorf("the farm token is %d characters; use at least %d", len(s.Token), MinTokenLen)
	}
	return nil
}

// Serve listens on s.Listen and serves until ctx ends.
func (s *Server) Serve(ctx context.Context) error {
	s.defaults()
	if err := s.check(s.Listen); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", s.Listen)
	if err != nil {
		return fmt.Errorf("listening for the farm status server: %w", err)
	}
	return s.ServeListener(ctx, ln)
}

// ServeListener serves on ln until ctx ends, then closes it. The token rule
// is checked on ln's address.
func (s *Server) ServeListener(ctx context.Context, ln net.Listener) error {
	s.defaults()
	if err := s.check(ln.Addr().String()); err != nil {
		ln.Close()
		return err
	}
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.Log.Handler(), slog.LevelDebug),
	}
	s.Log.Info("farm status server listening", keyAddr, ln.Addr().String(), keyToken, s.Token != "")
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("serving farm status: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving farm status: %w", err)
	}
	return nil
}

// Handler is the server's HTTP handler, token check included. It does not
// apply the loopback rule: that belongs to where it listens (Serve).
func (s *Server) Handler() http.Handler {
	s.defaults()
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		NewExporter(s.Source, s.Host),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	mux := http.NewServeMux()
	// "GET" patterns also answer HEAD; the mux answers every other method
	// with 405 and an Allow header.
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(s.Log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
	}))
	mux.HandleFunc("GET /status", s.serveStatus)
	if s.Token == "" {
		return mux
	}
	want := sha256.Sum256([]byte(s.Token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Hashing both sides first makes the comparison constant-time
		// whatever the lengths.
		got := sha256.Sum256([]byte(bearer(r)))
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="idlegrid"`)
			http.Error(w, "this rig needs its farm token: send Authorization: Bearer <token>", http.StatusUnauthorized)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func bearer(r *http.Request) string {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

func (s *Server) status() Status {
	var snap Snapshot
	if s.Source != nil {
		snap = s.Source()
	}
	// Lists are [] rather than null, so a reader can always range.
	if snap.GPUs == nil {
		snap.GPUs = []hw.GPU{}
	}
	if snap.Samples == nil {
		snap.Samples = []hw.GPUSample{}
	}
	if snap.Runtimes == nil {
		snap.Runtimes = []proto.RuntimeState{}
	}
	return Status{Host: s.Host, At: s.Now().UTC(), Snapshot: snap}
}

func (s *Server) serveStatus(w http.ResponseWriter, r *http.Request) {
	b, err := json.MarshalIndent(s.status(), "", "  ")
	if err != nil {
		s.Log.Warn("encoding farm status", keyErr, err)
		http.Error(w, "cannot encode the status", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(append(b, '\n'))
}
