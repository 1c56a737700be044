// Package verify keeps the evidence of what each device can do: it stores
// the devices' benchmark reports (scored here with the published formula,
// not the device's own arithmetic) and challenges devices to prove their
// compute. On a schedule
// (hourly by default), on first connect and when the hardware changes, it
// sends a seeded matrix challenge through the hub, picks rows to open only
// after the device has committed to its Merkle root, and checks each row
// by recomputing it. The outcome, with its reason, is recorded in the same
// transaction as the device's verification state.
package verify

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/big"
	"slices"
	"sync"
	"time"

	"github.com/idlegrid/idlegrid/controlplane/hub"
	"github.com/idlegrid/idlegrid/controlplane/pricing"
	"github.com/idlegrid/idlegrid/controlplane/store"
	"github.com/idlegrid/idlegrid/shared/challenge"
	"github.com/idlegrid/idlegrid/shared/hw"
	"github.com/idlegrid/idlegrid/shared/proto"
)

// Config tunes the service; zero fields take defaults.
type Config struct {
	Every   time.Duration // re-challenge a verified device this often (1 h)
	Timeout time.Duration // a device must finish within this (2 min)
	// StatusEvery is how often an idle device is re-sent its status
	// (uptime and reputation drift slowly); devices at work hear every
	// sweep, since their earnings move (10 min).
	StatusEvery time.Duration
	// MaxInFlight bounds the challenges the service starts by itself at
	// once (64), so a fleet connecting at once is verified over minutes
	// instead of all at the same moment; an owner's "verify now" is not
	// held back.
	MaxInFlight int
	N, K        int // matrix size and rows opened
	Now         func() time.Time
}

func (c Config) withDefaults() Config {
	if c.Every <= 0 {
		c.Every = time.Hour
	}
	if c.Timeout <= 0 {
		c.Timeout = 2 * time.Minute
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = 64
	}
	if c.StatusEvery <= 0 {
		c.StatusEvery = 10 * time.Minute
	}
	if c.N == 0 {
		c.N = challenge.DefaultN
	}
	if c.K == 0 {
		c.K = challenge.DefaultK
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Service runs challenges.
type Service struct {
	cfg   Config
	store *store.Store
	hub   *hub.Hub
	log   *slog.Logger

	mu       sync.Mutex
	inflight map[string]*pending // by device
	due      chan string         // devices to check now
	// notDue holds, per connected device, the time before which it needs
	// no challenge, so a sweep of a large fleet reads only those due. A
	// (re)connect forgets it: the hardware may have changed.
	notDue map[string]time.Time
	sweeps int // sweeps so far, to spread status updates

	// Enrich, when set, adds the account's earnings and payouts to the
	// status sent to a device (wired by the server; verify knows no money).
	Enrich func(ctx context.Context, userID string, st *proto.DeviceStatus)
}

type pending struct {
	id       string
	params   challenge.Params
	issued   time.Time
	cores    int
	root     [32]byte
	rows     []int
	proven   map[int]bool
	verifier *challenge.Verifier
}

// New registers the service's message handlers on h; call before h serves.
func New(st *store.Store, h *hub.Hub, cfg Config, log *slog.Logger) *Service {
	s := &Service{cfg: cfg.withDefaults(), store: st, hub: h, log: log, inflight: map[string]*pending{}, notDue: map[string]time.Time{}, due: make(chan string, 1024)}
	h.Handle(proto.TypeChallengeCommit, s.onCommit)
	h.Handle(proto.TypeChallengeProof, s.onProof)
	h.Handle(proto.TypeBenchReport, s.onBench)
	h.OnConnect(func(id string) {
		s.mu.Lock()
		delete(s.notDue, id)
		s.mu.Unlock()
		s.tell(context.Background(), id)
		select {
		case s.due <- id:
		default: // the periodic sweep will get to it
		}
	})
	return s
}

// Serve checks devices as they connect and sweeps every minute for
// devices due and challenges timed out, until ctx ends.
func (s *Service) Serve(ctx context.Context) error {
	if err := s.store.Write(ctx, func(tx *sql.Tx) error {
		_, err := store.AbandonOpenChallenges(ctx, tx, s.cfg.Now())
		return err
	}); err != nil {
		if ctx.Err() != nil {
			return nil // stopped before it started
		}
		return err
	}
	sweep := time.NewTicker(s.sweepEvery())
	defer sweep.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case id := <-s.due:
			s.maybeChallenge(ctx, id)
		case <-sweep.C:
			s.sweep(ctx, s.spread())
		}
	}
}

