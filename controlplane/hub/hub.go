// Package hub is the control plane's websocket endpoint for agents: it
// authenticates each device by a signed nonce, keeps one live connection per
// device, takes heartbeats and writes their telemetry to the store in
// batches, and decides liveness from when a device was last heard.
package hub

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/idlegrid/idlegrid/controlplane/store"
	"github.com/idlegrid/idlegrid/shared/proto"
)

// Config tunes the hub. Zero fields take Defaults.
type Config struct {
	HeartbeatInterval time.Duration // told to agents
	OfflineAfter      time.Duration // silence after which a device is offline
	HandshakeTimeout  time.Duration
	FlushInterval     time.Duration // longest a sample waits before it is stored
	FlushRows         int           // a batch this large is stored at once
	Retention         time.Duration // raw telemetry kept this long
	Now               func() time.Time
}

// Defaults returns the production settings.
func Defaults() Config {
	return Config{
		HeartbeatInterval: 5 * time.Second,
		OfflineAfter:      30 * time.Second,
		HandshakeTimeout:  10 * time.Second,
		FlushInterval:     500 * time.Millisecond,
		FlushRows:         2000,
		Retention:         24 * time.Hour,
		Now:               time.Now,
	}
}

func (c Config) withDefaults() Config {
	d := Defaults()
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = d.HeartbeatInterval
	}
	if c.OfflineAfter <= 0 {
		c.OfflineAfter = d.OfflineAfter
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = d.HandshakeTimeout
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = d.FlushInterval
	}
	if c.FlushRows <= 0 {
		c.FlushRows = d.FlushRows
	}
	if c.Retention <= 0 {
		c.Retention = d.Retention
	}
	if c.Now == nil {
		c.Now = d.Now
	}
	return c
}

// Liveness states of a device.
const (
	StateOnline  = "online"
	StateSuspect = "suspect" // three heartbeats missed
	StateOffline = "offline"
)

// State says how alive a device last heard at lastSeen is at now.
func (c Config) State(lastSeen, now time.Time) string {
	c = c.withDefaults()
	age := now.Sub(lastSeen)
	switch {
	case lastSeen.IsZero() || age > c.OfflineAfter:
		return StateOffline
	case age > 3*c.HeartbeatInterval:
		return StateSuspect
	}
	return StateOnline
}

// OnlineSince is the earliest last-seen time that still counts as not
// offline at now.
func (c Config) OnlineSince(now time.Time) time.Time {
	return now.Add(-c.withDefaults().OfflineAfter)
}

// Hub accepts agent connections. Run Serve for its whole life.
type Hub struct {
	cfg   Config
	store *store.Store
	log   *slog.Logger

	upgrader websocket.Upgrader
	queue    chan store.TelemetryRow
	done     chan struct{} // closed when Serve returns
	// linkCtx is the context agent links run under; it ends with Serve.
	linkCtx   context.Context
	stopLinks context.CancelFunc

	mu    sync.Mutex
	conns map[string]*conn

	// gone carries each ended link's last heartbeat time to the writer.
	gone chan deviceSeen

	// Set before serving: handlers for agent messages other than
	// heartbeats, and a hook run (in its own goroutine) on each new link.
	handlers  map[string]Handler
	onConnect func(deviceID string)
}

// Handler takes one message of its type from an authenticated device. An
// error closes the link with CloseBadMessage and the error's words, so
// return one only for a broken rule, never for a failure of our own.
type Handler func(ctx context.Context, deviceID string, msg any) error

// Handle registers the handler for a message type; call before serving.
func (h *Hub) Handle(typ string, fn Handler) { h.handlers[typ] = fn }

// OnConnect registers a hook run for every new authenticated link; call
// before serving.
func (h *Hub) OnConnect(fn func(deviceID string)) { h.onConnect = fn }

func (h *Hub) dispatch(ctx context.Context, deviceID string, msg any) error {
	typ := proto.TypeOf(msg)
	fn := h.handlers[typ]
	if fn == nil {
		return closeWith(proto.CloseBadMessage, "unexpected %s message", typ)
	}
	if err := fn(ctx, deviceID, msg); err != nil {
		return closeWith(proto.CloseBadMessage, "%v", err)
	}
	return nil
}

// ErrNotConnected is returned by Send for a device without a link.
var ErrNotConnected = errors.New("device not connected")

// Send writes a message to a connected device.
func (h *Hub) Send(deviceID, typ string, body any) error {
	h.mu.Lock()
	c := h.conns[deviceID]
	h.mu.Unlock()
	if c == nil {
		return ErrNotConnected
	}
	if err := c.send(typ, body); err != nil {
		return fmt.Errorf("sending %s to %s: %w", typ, deviceID, err)
	}
	return nil
}

