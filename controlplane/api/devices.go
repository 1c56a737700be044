package api

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"time"

	"github.com/idlegrid/idlegrid/controlplane/account"
	"github.com/idlegrid/idlegrid/controlplane/hub"
	"github.com/idlegrid/idlegrid/controlplane/pricing"
	"github.com/idlegrid/idlegrid/controlplane/problem"
	"github.com/idlegrid/idlegrid/controlplane/store"
	"github.com/idlegrid/idlegrid/controlplane/verify"
	"github.com/idlegrid/idlegrid/shared/proto"
)

// PairRequestJSON is what an agent posts to join an account.
type PairRequestJSON struct {
	Code        string `json:"code,omitempty"`
	EnrollToken string `json:"enroll_token,omitempty"`
	PublicKey   []byte `json:"public_key"` // base64 ed25519 key
	Signature   []byte `json:"signature"`  // over the code or token (proto.SignPairing)
	Name        string `json:"name"`
	Simulated   bool   `json:"simulated,omitempty"`
}

// PairResponseJSON tells the agent its device id.
type PairResponseJSON struct {
	DeviceID string `json:"device_id"`
	Name     string `json:"name"`
}

func (s *Server) pairDevice(w http.ResponseWriter, r *http.Request) error {
	var b PairRequestJSON
	if err := decode(r, &b); err != nil {
		return err
	}
	d, err := s.Accounts.Pair(r.Context(), account.PairRequest{
		Code: b.Code, EnrollToken: b.EnrollToken, PublicKey: b.PublicKey, Signature: b.Signature, Name: b.Name, Simulated: b.Simulated,
	})
	if err != nil {
		return err
	}
	s.Log.Info("device paired", "device", d.ID, "user", d.UserID, "name", d.Name)
	writeJSON(w, http.StatusCreated, PairResponseJSON{DeviceID: d.ID, Name: d.Name})
	return nil
}

// DeviceJSON is a device as its owner sees it.
type DeviceJSON struct {
	ID           string           `json:"id"`
	Name         string           `json:"name"`
	State        string           `json:"state"` // online, suspect, offline
	Connected    bool             `json:"connected"`
	Supply       string           `json:"supply,omitempty"`       // available or paused, while connected
	PauseReason  string           `json:"pause_reason,omitempty"` // why the supplier paused, in words
	LastSeenAt   *time.Time       `json:"last_seen_at,omitempty"`
	CreatedAt    time.Time        `json:"created_at"`
	AgentVersion string           `json:"agent_version"`
	Simulated    bool             `json:"simulated"`
	GPUStatus    string           `json:"gpu_status,omitempty"`
	Host         json.RawMessage  `json:"host"`
	GPUs         []GPUJSON        `json:"gpus"`
	Verification VerificationJSON `json:"verification"`
	Benchmark    *BenchmarkJSON   `json:"benchmark,omitempty"`
	Reputation   ReputationJSON   `json:"reputation"`
	// EarnsPerHour is what the device earns per hour (micro-USD, all its
	// GPUs) at its tier when rented now, before supply and demand.
	EarnsPerHour int64 `json:"earns_per_hour"`
}

// VerificationJSON is whether the device proved its compute.
type VerificationJSON struct {
	Verified     bool       `json:"verified"`
	Status       string     `json:"status"`
	Reason       string     `json:"reason,omitempty"`
	LastPassedAt *time.Time `json:"last_passed_at,omitempty"`
	LastFailedAt *time.Time `json:"last_failed_at,omitempty"`
	Passed       int        `json:"challenges_passed"`
	Failed       int        `json:"challenges_failed"`
}

// BenchmarkJSON is the latest benchmark report with its score and tier.
type BenchmarkJSON struct {
	MeasuredAt time.Time       `json:"measured_at"`
	Score      float64         `json:"score"`
	Tier       string          `json:"tier"`
	Report     json.RawMessage `json:"report"`
}

// ReputationJSON scores the device's record.
type ReputationJSON struct {
	Score    float64 `json:"score"`
	Uptime7d float64 `json:"uptime_7d"`
}

// GPUJSON is one GPU of a device.
type GPUJSON struct {
	Index       int    `json:"index"`
	UUID        string `json:"uuid"`
	Name        string `json:"name"`
	MemoryTotal uint64 `json:"memory_total"`
	Driver      string `json:"driver,omitempty"`
	Simulated   bool   `json:"simulated"`
}