// sweep fails late challenges, challenges devices due, and re-sends
// statuses: every sweep to devices at work, and to a 1/spread share of the
// others in turn, so each hears within spread sweeps.
func (s *Service) sweep(ctx context.Context, spread int) {
	s.expire(ctx)
	busy, err := store.BusyDevices(ctx, s.store.Reader())
	if err != nil {
		s.log.Warn("listing devices at work", "err", err)
	}
	ids := s.hub.ConnectedIDs()
	s.forgetGone(ids)
	turn := s.sweeps % spread
	s.sweeps++
	for _, id := range ids {
		s.maybeChallenge(ctx, id)
		if busy[id] || bucket(id, spread) == turn {
			s.tell(ctx, id) // earnings and uptime move between events
		}
	}
}

// bucket spreads device ids over n turns.
func bucket(id string, n int) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	return int(h.Sum32() % uint32(n))
}

// forgetGone drops not-due times of devices no longer connected.
func (s *Service) forgetGone(connected []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.notDue) <= len(connected) {
		return
	}
	keep := make(map[string]time.Time, len(connected))
	for _, id := range connected {
		if t, ok := s.notDue[id]; ok {
			keep[id] = t
		}
	}
	s.notDue = keep
}

// Due reports whether a device needs a challenge now, and why.
func Due(v store.Verification, now time.Time, every time.Duration) (bool, string) {
	switch {
	case v.VerifiedAt.IsZero() && v.FailedAt.IsZero():
		return true, "never challenged"
	case !v.VerifiedAt.IsZero() && v.VerifiedInventory != v.InventoryHash:
		return true, "hardware changed"
	case !v.FailedAt.IsZero() && v.FailedAt.After(v.VerifiedAt):
		return now.Sub(v.FailedAt) >= every, "failed last time"
	}
	return now.Sub(v.VerifiedAt) >= every, "scheduled re-check"
}

// NextDue is when a device whose record is v needs its next challenge;
// a time not after now means now.
func NextDue(v store.Verification, now time.Time, every time.Duration) time.Time {
	if due, _ := Due(v, now, every); due {
		return now
	}
	if !v.FailedAt.IsZero() && v.FailedAt.After(v.VerifiedAt) {
		return v.FailedAt.Add(every)
	}
	return v.VerifiedAt.Add(every)
}

func (s *Service) maybeChallenge(ctx context.Context, deviceID string) {
	now := s.cfg.Now()
	s.mu.Lock()
	_, busy := s.inflight[deviceID]
	full := len(s.inflight) >= s.cfg.MaxInFlight
	until, known := s.notDue[deviceID]
	s.mu.Unlock()
	if busy || full || (known && now.Before(until)) {
		return // a full queue: the next sweep comes back to it
	}
	v, err := store.DeviceVerification(ctx, s.store.Reader(), deviceID)
	if err != nil {
		return // removed meanwhile
	}
	if next := NextDue(v, now, s.cfg.Every); next.After(now) {
		s.mu.Lock()
		s.notDue[deviceID] = next
		s.mu.Unlock()
		return
	}
	if _, err := s.Challenge(ctx, deviceID); err != nil && !errors.Is(err, hub.ErrNotConnected) && ctx.Err() == nil {
		s.log.Warn("challenging device", "device", deviceID, "err", err)
	}
}

// Challenge issues a challenge to a connected device now and returns its id.
func (s *Service) Challenge(ctx context.Context, deviceID string) (string, error) {
	d, err := store.DeviceByID(ctx, s.store.Reader(), deviceID)
	if err != nil {
		return "", err
	}
	var host hw.HostInfo
	_ = json.Unmarshal([]byte(d.HostJSON), &host)
	p := &pending{params: challenge.Params{N: s.cfg.N}, issued: s.cfg.Now(), cores: host.CPUCores, proven: map[int]bool{}}
	if _, err := rand.Read(p.params.Seed[:]); err != nil {
		return "", err
	}
	idb := make([]byte, 10)
	_, _ = rand.Read(idb)
	p.id = "chl_" + hex.EncodeToString(idb)
	s.mu.Lock()
	if _, busy := s.inflight[deviceID]; busy {
		s.mu.Unlock()
		return "", fmt.Errorf("device %s already has a challenge running", deviceID)
	}
	s.inflight[deviceID] = p
	s.mu.Unlock()
	err = s.store.Write(ctx, func(tx *sql.Tx) error {
		return store.InsertChallenge(ctx, tx, store.Challenge{ID: p.id, DeviceID: deviceID, Seed: p.params.Seed[:], N: p.params.N, K: s.cfg.K, IssuedAt: p.issued})
	})
	if err == nil {
		err = s.hub.Send(deviceID, proto.TypeChallenge, proto.Challenge{ID: p.id, Seed: p.params.Seed[:], N: p.params.N})
	}
	if err != nil {
		s.mu.Lock()
		delete(s.inflight, deviceID)
		s.mu.Unlock()
		s.finish(ctx, p.id, false, false, "not delivered: "+err.Error())
		return "", err
	}
	s.log.Info("challenge sent", "device", deviceID, "challenge", p.id, "n", p.params.N)
	return p.id, nil
}

