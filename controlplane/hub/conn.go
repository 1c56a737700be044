package hub

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/idlegrid/idlegrid/controlplane/store"
	"github.com/idlegrid/idlegrid/shared/hw"
	"github.com/idlegrid/idlegrid/shared/proto"
)

// conn is one authenticated agent link.
type conn struct {
	ws       *websocket.Conn
	deviceID string
	once     sync.Once
	lastSeen atomic.Int64 // unix ms of the last heartbeat, server clock
	closing  atomic.Bool
	supply   atomic.Pointer[supplyState]
	writeMu  sync.Mutex // one writer at a time besides control frames
}

// send writes one message on the link.
func (c *conn) send(typ string, body any) error {
	b, err := proto.Encode(typ, body)
	if err != nil {
		return err
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return c.ws.WriteMessage(websocket.TextMessage, b)
}

// keepAlive pings the agent every period until the returned stop is
// called.
func (c *conn) keepAlive(every time.Duration) (stop func()) {
	var mu sync.Mutex
	stopped := false
	var t *time.Timer
	t = time.AfterFunc(every, func() {
		if c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(5*time.Second)) != nil {
			return // the reader sees the broken link and ends it
		}
		mu.Lock()
		defer mu.Unlock()
		if !stopped {
			t.Reset(every)
		}
	})
	return func() {
		mu.Lock()
		defer mu.Unlock()
		stopped = true
		t.Stop()
	}
}

// supplyState is what the device last said about taking work.
type supplyState struct {
	state, reason string
}

// close starts the closing handshake: it sends a close frame with code and
// reason and gives the agent a second to answer before the link's reader
// gives up. Dropping TCP at once would make the agent's echo fail and hide
// the reason from it. Safe from any goroutine, more than once.
func (c *conn) close(code int, reason string) {
	c.once.Do(func() {
		c.closing.Store(true)
		if len(reason) > 120 { // a close frame's reason is at most 123 bytes
			reason = reason[:120]
		}
		_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
		_ = c.ws.UnderlyingConn().SetReadDeadline(time.Now().Add(time.Second))
	})
}

var errClosing = errors.New("link closing")

// closeError is a rule broken by the agent: the link closes with this code.
type closeError struct {
	code   int
	reason string
}

func (e *closeError) Error() string { return fmt.Sprintf("closing %d: %s", e.code, e.reason) }

func closeWith(code int, format string, args ...any) error {
	return &closeError{code: code, reason: fmt.Sprintf(format, args...)}
}

// ServeHTTP upgrades an agent's request and runs its link until it ends.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	select {
	case <-h.done:
		http.Error(w, "server shutting down", http.StatusServiceUnavailable)
		return
	default:
	}
	ws, err := h.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader already answered with an HTTP error
	}
	// The link runs on a goroutine of its own and this handler returns, so
	// the HTTP server's per-request state (its buffers, the request, a deep
	// stack) is freed now instead of held for the link's whole life: at
	// tens of thousands of agents that is most of the memory.
	go h.serveLink(ws, r.RemoteAddr)
}

func (h *Hub) serveLink(ws *websocket.Conn, remote string) {
	ws.SetReadLimit(proto.MaxMessageBytes)
	defer ws.Close()
	c := &conn{ws: ws}
	err := h.run(h.linkCtx, c)
	var ce *closeError
	switch {
	case errors.As(err, &ce):
		h.log.Info("agent link closed", "device", c.deviceID, "code", ce.code, "reason", ce.reason, "remote", remote)
		c.close(ce.code, ce.reason)
	default:
		h.log.Debug("agent link ended", "device", c.deviceID, "err", err)
		c.close(websocket.CloseNormalClosure, "")
	}
	// Wait (at most the second close allowed) for the agent's close echo.
	for {
		if _, _, err := ws.NextReader(); err != nil {
			return
		}
	}
}