// DeviceView converts a stored device for display, with its verification,
// latest benchmark and reputation; the console uses it too.
func (s *Server) DeviceView(ctx context.Context, d store.Device, now time.Time) (DeviceJSON, error) {
	live, connected := s.Hub.Live(d.ID)
	if live.LastSeen.After(d.LastSeenAt) {
		d.LastSeenAt = live.LastSeen
	}
	out := DeviceJSON{
		ID: d.ID, Name: d.Name, State: s.Hub.Config().State(d.LastSeenAt, now), Connected: connected,
		LastSeenAt: timePtr(d.LastSeenAt), CreatedAt: d.CreatedAt, AgentVersion: d.AgentVersion, Simulated: d.Simulated,
		GPUStatus: d.GPUStatus, Host: json.RawMessage(d.HostJSON), GPUs: []GPUJSON{},
		Supply: live.State, PauseReason: live.PauseReason,
	}
	if !json.Valid(out.Host) {
		out.Host = json.RawMessage("{}")
	}
	for _, g := range d.GPUs {
		out.GPUs = append(out.GPUs, GPUJSON{Index: g.Index, UUID: g.UUID, Name: g.Name, MemoryTotal: g.MemoryTotal, Driver: g.Driver, Simulated: g.Simulated})
	}
	v, err := store.DeviceVerification(ctx, s.Store.Reader(), d.ID)
	if err != nil {
		return out, err
	}
	ok, status, reason := verify.Status(v, now, s.VerifyEvery)
	out.Verification = VerificationJSON{Verified: ok, Status: status, Reason: reason,
		LastPassedAt: timePtr(v.VerifiedAt), LastFailedAt: timePtr(v.FailedAt), Passed: v.Passed, Failed: v.Failed}
	up, err := store.Uptime(ctx, s.Store.Reader(), d.ID, now.Add(-7*24*time.Hour), now, s.Hub.Config().HeartbeatInterval)
	if err != nil {
		return out, err
	}
	out.Reputation = ReputationJSON{Score: round3(verify.Reputation(up, v.Passed, v.Failed)), Uptime7d: round3(up)}
	bs, err := store.Benchmarks(ctx, s.Store.Reader(), d.ID, 1)
	if err != nil {
		return out, err
	}
	tier := pricing.Unrated
	if len(bs) == 1 {
		out.Benchmark = &BenchmarkJSON{MeasuredAt: bs[0].MeasuredAt, Score: bs[0].Score, Tier: bs[0].Tier, Report: json.RawMessage(bs[0].Report)}
		tier = bs[0].Tier
	}
	if len(d.GPUs) > 0 && s.Quoter != nil {
		if p, err := pricing.Quote(pricing.Inputs{Tier: tier, Matching: 1, At: now, Hours: 1, DownMbps: 100}, s.Quoter.Pricing); err == nil {
			out.EarnsPerHour = p.SupplierPerHour * int64(len(d.GPUs))
		}
	}
	return out, nil
}

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

func (s *Server) listDevices(w http.ResponseWriter, r *http.Request) error {
	ds, err := store.DevicesByUser(r.Context(), s.Store.Reader(), UserFrom(r.Context()).ID)
	if err != nil {
		return err
	}
	now := s.Now()
	out := make([]DeviceJSON, 0, len(ds))
	for _, d := range ds {
		v, err := s.DeviceView(r.Context(), d, now)
		if err != nil {
			return err
		}
		out = append(out, v)
	}
	writeJSON(w, http.StatusOK, map[string]any{"devices": out})
	return nil
}

// ownDevice loads a device of the caller; someone else's is ErrNotFound, so
// ids of other accounts' devices can't be probed.
func (s *Server) ownDevice(r *http.Request) (store.Device, error) {
	d, err := store.DeviceByID(r.Context(), s.Store.Reader(), pathID(r))
	if err != nil {
		return store.Device{}, err
	}
	if d.UserID != UserFrom(r.Context()).ID {
		return store.Device{}, store.ErrNotFound
	}
	return d, nil
}

func (s *Server) getDevice(w http.ResponseWriter, r *http.Request) error {
	d, err := s.ownDevice(r)
	if err != nil {
		return err
	}
	return s.writeDevice(w, r, d)
}