// take returns the device's in-flight challenge if id names it.
func (s *Service) current(deviceID, id string) (*pending, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.inflight[deviceID]
	return p, p != nil && p.id == id
}

func (s *Service) onCommit(ctx context.Context, deviceID string, msg any) error {
	m := msg.(*proto.ChallengeCommit)
	p, ok := s.current(deviceID, m.ID)
	switch {
	case p == nil:
		s.log.Info("commit for no running challenge ignored", "device", deviceID, "challenge", m.ID)
		return nil
	case !ok:
		s.fail(ctx, deviceID, p, "answered another challenge (a stale or replayed answer)")
		return nil
	case len(p.rows) > 0:
		s.fail(ctx, deviceID, p, "committed twice")
		return nil
	}
	took := s.cfg.Now().Sub(p.issued)
	if floor := challenge.MinPlausible(p.params.N, p.cores); took < floor {
		s.fail(ctx, deviceID, p, fmt.Sprintf("answered in %s, faster than %d CPU cores can (at least %s)", took, max(p.cores, 1), floor))
		return nil
	}
	copy(p.root[:], m.Root)
	p.rows = challenge.PickRows(p.params.N, s.cfg.K, cryptoIntn)
	v, err := challenge.NewVerifier(p.params)
	if err != nil {
		return err
	}
	p.verifier = v
	rowsJSON, _ := json.Marshal(p.rows)
	if err := s.store.Write(ctx, func(tx *sql.Tx) error {
		return store.CommitChallenge(ctx, tx, p.id, m.Root, m.ElapsedMS, string(rowsJSON), s.cfg.Now())
	}); err != nil {
		s.log.Error("recording commit", "challenge", p.id, "err", err)
		return nil
	}
	if err := s.hub.Send(deviceID, proto.TypeChallengeOpen, proto.ChallengeOpen{ID: p.id, Rows: p.rows}); err != nil {
		s.log.Warn("asking for rows", "challenge", p.id, "err", err)
	}
	return nil
}

func (s *Service) onProof(ctx context.Context, deviceID string, msg any) error {
	m := msg.(*proto.ChallengeProof)
	p, ok := s.current(deviceID, m.ID)
	switch {
	case p == nil:
		return nil
	case !ok:
		s.fail(ctx, deviceID, p, "answered another challenge (a stale or replayed answer)")
		return nil
	case p.verifier == nil:
		s.fail(ctx, deviceID, p, "sent rows before committing")
		return nil
	case !slices.Contains(p.rows, m.Index) || p.proven[m.Index]:
		s.fail(ctx, deviceID, p, fmt.Sprintf("opened row %d, which was not asked for", m.Index))
		return nil
	}
	row, err := challenge.ParseRow(m.Row)
	if err != nil {
		s.fail(ctx, deviceID, p, err.Error())
		return nil
	}
	rp := challenge.RowProof{Index: m.Index, Row: row, Proof: make([][32]byte, len(m.Proof))}
	for i, h := range m.Proof {
		copy(rp.Proof[i][:], h)
	}
	if err := p.verifier.Check(p.root, rp); err != nil {
		s.fail(ctx, deviceID, p, err.Error())
		return nil
	}
	s.mu.Lock()
	p.proven[m.Index] = true
	done := len(p.proven) == len(p.rows)
	if done {
		delete(s.inflight, deviceID)
	}
	s.mu.Unlock()
	if done {
		s.finish(ctx, p.id, true, true, "")
		s.tell(ctx, deviceID)
		s.log.Info("challenge passed", "device", deviceID, "challenge", p.id, "took", s.cfg.Now().Sub(p.issued).Round(time.Millisecond))
	}
	return nil
}

func (s *Service) fail(ctx context.Context, deviceID string, p *pending, reason string) {
	s.mu.Lock()
	if s.inflight[deviceID] == p {
		delete(s.inflight, deviceID)
	}
	s.mu.Unlock()
	s.log.Warn("challenge failed", "device", deviceID, "challenge", p.id, "reason", reason)
	s.finish(ctx, p.id, false, true, reason)
	s.tell(ctx, deviceID)
}

