// Package tunnel is the control plane's end of the head-node tunnels: it
// accepts the websocket each cluster's head agent dials out with, keeps one
// yamux session per cluster, and relays requesters' connections over it,
// as HTTP (Proxy, for the dashboard and Jobs API) or as raw streams
// (ServeStream, for the CLI's forward).
//
// Security rule: Ray's dashboard and Jobs API have no auth, so the tunnel is
// the only gate. Every entry point here takes a request the caller has
// already authorized for clusterID (the agent's token for Accept, the
// cluster's owner for Proxy and ServeStream); this package checks nothing
// itself. Streams name only logical ports; the agent decides what they
// dial (see shared/tunnel).
package tunnel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"

	"github.com/gorilla/websocket"
	"github.com/hashicorp/yamux"

	sharedtunnel "github.com/idlegrid/idlegrid/shared/tunnel"
	"github.com/idlegrid/idlegrid/shared/wsconn"
)

// ErrNoTunnel means the cluster's head agent has no tunnel up: it has not
// connected yet, or its link just dropped.
var ErrNoTunnel = errors.New("the head node's tunnel is not connected yet")

// Log attribute keys.
const (
	keyCluster = "cluster"
	keyDevice  = "device"
	keyPort    = "port"
	keyErr     = "err"
)

// Registry holds the live tunnel of each cluster. The zero value is not
// usable; call New.
type Registry struct {
	log       *slog.Logger
	upgrader  websocket.Upgrader
	transport *http.Transport // Proxy's, shared by all clusters

	mu      sync.Mutex
	tunnels map[string]*tunnel // by cluster ID
}

// tunnel is one agent's session. ctx ends when the session does, and with
// it every relay over it.
type tunnel struct {
	sess     *yamux.Session
	deviceID string
	ctx      context.Context
}

// New returns an empty Registry.
func New(log *slog.Logger) *Registry {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Registry{log: log, tunnels: map[string]*tunnel{}}
	r.transport = r.newTransport()
	return r
}

// Accept takes the head agent's websocket for clusterID, already
// authorized by the caller, and serves it until the session ends: the
// control plane is the yamux client and opens the streams. A newer tunnel
// for the same cluster replaces and closes an older one. Accept blocks while
// the tunnel is up; CloseAll ends it at shutdown.
func (r *Registry) Accept(w http.ResponseWriter, req *http.Request, clusterID, deviceID string) {
	ws, err := r.upgrader.Upgrade(w, req, nil)
	if err != nil {
		return // the upgrader answered with an HTTP error
	}
	sess, err := yamux.Client(wsconn.New(ws), sharedtunnel.SessionConfig(r.log))
	if err != nil {
		ws.Close()
		r.log.Error("starting a tunnel session", keyCluster, clusterID, keyErr, err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	t := &tunnel{sess: sess, deviceID: deviceID, ctx: ctx}

	r.mu.Lock()
	old := r.tunnels[clusterID]
	r.tunnels[clusterID] = t
	r.mu.Unlock()
	if old != nil {
		old.sess.Close()
		r.log.Info("tunnel replaced", keyCluster, clusterID, keyDevice, deviceID, "old_device", old.deviceID)
	} else {
		r.log.Info("tunnel connected", keyCluster, clusterID, keyDevice, deviceID)
	}

	<-sess.CloseChan()
	cancel()
	r.mu.Lock()
	if r.tunnels[clusterID] == t {
		delete(r.tunnels, clusterID)
	}
	r.mu.Unlock()
	r.log.Info("tunnel closed", keyCluster, clusterID, keyDevice, deviceID)
}

// Connected tells whether clusterID has a tunnel up.
func (r *Registry) Connected(clusterID string) bool {
	return r.get(clusterID) != nil
}

// Close drops clusterID's tunnel and every stream over it, e.g. when the
// cluster is terminated. The agent may dial again; revoke its token first
// to keep it out.
func (r *Registry) Close(clusterID string) {
	if t := r.get(clusterID); t != nil {
		t.sess.Close()
	}
}

// CloseAll drops every tunnel, at shutdown: hijacked websockets are not
// ended by http.Server.Shutdown.
func (r *Registry) CloseAll() {
	r.mu.Lock()
	all := make([]*tunnel, 0, len(r.tunnels))
	for _, t := range r.tunnels {
		all = append(all, t)
	}
	r.mu.Unlock()
	for _, t := range all {
		t.sess.Close()
	}
	r.transport.CloseIdleConnections()
}

// Dial opens a stream to the head's logical port ("dashboard", "client").
// It fails with ErrNoTunnel when no tunnel is up, or with the agent's own
// words (a *sharedtunnel.RefusedError) when the head refuses the port.
func (r *Registry) Dial(ctx context.Context, clusterID, port string) (net.Conn, error) {
	c, _, err := r.dial(ctx, clusterID, port)
	return c, err
}

func (r *Registry) dial(ctx context.Context, clusterID, port string) (net.Conn, *tunnel, error) {
	t := r.get(clusterID)
	if t == nil {
		return nil, nil, ErrNoTunnel
	}
	c, err := sharedtunnel.Open(ctx, t.sess, port)
	if err != nil {
		if t.sess.IsClosed() {
			return nil, nil, ErrNoTunnel
		}
		if _, refused := errors.AsType[*sharedtunnel.RefusedError](err); refused {
			return nil, nil, err
		}
		return nil, nil, fmt.Errorf("reaching the head node: %w", err)
	}
	return c, t, nil
}

func (r *Registry) get(clusterID string) *tunnel {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.tunnels[clusterID]
	if t == nil || t.sess.IsClosed() {
		return nil
	}
	return t
}