func (s *Server) writeDevice(w http.ResponseWriter, r *http.Request, d store.Device) error {
	v, err := s.DeviceView(r.Context(), d, s.Now())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

type patchDeviceBody struct {
	Name *string `json:"name"`
}

func (s *Server) patchDevice(w http.ResponseWriter, r *http.Request) error {
	var b patchDeviceBody
	if err := decode(r, &b); err != nil {
		return err
	}
	if b.Name == nil {
		return problem.Invalid("nothing_to_change", "send the fields to change, e.g. {\"name\": \"rig-3\"}")
	}
	if _, err := s.RenameDevice(r.Context(), UserFrom(r.Context()).ID, pathID(r), *b.Name); err != nil {
		return err
	}
	d, err := s.ownDevice(r)
	if err != nil {
		return err
	}
	return s.writeDevice(w, r, d)
}

// RenameDevice renames userID's device, returning the cleaned name.
func (s *Server) RenameDevice(ctx context.Context, userID, id, name string) (string, error) {
	name, err := account.CleanDeviceName(name)
	if err != nil {
		return "", err
	}
	return name, s.Store.Write(ctx, func(tx *sql.Tx) error { return store.RenameDevice(ctx, tx, userID, id, name) })
}

// RemoveDevice deletes userID's device with its telemetry and disconnects
// its agent: the machine must pair again to come back. Earnings and
// receipts stay.
func (s *Server) RemoveDevice(ctx context.Context, userID, id string) error {
	if err := s.Store.Write(ctx, func(tx *sql.Tx) error { return store.DeleteDevice(ctx, tx, userID, id) }); err != nil {
		return err
	}
	s.Hub.Disconnect(id, proto.CloseDeviceRemoved, "this device was removed by its owner")
	return nil
}

func (s *Server) deleteDevice(w http.ResponseWriter, r *http.Request) error {
	if err := s.RemoveDevice(r.Context(), UserFrom(r.Context()).ID, pathID(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// SampleJSON is one stored heartbeat sample.
type SampleJSON struct {
	At        time.Time       `json:"at"`
	Seq       uint64          `json:"seq"`
	State     string          `json:"state"`
	CPUPct    float64         `json:"cpu_pct"`
	MemUsed   uint64          `json:"mem_used"`
	MemTotal  uint64          `json:"mem_total"`
	DiskUsed  uint64          `json:"disk_used"`
	DiskTotal uint64          `json:"disk_total"`
	NetRx     uint64          `json:"net_rx"`
	NetTx     uint64          `json:"net_tx"`
	GPUs      []GPUSampleJSON `json:"gpus"`
}

// GPUSampleJSON is one GPU's reading within a sample.
type GPUSampleJSON struct {
	Index        int    `json:"index"`
	TempC        int    `json:"temp_c"`
	PowerMW      uint32 `json:"power_mw"`
	PowerLimitMW uint32 `json:"power_limit_mw"`
	UtilPct      int    `json:"util_pct"`
	MemUsed      uint64 `json:"mem_used"`
	MemTotal     uint64 `json:"mem_total"`
	FanPct       int    `json:"fan_pct"`
	SMClockMHz   int    `json:"sm_clock_mhz"`
}

func (s *Server) deviceTelemetry(w http.ResponseWriter, r *http.Request) error {
	d, err := s.ownDevice(r)
	if err != nil {
		return err
	}
	since, err := parseSince(r.URL.Query().Get("since"), s.Now())
	if err != nil {
		return err
	}
	limit, err := parseLimit(r.URL.Query().Get("limit"), 500, 5000)
	if err != nil {
		return err
	}
	rows, err := store.TelemetrySince(r.Context(), s.Store.Reader(), d.ID, since, limit)
	if err != nil {
		return err
	}
	out := make([]SampleJSON, 0, len(rows))
	for _, t := range rows {
		sj := SampleJSON{At: t.At, Seq: t.Seq, State: t.State, CPUPct: t.CPUPct, MemUsed: t.MemUsed, MemTotal: t.MemTotal,
			DiskUsed: t.DiskUsed, DiskTotal: t.DiskTotal, NetRx: t.NetRx, NetTx: t.NetTx, GPUs: []GPUSampleJSON{}}
		for _, g := range t.GPUs {
			sj.GPUs = append(sj.GPUs, GPUSampleJSON(g))
		}
		out = append(out, sj)
	}
	writeJSON(w, http.StatusOK, map[string]any{"device_id": d.ID, "samples": out})
	return nil
}

func (s *Server) deviceBenchmarks(w http.ResponseWriter, r *http.Request) error {
	d, err := s.ownDevice(r)
	if err != nil {
		return err
	}
	bs, err := store.Benchmarks(r.Context(), s.Store.Reader(), d.ID, 50)
	if err != nil {
		return err
	}
	out := make([]BenchmarkJSON, 0, len(bs))
	for _, b := range bs {
		out = append(out, BenchmarkJSON{MeasuredAt: b.MeasuredAt, Score: b.Score, Tier: b.Tier, Report: json.RawMessage(b.Report)})
	}
	writeJSON(w, http.StatusOK, map[string]any{"device_id": d.ID, "benchmarks": out})
	return nil
}

// verifyDevice challenges one of the caller's devices now, e.g. after a
// failure was fixed. The outcome shows on the device resource.
func (s *Server) verifyDevice(w http.ResponseWriter, r *http.Request) error {
	d, err := s.ownDevice(r)
	if err != nil {
		return err
	}
	id, err := s.Challenger.Challenge(r.Context(), d.ID)
	switch {
	case errors.Is(err, hub.ErrNotConnected):
		return problem.New(problem.ErrConflict, "device_offline", "the device is not connected; start it and try again")
	case err != nil:
		return problem.New(problem.ErrConflict, "challenge_running", "%v", err)
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"challenge_id": id})
	return nil
}
