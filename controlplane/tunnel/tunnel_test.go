package tunnel_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/idlegrid/idlegrid/controlplane/tunnel"
	sharedtunnel "github.com/idlegrid/idlegrid/shared/tunnel"
	"github.com/idlegrid/idlegrid/shared/tunnel/tunneltest"
)

const (
	cluster    = "cl_7f3a91"
	agentToken = "tun_secret"
	userToken  = "user_secret"
)

// harness is a control plane on httptest routing to a Registry the way the
// real API does, with the caller's checks reduced to a token compare, plus
// a head node: a fake dashboard (HTTP and a websocket echo) and a raw TCP
// echo standing for the Ray client port.
type harness struct {
	t         *testing.T
	reg       *tunnel.Registry
	url       string // http://… of the control plane
	wsURL     string // ws://… of the control plane
	client    *http.Client
	resolve   func(string) (string, bool)
	dashboard atomic.Pointer[string] // where the agent finds the dashboard
	mu        sync.Mutex
	agentNet  []net.Conn // every connection an agent dialled, newest last
}

func newHarness(t *testing.T) *harness {
	tunneltest.NoLeaks(t, "idlegrid/controlplane/tunnel.", "net/http.(*persistConn)")
	h := &harness{t: t, reg: tunnel.New(nil)}
	dashboard := fakeDashboard(t)
	echo := tunneltest.EchoServer(t)
	h.dashboard.Store(&dashboard)
	h.resolve = func(name string) (string, bool) {
		switch name {
		case "dashboard":
			return *h.dashboard.Load(), true
		case "client":
			return echo, true
		}
		return "", false
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /agent/tunnel", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+agentToken {
			http.Error(w, `{"error":{"code":"unauthorized","message":"this tunnel token is not valid"}}`, http.StatusUnauthorized)
			return
		}
		h.reg.Accept(w, r, cluster, "dev_1")
	})
	mux.HandleFunc("GET /stream", func(w http.ResponseWriter, r *http.Request) {
		h.reg.ServeStream(w, r, cluster, r.URL.Query().Get("port"))
	})
	mux.HandleFunc("/proxy/{cluster}/", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("cluster")
		h.reg.Proxy(id, "/proxy/"+id).ServeHTTP(w, r)
	})
	var handlers sync.WaitGroup // http.Server does not wait for hijacked ones
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handlers.Add(1)
		defer handlers.Done()
		mux.ServeHTTP(w, r)
	}))
	h.client = &http.Client{Transport: &http.Transport{}}
	t.Cleanup(func() {
		h.reg.CloseAll()
		srv.Close()
		handlers.Wait()
		h.client.CloseIdleConnections()
	})
	h.url = srv.URL
	h.wsURL = "ws" + strings.TrimPrefix(srv.URL, "http")
	return h
}

// fakeDashboard serves /api/echo (what the request looked like on arrival)
// and /ws (a websocket echo).
func fakeDashboard(t *testing.T) string {
	var handlers sync.WaitGroup
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handlers.Add(1)
		defer handlers.Done()
		switch r.URL.Path {
		case "/ws":
			ws, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
			if err != nil {
				return
			}
			defer ws.Close()
			for {
				typ, msg, err := ws.ReadMessage()
				if err != nil {
					return
				}
				if err := ws.WriteMessage(typ, msg); err != nil {
					return
				}
			}
		default:
			http.SetCookie(w, &http.Cookie{Name: "session", Value: "planted", Path: "/"})
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(seen{
				Path: r.URL.Path, URI: r.RequestURI, Host: r.Host,
				Prefix: r.Header.Get("X-Forwarded-Prefix"), Authorization: r.Header.Get("Authorization"), Cookie: r.Header.Get("Cookie"),
			})
		}
	}))
	t.Cleanup(func() {
		srv.Close()
		handlers.Wait()
	})
	return srv.Listener.Addr().String()
}

type seen struct {
	Path, URI, Host, Prefix, Authorization, Cookie string
}

// agent runs the head's agent against the harness: Keep if keep, else one
// Serve. It records the connections it dials so a test can cut them.
func (h *harness) agent(ctx context.Context, keep bool, token string) <-chan error {
	d := &websocket.Dialer{NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err == nil {
			h.mu.Lock()
			h.agentNet = append(h.agentNet, c)
			h.mu.Unlock()
		}
		return c, err
	}}
	done := make(chan error, 1)
	run := sharedtunnel.Serve
	if keep {
		run = sharedtunnel.Keep
	}
	go func() { done <- run(ctx, d, h.wsURL+"/agent/tunnel", token, h.resolve, nil) }()
	return done
}

// startAgent runs a kept agent until the test ends and waits for its tunnel.
func (h *harness) startAgent() {
	ctx, cancel := context.WithCancel(context.Background())
	done := h.agent(ctx, true, agentToken)
	h.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			h.t.Errorf("the agent's Keep ended with %v", err)
		}
	})
	tunneltest.Eventually(h.t, "the agent's tunnel is connected", func() bool { return h.reg.Connected(cluster) })
}