// ConnectedIDs lists the devices with a live link.
func (h *Hub) ConnectedIDs() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	ids := make([]string, 0, len(h.conns))
	for id := range h.conns {
		ids = append(ids, id)
	}
	return ids
}

// New returns a Hub over st.
func New(st *store.Store, cfg Config, log *slog.Logger) *Hub {
	cfg = cfg.withDefaults()
	linkCtx, stopLinks := context.WithCancel(context.Background())
	return &Hub{
		linkCtx:   linkCtx,
		stopLinks: stopLinks,
		cfg:       cfg,
		store:     st,
		log:       log,
		upgrader: websocket.Upgrader{
			ReadBufferSize:  1024,
			WriteBufferSize: 1024,
			WriteBufferPool: &sync.Pool{},
			// Agents are programs, not pages: no Origin to check.
			CheckOrigin: func(*http.Request) bool { return true },
		},
		queue:    make(chan store.TelemetryRow, 4*cfg.FlushRows),
		done:     make(chan struct{}),
		gone:     make(chan deviceSeen, 4096),
		conns:    map[string]*conn{},
		handlers: map[string]Handler{},
	}
}

// Config returns the effective settings.
func (h *Hub) Config() Config { return h.cfg }

// Connected reports whether the device has a live, authenticated link.
func (h *Hub) Connected(deviceID string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, ok := h.conns[deviceID]
	return ok
}

// Live is what the hub knows of a connected device beyond the store.
type Live struct {
	// LastSeen is fresher than the stored last_seen_at, which trails a
	// live device by up to a third of the offline time (see lastSeen).
	LastSeen    time.Time
	State       string // proto.StateAvailable or StatePaused; empty before the first heartbeat
	PauseReason string
}

// Live returns a connected device's live state; ok is false when it is not
// connected.
func (h *Hub) Live(deviceID string) (Live, bool) {
	h.mu.Lock()
	c := h.conns[deviceID]
	h.mu.Unlock()
	if c == nil {
		return Live{}, false
	}
	l := Live{LastSeen: time.UnixMilli(c.lastSeen.Load()).UTC()}
	if s := c.supply.Load(); s != nil {
		l.State, l.PauseReason = s.state, s.reason
	}
	return l, true
}

// ConnectedCount is the number of live links.
func (h *Hub) ConnectedCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.conns)
}

// Disconnect closes a device's link with a close code and reason, e.g. when
// its owner removes it.
func (h *Hub) Disconnect(deviceID string, code int, reason string) {
	h.mu.Lock()
	c := h.conns[deviceID]
	h.mu.Unlock()
	if c != nil {
		c.close(code, reason)
	}
}

// Serve stores queued telemetry in batches and prunes old samples until ctx
// ends; then it closes every link and stores what is still queued.
func (h *Hub) Serve(ctx context.Context) error {
	defer close(h.done)
	defer h.stopLinks()
	flush := time.NewTicker(h.cfg.FlushInterval)
	defer flush.Stop()
	prune := time.NewTicker(10 * time.Minute)
	defer prune.Stop()
	var batch []store.TelemetryRow
	seen := &lastSeen{every: h.cfg.OfflineAfter / 3, written: map[string]time.Time{}, due: map[string]time.Time{}}
	write := func(final bool) {
		for drained := false; !drained; {
			select {
			case g := <-h.gone:
				if g.at.After(seen.due[g.id]) {
					seen.due[g.id] = g.at
				}
			default:
				drained = true
			}
		}
		if len(batch) == 0 && len(seen.due) == 0 {
			return
		}
		// A failed write keeps the batch for the next tick: nothing is dropped
		// while the database is briefly busy.
		touch := seen.plan(batch, final)
		if err := h.writeBatch(context.WithoutCancel(ctx), batch, touch); err != nil {
			h.log.Error("storing telemetry", "rows", len(batch), "err", err)
			if len(batch) < 10*h.cfg.FlushRows {
				return
			}
			h.log.Error("dropping telemetry after repeated failures", "rows", len(batch))
		} else {
			seen.wrote(touch)
		}
		batch = batch[:0]
	}
	for {
		select {
		case <-ctx.Done():
			h.closeAll(websocket.CloseGoingAway, "server shutting down")
			for {
				select {
				case r := <-h.queue:
					batch = append(batch, r)
					continue
				default:
				}
				break
			}
			write(true)
			return nil
		case r := <-h.queue:
			batch = append(batch, r)
			if len(batch) >= h.cfg.FlushRows {
				write(false)
			}
		case <-flush.C:
			write(false)
		case <-prune.C:
			write(false) // what is queued is older than what the roll-up leaves
			if err := h.prune(ctx); err != nil && ctx.Err() == nil {
				h.log.Error("pruning telemetry", "err", err)
			}
		}
	}
}

