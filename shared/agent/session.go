package agent

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/idlegrid/idlegrid/shared/proto"
)

// session runs one websocket link: handshake, then heartbeats until the link
// or ctx ends. onWelcome runs once the server accepted the device.
func (a *Agent) session(ctx context.Context, endpoint, deviceID string, inv proto.Inventory, runtimes []proto.RuntimeInfo, onWelcome func()) error {
	dialer := websocket.Dialer{HandshakeTimeout: 15 * time.Second, ReadBufferSize: 1024, WriteBufferSize: 4096, Proxy: http.ProxyFromEnvironment}
	ws, resp, err := dialer.DialContext(ctx, endpoint, nil)
	if err != nil {
		if resp != nil {
			return fmt.Errorf("connecting to %s: server answered %s", endpoint, resp.Status)
		}
		return fmt.Errorf("connecting to %s: %w", endpoint, err)
	}
	defer ws.Close()
	ws.SetReadLimit(proto.MaxMessageBytes)
	stop := context.AfterFunc(ctx, func() {
		_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "agent stopping"), time.Now().Add(time.Second))
		_ = ws.Close()
	})
	defer stop()

	welcome, err := a.handshake(ws, deviceID, inv, runtimes)
	if err != nil {
		return err
	}
	onWelcome()
	interval := time.Duration(welcome.HeartbeatInterval)
	idle := time.Duration(welcome.IdleTimeout)
	a.setStatus(func(s *Status) { s.Conn, s.LastError, s.Heartbeats, s.Interval = ConnOnline, "", 0, interval })
	a.cfg.Log.Info("connected to control plane", "device", deviceID, "heartbeat_every", interval)

	// The reader sees pings, close frames and the server's requests; it
	// ends the session when the server closes the link or goes silent for
	// longer than IdleTimeout.
	l := &link{ws: ws}
	sctx, cancelWork := context.WithCancel(ctx)
	defer cancelWork()
	readErr := make(chan error, 1)
	go func() {
		_ = ws.SetReadDeadline(time.Now().Add(idle))
		ws.SetPingHandler(func(data string) error {
			_ = ws.SetReadDeadline(time.Now().Add(idle))
			return ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(5*time.Second))
		})
		for {
			msg, err := readMsg(ws)
			if err != nil {
				readErr <- err
				return
			}
			_ = ws.SetReadDeadline(time.Now().Add(idle))
			a.handle(sctx, l, msg)
		}
	}()

	if err := a.sendHeartbeat(ctx, l, interval); err != nil {
		return err
	}
	// A (re)connected control plane learns what runs here at once.
	var runtimeChanged <-chan struct{}
	if a.clusters != nil {
		runtimeChanged = a.clusters.changed
		if err := l.send(proto.TypeRuntimeStatus, a.clusters.snapshot()); err != nil {
			return err
		}
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-readErr:
			return err
		case <-a.kick:
			if err := a.sendHeartbeat(ctx, l, interval); err != nil {
				return err
			}
		case w := <-a.wallets:
			if err := l.send(proto.TypePayoutWallet, w); err != nil {
				a.SendWallet(w.Address)
				return err
			}
		case r := <-a.reports:
			if err := l.send(proto.TypeBenchReport, r); err != nil {
				a.queueReport(r) // try again on the next link
				return err
			}
		case <-runtimeChanged:
			if err := l.send(proto.TypeRuntimeStatus, a.clusters.snapshot()); err != nil {
				return err
			}
		case <-tick.C:
			if a.clusters != nil {
				// Repeated while anything runs: a head's list of live nodes
				// changes without a local event.
				if st := a.clusters.snapshot(); len(st.Runtimes) > 0 {
					if err := l.send(proto.TypeRuntimeStatus, st); err != nil {
						return err
					}
				}
			}
			if err := a.sendHeartbeat(ctx, l, interval); err != nil {
				select { // a refused write usually follows a close frame: prefer its reason
				case rerr := <-readErr:
					return rerr
				case <-time.After(time.Second):
				}
				return err
			}
		}
	}
}