func (h *harness) dialCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.agentNet)
}

// stream opens a CLI stream to port through /stream.
func (h *harness) stream(ctx context.Context, port string) (net.Conn, error) {
	return sharedtunnel.DialWebsocket(ctx, h.wsURL+"/stream?port="+port, http.Header{"Authorization": {"Bearer " + userToken}})
}

// echoes checks one round trip of n random bytes over a fresh conn from open.
func echoes(t testing.TB, open func() (net.Conn, error), n int) {
	t.Helper()
	c, err := open()
	if err != nil {
		t.Errorf("opening: %v", err)
		return
	}
	defer c.Close()
	want := tunneltest.RandomBytes(n)
	if got := tunneltest.RoundTrip(t, c, want); !bytes.Equal(got, want) {
		t.Errorf("echo of %d bytes came back as %d different bytes", len(want), len(got))
	}
}

func TestProxyServesTheDashboardWithoutTheRequestersCredentials(t *testing.T) {
	h := newHarness(t)
	h.startAgent()
	for _, tc := range []struct {
		name, path, wantPath, wantURI string
	}{
		{"api path", "/proxy/" + cluster + "/api/jobs/?limit=5", "/api/jobs/", "/api/jobs/?limit=5"},
		{"root", "/proxy/" + cluster + "/", "/", "/"},
		{"escaped", "/proxy/" + cluster + "/logs/a%2Fb", "/logs/a/b", "/logs/a%2Fb"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", h.url+tc.path, nil)
			req.Header.Set("Authorization", "Bearer "+userToken)
			req.Header.Set("Cookie", "idlegrid_session=secret")
			resp, err := h.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var got seen
			if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: %s, %v", tc.path, resp.Status, err)
			}
			want := seen{Path: tc.wantPath, URI: tc.wantURI, Host: strings.TrimPrefix(h.url, "http://"), Prefix: "/proxy/" + cluster}
			if got != want {
				t.Fatalf("the dashboard saw %+v, want %+v", got, want)
			}
			if c := resp.Header.Values("Set-Cookie"); len(c) > 0 {
				t.Fatalf("the head set cookies on the control plane: %q", c)
			}
		})
	}
}

func TestProxyPassesWebsockets(t *testing.T) {
	h := newHarness(t)
	h.startAgent()
	ws, resp, err := websocket.DefaultDialer.Dial(h.wsURL+"/proxy/"+cluster+"/ws", nil)
	if err != nil {
		t.Fatalf("websocket through the proxy: %v (%v)", err, resp)
	}
	defer ws.Close()
	for i := range 5 {
		msg := fmt.Sprintf("message %d", i)
		if err := ws.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		if _, got, err := ws.ReadMessage(); err != nil || string(got) != msg {
			t.Fatalf("echo = %q, %v; want %q", got, err, msg)
		}
	}
}

func TestForwardCarriesStreamsExactly(t *testing.T) {
	h := newHarness(t)
	h.startAgent()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	forwarded := make(chan error, 1)
	go func() {
		forwarded <- sharedtunnel.Forward(ctx, ln, func(ctx context.Context) (net.Conn, error) { return h.stream(ctx, "client") }, nil)
	}()
	defer func() {
		cancel()
		if err := <-forwarded; err != nil {
			t.Errorf("Forward = %v", err)
		}
	}()
	local := func() (net.Conn, error) { return net.Dial("tcp", ln.Addr().String()) }

	echoes(t, local, 1<<20)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() { echoes(t, local, 100<<10) })
	}
	wg.Wait()
}

func TestUnknownPortGetsTheAgentsWords(t *testing.T) {
	h := newHarness(t)
	h.startAgent()
	const want = `the head node has no port named "ssh"`
	c, err := h.reg.Dial(context.Background(), cluster, "ssh")
	if re, ok := errors.AsType[*sharedtunnel.RefusedError](err); !ok || re.Error() != want {
		if c != nil {
			c.Close()
		}
		t.Fatalf("Dial(ssh) = %v, want the agent's %q", err, want)
	}
	c, err = h.stream(context.Background(), "ssh")
	if he, ok := errors.AsType[*sharedtunnel.HTTPError](err); !ok || he.Status != http.StatusBadGateway || he.Code != "tunnel_unavailable" || he.Message != want {
		if c != nil {
			c.Close()
		}
		t.Fatalf("/stream?port=ssh = %v, want 502 tunnel_unavailable saying %q", err, want)
	}
}