func (s *Service) finish(ctx context.Context, id string, passed, counted bool, reason string) {
	// A result is recorded even while the server stops.
	ctx = context.WithoutCancel(ctx)
	err := s.store.Write(ctx, func(tx *sql.Tx) error {
		return store.FinishChallenge(ctx, tx, id, passed, counted, reason, s.cfg.Now())
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.log.Error("recording challenge result", "challenge", id, "err", err)
	}
}

// expire fails challenges that ran past the timeout; a device that is no
// longer connected is not blamed.
func (s *Service) expire(ctx context.Context) {
	now := s.cfg.Now()
	s.mu.Lock()
	var late []string
	for dev, p := range s.inflight {
		if now.Sub(p.issued) > s.cfg.Timeout {
			late = append(late, dev)
		}
	}
	s.mu.Unlock()
	for _, dev := range late {
		s.mu.Lock()
		p := s.inflight[dev]
		s.mu.Unlock()
		if p == nil {
			continue
		}
		if s.hub.Connected(dev) {
			s.fail(ctx, dev, p, fmt.Sprintf("no answer within %s", s.cfg.Timeout))
			continue
		}
		s.mu.Lock()
		delete(s.inflight, dev)
		s.mu.Unlock()
		s.finish(ctx, p.id, false, false, "abandoned: the device disconnected")
	}
}

// Sweep runs one sweep now, as the ticker would (tests use it instead of
// waiting a minute).
func (s *Service) Sweep(ctx context.Context) {
	s.sweep(ctx, s.spread())
}

// sweepEvery is the sweep's period; spread how many sweeps it takes to
// re-send every idle device its status.
func (s *Service) sweepEvery() time.Duration { return min(time.Minute, s.cfg.Timeout/2) }
func (s *Service) spread() int               { return max(1, int(s.cfg.StatusEvery/s.sweepEvery())) }

func cryptoIntn(n int) int {
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		panic(err) // crypto/rand does not fail on supported systems
	}
	return int(v.Int64())
}

// onBench stores a benchmark report, scored with the published formula.
// Reports dated in the future are refused: the date dedupes resends.
func (s *Service) onBench(ctx context.Context, deviceID string, msg any) error {
	m := msg.(*proto.BenchReport)
	now := s.cfg.Now()
	if m.At.After(now.Add(24 * time.Hour)) {
		return fmt.Errorf("benchmark report dated %s, in the future", m.At.Format(time.RFC3339))
	}
	rep := m.Report()
	raw, err := json.Marshal(proto.BenchReportOf(rep))
	if err != nil {
		return err
	}
	err = s.store.Write(ctx, func(tx *sql.Tx) error {
		return store.InsertBenchmark(ctx, tx, store.Benchmark{DeviceID: deviceID, MeasuredAt: m.At, ReceivedAt: now, Score: rep.Score, Tier: rep.Tier, Report: string(raw)})
	})
	if err != nil {
		s.log.Error("storing benchmark", "device", deviceID, "err", err)
		return nil
	}
	s.log.Info("benchmark stored", "device", deviceID, "score", rep.Score, "tier", rep.Tier)
	s.tell(ctx, deviceID)
	return nil
}

// tell sends the device what the control plane thinks of it.
func (s *Service) tell(ctx context.Context, deviceID string) {
	st, err := s.DeviceStatus(ctx, deviceID)
	if err != nil {
		return
	}
	if err := s.hub.Send(deviceID, proto.TypeDeviceStatus, st); err != nil && !errors.Is(err, hub.ErrNotConnected) {
		s.log.Debug("telling device its status", "device", deviceID, "err", err)
	}
}

// DeviceStatus gathers a device's verification, latest tier and
// reputation.
func (s *Service) DeviceStatus(ctx context.Context, deviceID string) (proto.DeviceStatus, error) {
	now := s.cfg.Now()
	v, err := store.DeviceVerification(ctx, s.store.Reader(), deviceID)
	if err != nil {
		return proto.DeviceStatus{}, err
	}
	ok, status, reason := Status(v, now, s.cfg.Every)
	out := proto.DeviceStatus{Verified: ok, Verification: status, VerificationReason: reason}
	tier := pricing.Unrated
	if bs, err := store.Benchmarks(ctx, s.store.Reader(), deviceID, 1); err == nil && len(bs) == 1 {
		out.Tier, out.Score, tier = bs[0].Tier, bs[0].Score, bs[0].Tier
	}
	if d, err := store.DeviceByID(ctx, s.store.Reader(), deviceID); err == nil {
		if len(d.GPUs) > 0 {
			if p, err := pricing.Quote(pricing.Inputs{Tier: tier, Matching: 1, At: now, Hours: 1, DownMbps: 100}, pricing.DefaultConfig()); err == nil {
				out.EarnsPerHour = p.SupplierPerHour * int64(len(d.GPUs))
			}
		}
		if s.Enrich != nil {
			s.Enrich(ctx, d.UserID, &out)
		}
	}
	if up, err := store.Uptime(ctx, s.store.Reader(), deviceID, now.Add(-7*24*time.Hour), now, s.hub.Config().HeartbeatInterval); err == nil {
		out.Reputation = Reputation(up, v.Passed, v.Failed)
	}
	return out, nil
}

// Tell sends a device its status now (e.g. after its wallet changed).
func (s *Service) Tell(ctx context.Context, deviceID string) { s.tell(ctx, deviceID) }