func (h *Hub) run(ctx context.Context, c *conn) error {
	auth, err := h.handshake(ctx, c)
	if err != nil {
		return err
	}
	c.lastSeen.Store(h.cfg.Now().UnixMilli())
	h.register(c)
	defer h.unregister(c)
	if h.onConnect != nil {
		go h.onConnect(c.deviceID)
	}
	h.log.Info("agent connected", "device", c.deviceID, "agent_version", auth.AgentVersion, "gpus", len(auth.Inventory.GPUs))

	// The server pings three times per idle timeout, from a timer rather
	// than a goroutine per link; the agent answers with pongs, and
	// heartbeats keep the read deadline moving too.
	defer c.keepAlive(h.cfg.OfflineAfter / 3)()
	c.ws.SetPongHandler(func(string) error {
		if c.closing.Load() {
			return nil
		}
		return c.ws.SetReadDeadline(time.Now().Add(h.cfg.OfflineAfter))
	})

	var lastSeq uint64
	for {
		if c.closing.Load() {
			return errClosing
		}
		if err := c.ws.SetReadDeadline(time.Now().Add(h.cfg.OfflineAfter)); err != nil {
			return err
		}
		msg, err := readMessage(c.ws)
		if err != nil {
			return err
		}
		hb, ok := msg.(*proto.Heartbeat)
		if !ok {
			if err := h.dispatch(ctx, c.deviceID, msg); err != nil {
				return err
			}
			continue
		}
		if hb.Seq <= lastSeq {
			continue // duplicate or reordered: the newer sample is already in
		}
		lastSeq = hb.Seq
		// Server time stamps each sample, strictly increasing per link so two
		// heartbeats in one millisecond never collide in the store.
		now := h.cfg.Now()
		if prev := c.lastSeen.Load(); now.UnixMilli() <= prev {
			now = time.UnixMilli(prev + 1)
		}
		c.lastSeen.Store(now.UnixMilli())
		c.supply.Store(&supplyState{state: hb.State, reason: hb.PauseReason})
		if !h.enqueue(telemetryRow(c.deviceID, now, hb)) {
			return closeWith(websocket.CloseGoingAway, "server shutting down")
		}
	}
}

// readMessage reads and decodes one text message; decode failures become
// close errors the agent can read.
func readMessage(ws *websocket.Conn) (any, error) {
	typ, data, err := ws.ReadMessage()
	if err != nil {
		if errors.Is(err, websocket.ErrReadLimit) {
			return nil, closeWith(websocket.CloseMessageTooBig, "message over %d bytes", proto.MaxMessageBytes)
		}
		return nil, err
	}
	if typ != websocket.TextMessage {
		return nil, closeWith(proto.CloseBadMessage, "messages must be JSON text")
	}
	msg, err := proto.Decode(data)
	if err != nil {
		return nil, closeWith(proto.CloseBadMessage, "%v", err)
	}
	return msg, nil
}

func (h *Hub) handshake(ctx context.Context, c *conn) (*proto.Auth, error) {
	nonce, err := proto.NewNonce()
	if err != nil {
		return nil, err
	}
	hello, err := proto.Encode(proto.TypeHello, proto.Hello{MinProtocol: proto.MinProtocol, MaxProtocol: proto.Protocol, Nonce: nonce})
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(h.cfg.HandshakeTimeout)
	_ = c.ws.SetWriteDeadline(deadline)
	if err := c.ws.WriteMessage(websocket.TextMessage, hello); err != nil {
		return nil, fmt.Errorf("sending hello: %w", err)
	}
	_ = c.ws.SetReadDeadline(deadline)
	msg, err := readMessage(c.ws)
	var ne interface{ Timeout() bool }
	if errors.As(err, &ne) && ne.Timeout() {
		return nil, closeWith(proto.CloseHandshakeTimeout, "no auth within %s", h.cfg.HandshakeTimeout)
	}
	if err != nil {
		return nil, err
	}
	auth, ok := msg.(*proto.Auth)
	if !ok {
		return nil, closeWith(proto.CloseBadMessage, "expected auth after hello")
	}
	if err := proto.CheckVersion(auth.Protocol, proto.MinProtocol, proto.Protocol); err != nil {
		return nil, closeWith(proto.CloseVersion, "protocol %d unsupported: server speaks %d..%d", auth.Protocol, proto.MinProtocol, proto.Protocol)
	}
	d, err := store.DeviceByID(ctx, h.store.Reader(), auth.DeviceID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, closeWith(proto.CloseUnknownDevice, "unknown device: it was removed or never paired; pair it again")
	}
	if err != nil {
		return nil, fmt.Errorf("looking up device: %w", err)
	}
	if !proto.VerifyAuth(d.PublicKey, nonce, auth.DeviceID, auth.Signature) {
		return nil, closeWith(proto.CloseAuthFailed, "signature does not match this device's key")
	}
	c.deviceID = d.ID
	if err := h.saveInventory(ctx, d, auth); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, closeWith(proto.CloseDeviceRemoved, "this device was removed by its owner")
		}
		return nil, err
	}
	now := h.cfg.Now()
	err = c.send(proto.TypeWelcome, proto.Welcome{
		DeviceID:          d.ID,
		HeartbeatInterval: proto.Duration(h.cfg.HeartbeatInterval),
		IdleTimeout:       proto.Duration(h.cfg.OfflineAfter),
		ServerTime:        now,
	})
	if err != nil {
		return nil, fmt.Errorf("sending welcome: %w", err)
	}
	_ = c.ws.SetWriteDeadline(time.Time{})
	return auth, nil
}