func (a *Agent) handshake(ws *websocket.Conn, deviceID string, inv proto.Inventory, runtimes []proto.RuntimeInfo) (*proto.Welcome, error) {
	_ = ws.SetReadDeadline(time.Now().Add(15 * time.Second))
	msg, err := readMsg(ws)
	if err != nil {
		return nil, err
	}
	hello, ok := msg.(*proto.Hello)
	if !ok {
		return nil, errors.New("handshake: the server did not start with hello")
	}
	// Check the version ourselves so an outdated agent says why in words
	// even before the server closes the link.
	if proto.Protocol < hello.MinProtocol || proto.Protocol > hello.MaxProtocol {
		return nil, &proto.VersionError{Agent: proto.Protocol, ServerMin: hello.MinProtocol, ServerMax: hello.MaxProtocol}
	}
	auth, err := proto.Encode(proto.TypeAuth, proto.Auth{
		Protocol:     proto.Protocol,
		DeviceID:     deviceID,
		Signature:    proto.SignAuth(a.key, hello.Nonce, deviceID),
		AgentVersion: a.cfg.Version,
		Inventory:    inv,
		Runtimes:     runtimes,
		Region:       a.cfg.Region,
	})
	if err != nil {
		return nil, err
	}
	_ = ws.SetWriteDeadline(time.Now().Add(15 * time.Second))
	if err := ws.WriteMessage(websocket.TextMessage, auth); err != nil {
		return nil, fmt.Errorf("handshake: sending auth: %w", err)
	}
	msg, err = readMsg(ws)
	if err != nil {
		return nil, err
	}
	welcome, ok := msg.(*proto.Welcome)
	if !ok {
		return nil, errors.New("handshake: expected welcome")
	}
	_ = ws.SetReadDeadline(time.Time{})
	return welcome, nil
}

func readMsg(ws *websocket.Conn) (any, error) {
	_, data, err := ws.ReadMessage()
	if err != nil {
		return nil, classify(err)
	}
	msg, err := proto.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("reading from server: %w", err)
	}
	return msg, nil
}

// CloseError is the server's reason for closing the link.
type CloseError struct {
	Code   int
	Reason string
}

func (e *CloseError) Error() string {
	return fmt.Sprintf("server closed the link (%d): %s", e.Code, e.Reason)
}

// classify turns a close frame into a typed error: terminal ones become
// *proto.VersionError or *RemovedError.
func classify(err error) error {
	var ce *websocket.CloseError
	if !errors.As(err, &ce) {
		return err
	}
	switch ce.Code {
	case proto.CloseVersion:
		ve := &proto.VersionError{Agent: proto.Protocol}
		if _, err := fmt.Sscanf(ce.Text[strings.LastIndex(ce.Text, "speaks ")+len("speaks "):], "%d..%d", &ve.ServerMin, &ve.ServerMax); err != nil {
			ve.ServerMin, ve.ServerMax = proto.Protocol+1, proto.Protocol+1
		}
		return ve
	case proto.CloseUnknownDevice, proto.CloseDeviceRemoved, proto.CloseAuthFailed:
		return &RemovedError{Reason: ce.Text}
	}
	return &CloseError{Code: ce.Code, Reason: ce.Text}
}

func describe(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func (a *Agent) sendHeartbeat(ctx context.Context, l *link, interval time.Duration) error {
	sctx, cancel := context.WithTimeout(ctx, interval)
	defer cancel()
	hb := proto.Heartbeat{SentAt: a.cfg.Now().UTC(), State: proto.StateAvailable}
	if latest, ok := a.latestSample(interval); ok {
		hb.GPUs, hb.Host = latest.GPUs, latest.Host
	} else {
		gpus, err := a.cfg.GPU.Sample(sctx)
		if err != nil {
			a.cfg.Log.Warn("reading GPUs", "err", err) // still heartbeat: the host is alive
		}
		hb.GPUs = gpus
		if a.cfg.Host != nil {
			if hb.Host, err = a.cfg.Host.Sample(sctx); err != nil {
				a.cfg.Log.Warn("reading host", "err", err)
			}
		}
	}
	a.mu.Lock()
	a.seq++
	hb.Seq = a.seq
	if a.paused {
		hb.State, hb.PauseReason = proto.StatePaused, a.pauseReason
	}
	a.mu.Unlock()
	if err := l.send(proto.TypeHeartbeat, hb); err != nil {
		return fmt.Errorf("sending heartbeat: %w", err)
	}
	a.setStatus(func(s *Status) { s.Heartbeats++ })
	return nil
}

// latestSample is the monitor's newest sample if it is recent enough to
// stand for now.
func (a *Agent) latestSample(interval time.Duration) (Sample, bool) {
	if a.cfg.Monitor == nil {
		return Sample{}, false
	}
	s, ok := a.cfg.Monitor.Latest()
	if !ok || a.cfg.Now().Sub(s.At) > interval {
		return Sample{}, false
	}
	return s, true
}