func TestWithoutATunnelCallersAreToldWhy(t *testing.T) {
	h := newHarness(t)
	if _, err := h.reg.Dial(context.Background(), cluster, "client"); !errors.Is(err, tunnel.ErrNoTunnel) {
		t.Fatalf("Dial = %v, want ErrNoTunnel", err)
	}

	c, err := h.stream(context.Background(), "client")
	if he, ok := errors.AsType[*sharedtunnel.HTTPError](err); !ok || he.Status != http.StatusBadGateway || he.Code != "tunnel_unavailable" || he.Message != tunnel.ErrNoTunnel.Error() {
		if c != nil {
			c.Close()
		}
		t.Fatalf("/stream = %v, want 502 tunnel_unavailable saying %q", err, tunnel.ErrNoTunnel)
	}

	resp, err := h.client.Get(h.url + "/proxy/" + cluster + "/api/jobs/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Error struct{ Code, Message string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusBadGateway ||
		body.Error.Code != "tunnel_unavailable" || !strings.Contains(body.Error.Message, "not reachable through its tunnel; it may still be starting") ||
		!strings.Contains(body.Error.Message, tunnel.ErrNoTunnel.Error()) {
		t.Fatalf("proxy without a tunnel: %s %+v (%v)", resp.Status, body, err)
	}
}

func TestAWrongTokenIsRevoked(t *testing.T) {
	h := newHarness(t)
	err := <-h.agent(context.Background(), true, "tun_stale")
	if !errors.Is(err, sharedtunnel.ErrRevoked) || !strings.Contains(err.Error(), "this tunnel token is not valid") {
		t.Fatalf("Keep with a wrong token = %v, want ErrRevoked with the server's words", err)
	}
	if h.reg.Connected(cluster) {
		t.Fatal("a refused agent counts as connected")
	}
}

func TestTheAgentReconnectsAfterItsLinkDies(t *testing.T) {
	h := newHarness(t)
	h.startAgent()
	stream := func() (net.Conn, error) { return h.stream(context.Background(), "client") }
	echoes(t, stream, 10<<10)

	h.mu.Lock()
	h.agentNet[0].Close() // the link dies under both ends, no close frame
	h.mu.Unlock()
	tunneltest.Eventually(t, "the agent dials again", func() bool { return h.dialCount() == 2 })
	tunneltest.Eventually(t, "the tunnel is back", func() bool { return h.reg.Connected(cluster) })
	echoes(t, stream, 10<<10)
	echoes(t, func() (net.Conn, error) { return h.reg.Dial(context.Background(), cluster, "client") }, 10<<10)
}

func TestCloseEndsTheTunnelAndItsStreams(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := h.agent(ctx, false, agentToken)
	tunneltest.Eventually(t, "the tunnel is connected", func() bool { return h.reg.Connected(cluster) })

	// Two idle streams, one from the CLI and one dialled directly.
	cli, err := h.stream(ctx, "client")
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	direct, err := h.reg.Dial(ctx, cluster, "client")
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	for _, c := range []net.Conn{cli, direct} {
		if _, err := c.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, make([]byte, 4)); err != nil {
			t.Fatal(err)
		}
	}

	h.reg.Close(cluster)
	if err := <-served; err == nil {
		t.Fatal("Serve returned nil after the control plane closed the tunnel; want the session's end")
	}
	if h.reg.Connected(cluster) {
		t.Fatal("still connected after Close")
	}
	for name, c := range map[string]net.Conn{"cli": cli, "direct": direct} {
		if n, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatalf("the %s stream survived Close: read %d bytes", name, n)
		}
	}
}

func TestANewerTunnelReplacesTheOlder(t *testing.T) {
	h := newHarness(t)
	ctx1, cancel1 := context.WithCancel(context.Background())
	defer cancel1()
	first := h.agent(ctx1, false, agentToken)
	tunneltest.Eventually(t, "the first tunnel is connected", func() bool { return h.reg.Connected(cluster) })

	ctx2, cancel2 := context.WithCancel(context.Background())
	second := h.agent(ctx2, false, agentToken)
	if err := <-first; err == nil {
		t.Fatal("the first Serve returned nil when replaced; want the session's end")
	}
	tunneltest.Eventually(t, "the second tunnel is connected", func() bool { return h.reg.Connected(cluster) })
	echoes(t, func() (net.Conn, error) { return h.stream(context.Background(), "client") }, 10<<10)
	cancel2()
	if err := <-second; err != nil {
		t.Fatalf("the second Serve after its ctx ended = %v", err)
	}
	tunneltest.Eventually(t, "the tunnel is gone", func() bool { return !h.reg.Connected(cluster) })
}

func TestProxyToAHeadStillStartingSaysSo(t *testing.T) {
	h := newHarness(t)
	h.startAgent()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := ln.Addr().String()
	ln.Close() // the dashboard is not up yet
	h.dashboard.Store(&down)

	resp, err := h.client.Get(h.url + "/proxy/" + cluster + "/api/jobs/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Error struct{ Code, Message string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusBadGateway ||
		!strings.Contains(body.Error.Message, "it may still be starting") ||
		!strings.Contains(body.Error.Message, `the head node's "dashboard" port is not answering`) {
		t.Fatalf("proxy to a head without its dashboard: %s %+v (%v)", resp.Status, body, err)
	}
}