func (h *Hub) saveInventory(ctx context.Context, d store.Device, auth *proto.Auth) error {
	host, err := json.Marshal(auth.Inventory.Host)
	if err != nil {
		return fmt.Errorf("encoding host inventory: %w", err)
	}
	d.AgentVersion, d.HostJSON = auth.AgentVersion, string(host)
	d.GPUStatus = ""
	if !auth.Inventory.GPUStatus.Available {
		d.GPUStatus = auth.Inventory.GPUStatus.Reason
	}
	d.GPUs = d.GPUs[:0]
	d.Simulated = false
	d.Region, d.Runtimes = auth.Region, nil
	for _, rt := range auth.Runtimes {
		d.Runtimes = append(d.Runtimes, rt.Name)
	}
	for _, g := range auth.Inventory.GPUs {
		d.GPUs = append(d.GPUs, store.DeviceGPU{Index: g.Index, UUID: g.UUID, Name: g.Name, MemoryTotal: g.MemoryTotal, Driver: g.Driver, Simulated: g.Simulated})
		d.Simulated = d.Simulated || g.Simulated
	}
	now := h.cfg.Now()
	return h.store.Write(ctx, func(tx *sql.Tx) error {
		if err := store.UpdateInventory(ctx, tx, d); err != nil {
			return err
		}
		if err := store.SetInventoryHash(ctx, tx, d.ID, inventoryHash(d.GPUs)); err != nil {
			return err
		}
		if flag, err := store.RecordGPUSightings(ctx, tx, d.ID, d.UserID, d.GPUs, now); err != nil {
			return err
		} else if flag != "" {
			h.log.Warn("device flagged", "device", d.ID, "reason", flag)
		}
		// Being heard at connect counts as seen, so a device is online as soon
		// as it is back rather than one flush later.
		return store.TouchDevices(ctx, tx, map[string]time.Time{d.ID: now})
	})
}

func telemetryRow(deviceID string, at time.Time, hb *proto.Heartbeat) store.TelemetryRow {
	r := store.TelemetryRow{
		DeviceID: deviceID, At: at, Seq: hb.Seq, State: hb.State,
		CPUPct: hb.Host.CPUPct, MemUsed: hb.Host.MemUsed, MemTotal: hb.Host.MemTotal,
		DiskUsed: hb.Host.DiskUsed, DiskTotal: hb.Host.DiskTotal, NetRx: hb.Host.NetRx, NetTx: hb.Host.NetTx,
		GPUs: make([]store.GPUReading, 0, len(hb.GPUs)),
	}
	for _, g := range hb.GPUs {
		r.GPUs = append(r.GPUs, gpuReading(g))
	}
	return r
}

func gpuReading(g hw.GPUSample) store.GPUReading {
	return store.GPUReading{
		Index: g.Index, TempC: g.TempC, PowerMW: g.PowerMW, PowerLimitMW: g.PowerLimitMW, UtilPct: g.UtilPct,
		MemUsed: g.MemoryUsed, MemTotal: g.MemoryTotal, FanPct: g.FanPct, SMClockMHz: g.SMClockMHz,
	}
}

// inventoryHash fingerprints the GPUs a device reports, so a hardware change
// can trigger a new challenge.
func inventoryHash(gpus []store.DeviceGPU) string {
	h := sha256.New()
	for _, g := range gpus {
		fmt.Fprintf(h, "%d|%s|%s|%d\n", g.Index, g.UUID, g.Name, g.MemoryTotal)
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}