// pruneChunk is how many heartbeats one pruning transaction deletes.
const pruneChunk = 20000

// prune rolls raw heartbeats up into hourly uptime counts, then deletes
// raw telemetry past its retention and hourly counts past theirs, a chunk
// per transaction so heartbeats keep being stored in between.
func (h *Hub) prune(ctx context.Context) error {
	now := h.cfg.Now()
	err := h.store.Write(ctx, func(tx *sql.Tx) error {
		// The writer stores a heartbeat within a flush of its arrival; ten
		// minutes leaves room for a slow disk.
		if _, err := store.RollUpUptime(ctx, tx, now.Add(-10*time.Minute)); err != nil {
			return err
		}
		return store.PruneUptime(ctx, tx, now.Add(-UptimeRetention))
	})
	if err != nil {
		return err
	}
	// Raw samples go only once they are rolled up, whatever the retention.
	cut := min(now.Add(-h.cfg.Retention).UnixMilli(), now.Add(-10*time.Minute).Truncate(time.Hour).UnixMilli())
	for {
		var n int64
		err := h.store.Write(ctx, func(tx *sql.Tx) (err error) {
			n, err = store.PruneTelemetry(ctx, tx, time.UnixMilli(cut), pruneChunk)
			return err
		})
		if err != nil || n < pruneChunk {
			return err
		}
	}
}

// UptimeRetention is how long hourly uptime counts are kept: reputation
// looks back a week.
const UptimeRetention = 30 * 24 * time.Hour

func (h *Hub) writeBatch(ctx context.Context, rows []store.TelemetryRow, touch map[string]time.Time) error {
	return h.store.Write(ctx, func(tx *sql.Tx) error {
		if _, err := store.InsertTelemetry(ctx, tx, rows); err != nil {
			return err
		}
		return store.TouchDevices(ctx, tx, touch)
	})
}

// deviceSeen is a device's last heartbeat on a link that ended.
type deviceSeen struct {
	id string
	at time.Time
}

// lastSeen decides which devices' last_seen_at a batch writes, for the
// writer alone: a heartbeating device's at most every `every` (a third of
// the offline time, so "online" never wavers), an ended link's at once and
// exactly. Writing it on every heartbeat was one more updated row, and one
// more dirty page, per heartbeat.
type lastSeen struct {
	every   time.Duration
	written map[string]time.Time // last time written, per live device
	due     map[string]time.Time // ended links' last heartbeats
}

// plan is what to write with rows; final writes everything.
func (l *lastSeen) plan(rows []store.TelemetryRow, final bool) map[string]time.Time {
	latest := make(map[string]time.Time, len(rows))
	for _, r := range rows {
		if r.At.After(latest[r.DeviceID]) {
			latest[r.DeviceID] = r.At
		}
	}
	out := make(map[string]time.Time, len(l.due))
	for id, at := range latest {
		if final || at.Sub(l.written[id]) >= l.every {
			out[id] = at
		}
	}
	for id, at := range l.due {
		if at.After(out[id]) {
			out[id] = at
		}
	}
	return out
}

// wrote records a successful write of plan's times.
func (l *lastSeen) wrote(touched map[string]time.Time) {
	for id, at := range touched {
		if _, ended := l.due[id]; ended {
			delete(l.written, id) // its next link starts afresh
			continue
		}
		l.written[id] = at
	}
	clear(l.due)
}

func (h *Hub) closeAll(code int, reason string) {
	h.mu.Lock()
	conns := make([]*conn, 0, len(h.conns))
	for _, c := range h.conns {
		conns = append(conns, c)
	}
	h.mu.Unlock()
	for _, c := range conns {
		c.close(code, reason)
	}
}

// register makes c the device's live link, replacing an older one.
func (h *Hub) register(c *conn) {
	h.mu.Lock()
	old := h.conns[c.deviceID]
	h.conns[c.deviceID] = c
	h.mu.Unlock()
	if old != nil {
		old.close(proto.CloseReplaced, "replaced by a newer connection of this device")
	}
}

func (h *Hub) unregister(c *conn) {
	h.mu.Lock()
	if h.conns[c.deviceID] == c {
		delete(h.conns, c.deviceID)
	}
	h.mu.Unlock()
	// The store learns the link's last heartbeat at the next flush.
	select {
	case h.gone <- deviceSeen{id: c.deviceID, at: time.UnixMilli(c.lastSeen.Load())}:
	case <-h.done:
	}
}

// enqueue hands a sample to the writer, waiting when it is behind so that
// a slow disk slows agents down instead of losing samples.
func (h *Hub) enqueue(r store.TelemetryRow) bool {
	select {
	case h.queue <- r:
		return true
	case <-h.done:
		return false
	}
}
