package tunnel

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"time"
)

// dashboardPort is the head's logical port that serves the dashboard and
// the Jobs API.
const dashboardPort = "dashboard"

// hostSuffix marks the made-up host names Proxy's transport dials through
// tunnels; see hostFor.
const hostSuffix = ".tunnel.invalid"

// Proxy serves HTTP, websocket upgrades included, from the head's dashboard
// port through clusterID's tunnel, with prefix cut from the path. The caller
// has already checked that the requester may use the cluster.
//
// What the head answers is sandboxed (see sandbox): its pages run in an
// origin of their own, never with the control plane's.
//
// The requester's credentials stay here: Authorization and Cookie headers
// are not sent to the head (a supplier's machine), and the head may not set
// cookies on the control plane's site. The Host header stays the one the
// requester used, so absolute links the head builds point back here;
// X-Forwarded-Prefix says where the head is mounted.
func (r *Registry) Proxy(clusterID, prefix string) http.Handler {
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetXForwarded()
			out := pr.Out
			out.URL.Scheme = "http"
			out.URL.Host = hostFor(clusterID)
			out.URL.Path, _ = under(pr.In.URL.Path, prefix)
			if pr.In.URL.RawPath != "" {
				out.URL.RawPath, _ = under(pr.In.URL.RawPath, prefix)
			}
			out.Header.Set("X-Forwarded-Prefix", prefix)
			out.Header.Del("Authorization")
			out.Header.Del("Proxy-Authorization")
			out.Header.Del("Cookie")
			// Pages are rewritten (sandbox): let the transport ask for and
			// undo compression itself.
			out.Header.Del("Accept-Encoding")
		},
		Transport:      r.transport,
		ModifyResponse: sandbox,
		ErrorLog:       slog.NewLogLogger(r.log.Handler(), slog.LevelDebug),
		ErrorHandler: func(w http.ResponseWriter, req *http.Request, err error) {
			if req.Context().Err() != nil {
				return // the requester left; nobody to answer
			}
			r.log.Info("proxying to a head node failed", keyCluster, clusterID, keyErr, err)
			writeUnavailable(w, fmt.Sprintf("the cluster's head node is not reachable through its tunnel; it may still be starting, so try again in a minute (%v)", cause(err)))
		},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if _, ok := under(req.URL.Path, prefix); !ok {
			http.NotFound(w, req)
			return
		}
		rp.ServeHTTP(w, req)
	})
}

// newTransport dials each request's cluster through its tunnel. One
// transport serves all clusters: its pool keys connections by host, and
// each cluster has its own host name, so a connection to one cluster's head
// is never reused for another's.
func (r *Registry) newTransport() *http.Transport {
	return &http.Transport{
		Proxy: nil, // the tunnel is the only way there
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			clusterID, err := clusterOf(addr)
			if err != nil {
				return nil, err
			}
			return r.Dial(ctx, clusterID, dashboardPort)
		},
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true, // pass the head's encoding through untouched
	}
}

// hostFor names clusterID as a host that no resolver knows: hex keeps any
// ID a valid host name, and the transport only ever hands it to DialContext.
func hostFor(clusterID string) string {
	return hex.EncodeToString([]byte(clusterID)) + hostSuffix
}

func clusterOf(addr string) (string, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	label, ok := strings.CutSuffix(host, hostSuffix)
	id, err := hex.DecodeString(label)
	if !ok || err != nil || len(id) == 0 {
		return "", fmt.Errorf("no cluster in tunnel address %q", addr)
	}
	return string(id), nil
}

// under cuts prefix off path, keeping the result absolute; ok is false when
// path is not under prefix ("/proxy/c10" is not under "/proxy/c1").
func under(path, prefix string) (rest string, ok bool) {
	rest, ok = strings.CutPrefix(path, prefix)
	if !ok || (rest != "" && rest[0] != '/' && !strings.HasSuffix(prefix, "/")) {
		return "", false
	}
	if !strings.HasPrefix(rest, "/") {
		rest = "/" + rest
	}
	return rest, true
}

// cause unwraps the transport's "dial tcp …" wrapping down to our words.
func cause(err error) error {
	if errors.Is(err, ErrNoTunnel) {
		return ErrNoTunnel
	}
	if oe, ok := errors.AsType[*net.OpError](err); ok && oe.Err != nil {
		return oe.Err
	}
	return err
}

// writeUnavailable answers 502 in the control plane's error shape, so the
// CLI and the web UI show message as is.
func writeUnavailable(w http.ResponseWriter, message string) {
	writeError(w, http.StatusBadGateway, "tunnel_unavailable", message)
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	body.Error.Code, body.Error.Message = code, message
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
