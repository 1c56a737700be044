package tunnel_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/hashicorp/yamux"

	"github.com/idlegrid/idlegrid/shared/tunnel"
	"github.com/idlegrid/idlegrid/shared/tunnel/tunneltest"
	"github.com/idlegrid/idlegrid/shared/wsconn"
)

// controlPlane is a minimal stand-in for the control plane: it takes the
// agent's websocket as a yamux client and hands the session to the test.
type controlPlane struct {
	url      string
	sessions chan *yamux.Session
}

func newControlPlane(t *testing.T, token string) *controlPlane {
	t.Helper()
	cp := &controlPlane{sessions: make(chan *yamux.Session, 1)}
	var handlers sync.WaitGroup
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"error":{"code":"bad_token","message":"this tunnel token was revoked"}}`)
			return
		}
		ws, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		sess, err := yamux.Client(wsconn.New(ws), tunnel.SessionConfig(nil))
		if err != nil {
			t.Error(err)
			return
		}
		handlers.Add(1)
		defer handlers.Done()
		cp.sessions <- sess
		select {
		case <-sess.CloseChan():
		case <-stop:
			sess.Close()
		}
	}))
	t.Cleanup(func() {
		close(stop)
		srv.Close()
		handlers.Wait()
	})
	cp.url = "ws" + strings.TrimPrefix(srv.URL, "http")
	return cp
}

func TestServeDialsOnlyResolvedPorts(t *testing.T) {
	tunneltest.NoLeaks(t)
	echo := tunneltest.EchoServer(t)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close() // nothing listens here any more
	resolve := func(name string) (string, bool) {
		switch name {
		case "client":
			return echo, true
		case "dashboard":
			return closedAddr, true
		}
		return "", false
	}
	cp := newControlPlane(t, "tok")
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- tunnel.Serve(ctx, nil, cp.url, "tok", resolve, nil) }()
	sess := <-cp.sessions

	for _, tc := range []struct {
		name, port, reason string
	}{
		{"unknown name", "ssh", `the head node has no port named "ssh"`},
		{"an address is not a name", echo, "has no port named"},
		{"known but down", "dashboard", `the head node's "dashboard" port is not answering`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tunnel.Open(ctx, sess, tc.port)
			re, ok := errors.AsType[*tunnel.RefusedError](err)
			if !ok || !strings.Contains(re.Reason, tc.reason) {
				if c != nil {
					c.Close()
				}
				t.Fatalf("Open(%q) = %v, want a refusal saying %q", tc.port, err, tc.reason)
			}
		})
	}

	c, err := tunnel.Open(ctx, sess, "client")
	if err != nil {
		t.Fatalf("Open(client): %v", err)
	}
	want := tunneltest.RandomBytes(300 << 10)
	if got := tunneltest.RoundTrip(t, c, want); !bytes.Equal(got, want) {
		t.Fatalf("echo through the stream: %d bytes back, want the %d sent", len(got), len(want))
	}
	c.Close()

	cancel()
	if err := <-served; err != nil {
		t.Fatalf("Serve after ctx ended = %v, want nil", err)
	}
	if !sess.IsClosed() {
		<-sess.CloseChan()
	}
}

func TestKeepStopsWhenTheTokenIsRefused(t *testing.T) {
	tunneltest.NoLeaks(t)
	cp := newControlPlane(t, "right")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := tunnel.Keep(ctx, nil, cp.url, "wrong", func(string) (string, bool) { return "", false }, nil)
	if !errors.Is(err, tunnel.ErrRevoked) {
		t.Fatalf("Keep with a refused token = %v, want ErrRevoked", err)
	}
	if !strings.Contains(err.Error(), "this tunnel token was revoked") {
		t.Fatalf("Keep's error %q lacks the server's message", err)
	}
}

func TestKeepReturnsNilWhenStopped(t *testing.T) {
	tunneltest.NoLeaks(t)
	cp := newControlPlane(t, "tok")
	ctx, cancel := context.WithCancel(context.Background())
	kept := make(chan error, 1)
	go func() {
		kept <- tunnel.Keep(ctx, nil, cp.url, "tok", func(string) (string, bool) { return "", false }, nil)
	}()
	sess := <-cp.sessions
	cancel()
	if err := <-kept; err != nil {
		t.Fatalf("Keep after ctx ended = %v, want nil", err)
	}
	<-sess.CloseChan()
}

func TestDialWebsocketShowsTheServersMessage(t *testing.T) {
	tunneltest.NoLeaks(t)
	for _, tc := range []struct {
		name        string
		status      int
		contentType string
		body        string
		want        string
	}{
		{"control plane error", http.StatusBadGateway, "application/json",
			`{"error":{"code":"tunnel_unavailable","message":"the head node's tunnel is not connected yet"}}`,
			"the server answered 502 Bad Gateway: the head node's tunnel is not connected yet"},
		{"plain text", http.StatusForbidden, "text/plain", "not your cluster\n",
			"the server answered 403 Forbidden: not your cluster"},
		{"html page", http.StatusInternalServerError, "text/html", "<html><body>oops</body></html>",
			"the server answered 500 Internal Server Error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tc.contentType)
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			c, err := tunnel.DialWebsocket(context.Background(), srv.URL+"/stream", nil)
			if err == nil {
				c.Close()
				t.Fatal("DialWebsocket succeeded against an HTTP error")
			}
			he, ok := errors.AsType[*tunnel.HTTPError](err)
			if !ok || he.Status != tc.status || err.Error() != tc.want {
				t.Fatalf("error = %v, want an *HTTPError saying %q", err, tc.want)
			}
		})
	}
}

func TestPipePassesHalfCloseAndClosesBoth(t *testing.T) {
	tunneltest.NoLeaks(t)
	echo := tunneltest.EchoServer(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	forwarded := make(chan error, 1)
	go func() {
		forwarded <- tunnel.Forward(ctx, ln, func(ctx context.Context) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "tcp", echo)
		}, nil)
	}()
	var wg sync.WaitGroup
	for i := range 5 {
		wg.Go(func() {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			want := tunneltest.RandomBytes(64<<10 + i)
			if got := tunneltest.RoundTrip(t, c, want); !bytes.Equal(got, want) {
				t.Errorf("conn %d: %d bytes back, want the %d sent", i, len(got), len(want))
			}
		})
	}
	wg.Wait()

	// A connection still open when ctx ends is closed by Forward.
	idle, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	if _, err := idle.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(idle, make([]byte, 4)); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-forwarded; err != nil {
		t.Fatalf("Forward after ctx ended = %v, want nil", err)
	}
	if n, err := idle.Read(make([]byte, 1)); err == nil {
		t.Fatalf("an open forward survived its ctx: read %d bytes", n)
	}
}
