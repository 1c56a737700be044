package tunnel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/hashicorp/yamux"

	"github.com/idlegrid/idlegrid/shared/backoff"
	"github.com/idlegrid/idlegrid/shared/wsconn"
)

// ErrRevoked means the control plane refused the tunnel's token (401, 403,
// 404 or 410): the cluster is gone or the token was replaced, and retrying
// cannot help.
var ErrRevoked = errors.New("the tunnel's token is no longer valid")

// Reconnect delays for Keep; a session must hold for healthySession before
// the delay starts over from minBackoff.
const (
	minBackoff     = time.Second
	maxBackoff     = 30 * time.Second
	healthySession = 30 * time.Second
)

// Keep runs Serve again and again with jittered backoff until ctx ends
// (nil) or the control plane refuses the token (an error wrapping
// ErrRevoked).
func Keep(ctx context.Context, d Dialer, url, token string, resolve func(name string) (addr string, ok bool), log *slog.Logger) error {
	log = orDiscard(log)
	bo := backoff.Backoff{Min: minBackoff, Max: maxBackoff}
	for {
		var up time.Time
		err := serve(ctx, d, url, token, resolve, log, func() { up = time.Now() })
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, ErrRevoked) {
			return err
		}
		if !up.IsZero() && time.Since(up) >= healthySession {
			bo.Reset()
		}
		wait := bo.Next()
		log.Warn("tunnel to the control plane lost", keyErr, err, "retry_in", wait.Round(time.Millisecond))
		if backoff.Wait(ctx, wait) != nil {
			return nil
		}
	}
}

// Serve connects the tunnel once: it dials the control plane's websocket at
// url with the cluster's token, then relays every stream the control plane
// opens to the address resolve gives for the stream's logical port. It
// returns nil when ctx ends, an error wrapping ErrRevoked if the token is
// refused, and any other error when the link fails or ends. A nil d dials
// through the proxy named by HTTPS_PROXY, if any.
func Serve(ctx context.Context, d Dialer, url, token string, resolve func(name string) (addr string, ok bool), log *slog.Logger) error {
	return serve(ctx, d, url, token, resolve, orDiscard(log), nil)
}

func serve(ctx context.Context, d Dialer, url, token string, resolve func(string) (string, bool), log *slog.Logger, connected func()) error {
	ws, err := dial(ctx, d, url, http.Header{"Authorization": {"Bearer " + token}})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		if he, ok := errors.AsType[*HTTPError](err); ok && revokes(he.Status) {
			return fmt.Errorf("%w (%w)", ErrRevoked, err)
		}
		return fmt.Errorf("connecting the tunnel: %w", err)
	}
	sess, err := yamux.Server(wsconn.New(ws), SessionConfig(log))
	if err != nil {
		ws.Close()
		return fmt.Errorf("starting the tunnel session: %w", err)
	}
	if connected != nil {
		connected()
	}
	log.Info("tunnel connected", keyURL, url)

	stopClosing := context.AfterFunc(ctx, func() { sess.Close() })
	// sctx ends with the session, and with it every relay: a target that
	// keeps its connection open must not outlive the tunnel.
	sctx, cancel := context.WithCancel(ctx)
	var relays sync.WaitGroup
	defer func() {
		stopClosing()
		sess.Close()
		cancel()
		relays.Wait()
	}()
	for {
		st, err := sess.AcceptStream()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("tunnel session ended: %w", err)
		}
		relays.Go(func() { serveStream(sctx, stream{st}, resolve, log) })
	}
}

// revokes tells the HTTP answers that mean the token will never work again.
func revokes(status int) bool {
	switch status {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusGone:
		return true
	}
	return false
}

// serveStream serves one stream: header, resolve, dial, reply, pipe.
func serveStream(ctx context.Context, c net.Conn, resolve func(string) (string, bool), log *slog.Logger) {
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(headerTimeout))
	var req Request
	if err := readLine(c, &req); err != nil {
		log.Debug("dropping a stream without a header", keyErr, err)
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	addr, ok := resolve(req.Port)
	if !ok {
		log.Warn("refused a stream to a port this cluster does not have", keyPort, req.Port)
		_ = writeLine(c, Reply{Error: fmt.Sprintf("the head node has no port named %q", req.Port)})
		return
	}
	target, err := (&net.Dialer{Timeout: dialTimeout}).DialContext(ctx, "tcp", addr)
	if err != nil {
		log.Warn("the head's port is not answering", keyPort, req.Port, keyErr, err)
		reason := err
		if oe, ok := errors.AsType[*net.OpError](err); ok {
			reason = oe.Err // the cause, without local addresses
		}
		_ = writeLine(c, Reply{Error: fmt.Sprintf("the head node's %q port is not answering: %v", req.Port, reason)})
		return
	}
	defer target.Close()
	if err := writeLine(c, Reply{OK: true}); err != nil {
		return
	}
	stop := context.AfterFunc(ctx, func() {
		c.Close()
		target.Close()
	})
	defer stop()
	if err := Pipe(c, target); err != nil {
		log.Debug("stream ended", keyPort, req.Port, keyErr, err)
	}
}
