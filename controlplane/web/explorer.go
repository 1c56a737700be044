package web

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/idlegrid/idlegrid/controlplane/api"
	"github.com/idlegrid/idlegrid/controlplane/problem"
	"github.com/idlegrid/idlegrid/controlplane/sched"
	"github.com/idlegrid/idlegrid/controlplane/store"
	"github.com/idlegrid/idlegrid/controlplane/verify"
	"github.com/idlegrid/idlegrid/shared/money"
)

// explorerRoutes are the public explorer's pages: what the network has
// and does, for anyone, without an account. Devices appear by id only
// (never their owner, name or host) and clusters without who rents them.
func explorerRoutes() []Route {
	return []Route{
		{"GET", "/explorer", Public, (*Console).explorerHome},
		{"GET", "/explorer/live", Public, (*Console).explorerLive},
		{"GET", "/explorer/clusters", Public, (*Console).explorerClusters},
		{"GET", "/explorer/devices/{id}", Public, (*Console).explorerDevice},
		{"GET", "/explorer/payouts", Public, (*Console).explorerPayouts},
	}
}

// Explorer lists are this long at most.
const (
	explorerClusters = 50
	explorerBatches  = 50
	walletsShown     = 4
)

// networkFigures are the explorer home's counters, rendered into the page
// and streamed to it as they change. Money and hours travel formatted, so
// the live page shows exactly what the server renders.
type networkFigures struct {
	DevicesOnline     int            `json:"devices_online"`
	DevicesTotal      int            `json:"devices_total"`
	GPUsOnline        int            `json:"gpus_online"`
	GPUsTotal         int            `json:"gpus_total"`
	VerifiedSuppliers int            `json:"verified_suppliers"`
	ClustersRunning   int            `json:"clusters_running"`
	GPUHours          string         `json:"gpu_hours"`
	PaidOut           string         `json:"paid_out"`
	PaidOnChain       string         `json:"paid_onchain"`
	Models            []modelFigures `json:"models"`
}

// modelFigures is one GPU model online now and its market price.
type modelFigures struct {
	Model  string `json:"model"`
	Online int    `json:"online"` // GPUs of this model online
	Free   int    `json:"free"`   // of which on devices free to rent now
	// Price is the lowest price per GPU-hour of a 1-GPU, 1-hour request on
	// a free device of this model; "" when none is free.
	Price string `json:"price"`
}

// figuresCache shares one measurement among every open explorer page: the
// page is public, and each measurement prices the whole online supply.
type figuresCache struct {
	mu sync.Mutex
	at time.Time
	f  networkFigures
}

// figuresFresh is how long a measurement is served again; the pages ask
// every 2 s.
const figuresFresh = time.Second

func (c *Console) networkFigures(ctx context.Context) (networkFigures, error) {
	fc := &c.figures
	fc.mu.Lock()
	defer fc.mu.Unlock()
	now := c.api.Now()
	if age := now.Sub(fc.at); !fc.at.IsZero() && age >= 0 && age < figuresFresh {
		return fc.f, nil
	}
	f, err := c.measureNetwork(ctx, now)
	if err != nil {
		return f, err
	}
	fc.at, fc.f = now, f
	return f, nil
}

// measureNetwork takes the figures: counts from the store in one read,
// prices from the quoter's view of the free supply.
func (c *Console) measureNetwork(ctx context.Context, now time.Time) (networkFigures, error) {
	var st store.NetworkStats
	var tot store.ExplorerTotals
	err := c.api.Store.Read(ctx, func(tx *sql.Tx) error {
		var err error
		// The same counts as /api/v1/explorer/stats.
		if st, err = store.Stats(ctx, tx, c.api.Hub.Config().OnlineSince(now), now.Add(-2*c.api.VerifyEvery)); err != nil {
			return err
		}
		tot, err = store.Totals(ctx, tx)
		return err
	})
	if err != nil {
		return networkFigures{}, err
	}
	f := networkFigures{
		DevicesOnline: st.DevicesOnline, DevicesTotal: st.DevicesTotal, GPUsOnline: st.GPUsOnline, GPUsTotal: tot.GPUsTotal,
		VerifiedSuppliers: st.VerifiedSuppliers, ClustersRunning: tot.ClustersRunning, GPUHours: gpuHours(tot.ServedGPUms),
		PaidOut: money.Micros(tot.PaidOut).USD(), PaidOnChain: money.Micros(tot.PaidOnChain).USD(),
		Models: []modelFigures{},
	}
	type market struct {
		free   int
		lowest int64
	}
	prices := map[string]market{}
	if c.api.Quoter != nil {
		// One quote's worth of supply: every free device priced as for a
		// 1-GPU, 1-hour request, with the network-wide demand factor.
		sup, err := c.api.Quoter.Supply(ctx, sched.Request{GPUs: 1, Hours: 1}, nil)
		if err != nil {
			return networkFigures{}, fmt.Errorf("pricing the supply: %w", err)
		}
		for _, cand := range sup.Free {
			m, seen := prices[cand.GPUModel]
			m.free += cand.GPUs
			if !seen || cand.PricePerGPUHour < m.lowest {
				m.lowest = cand.PricePerGPUHour
			}
			prices[cand.GPUModel] = m
		}
	}
	for model, n := range st.GPUsByModel {
		mf := modelFigures{Model: model, Online: n}
		if m, ok := prices[model]; ok {
			mf.Free, mf.Price = m.free, money.Micros(m.lowest).USD()
		}
		f.Models = append(f.Models, mf)
	}
	slices.SortFunc(f.Models, func(a, b modelFigures) int {
		if a.Online != b.Online {
			return b.Online - a.Online
		}
		return strings.Compare(a.Model, b.Model)
	})
	return f, nil
}

// gpuHours writes GPU-milliseconds as GPU-hours, never rounding a nonzero
// amount down to a zero.
func gpuHours(gpuMS int64) string {
	h := float64(gpuMS) / 3.6e6
	switch {
	case gpuMS == 0:
		return "0"
	case h < 0.01:
		return "< 0.01"
	case h < 10:
		return fmt.Sprintf("%.2f", h)
	case h < 1000:
		return fmt.Sprintf("%.1f", h)
	}
	return fmt.Sprintf("%.0f", h)
}

type explorerHomePage struct {
	Base
	F networkFigures
}

func (c *Console) explorerHome(w http.ResponseWriter, r *http.Request) error {
	f, err := c.networkFigures(r.Context())
	if err != nil {
		return err
	}
	c.render(w, r, "explorer", http.StatusOK, &explorerHomePage{Base: Base{Title: "Network explorer", Nav: "explorer"}, F: f})
	return nil
}

// explorerLive streams the home page's figures while it is open.
func (c *Console) explorerLive(w http.ResponseWriter, r *http.Request) error {
	return c.stream(w, r, 2*time.Second, func(ctx context.Context) (any, error) { return c.networkFigures(ctx) })
}

// explorerCluster is a cluster without its owner, its request or its price.
type explorerCluster struct {
	ID, State string
	GPUs      int
	Models    []string
	CreatedAt time.Time
	Ran       string // how long it has been ready, in words
}

type explorerClustersPage struct {
	Base
	Clusters []explorerCluster
	Limit    int
}

func (c *Console) explorerClusters(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	cs, err := store.RecentClusters(ctx, c.api.Store.Reader(), explorerClusters)
	if err != nil {
		return err
	}
	ids := make([]string, len(cs))
	for i, cl := range cs {
		ids[i] = cl.ID
	}
	models, err := store.ClusterModels(ctx, c.api.Store.Reader(), ids)
	if err != nil {
		return err
	}
	now := c.api.Now()
	p := &explorerClustersPage{Base: Base{Title: "Clusters · explorer", Nav: "explorer"}, Limit: explorerClusters}
	for _, cl := range cs {
		p.Clusters = append(p.Clusters, explorerCluster{ID: cl.ID, State: cl.State, GPUs: cl.GPUs, Models: models[cl.ID], CreatedAt: cl.CreatedAt, Ran: ran(cl, now)})
	}
	c.render(w, r, "explorer-clusters", http.StatusOK, p)
	return nil
}

// ran says how long a cluster was ready: billing runs from ready to end.
func ran(cl store.Cluster, now time.Time) string {
	switch {
	case cl.ReadyAt.IsZero() && cl.Ended():
		return "never ready"
	case cl.ReadyAt.IsZero():
		return "starting"
	case cl.EndedAt.IsZero():
		return span(now.Sub(cl.ReadyAt)) + " so far"
	}
	return span(cl.EndedAt.Sub(cl.ReadyAt))
}

// span writes a duration to the unit that matters: "42 s", "7 min",
// "3 h 05 min", "2 d 4 h".
func span(d time.Duration) string {
	d = max(d, 0)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h %02d min", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%d d %d h", int(d.Hours())/24, int(d.Hours())%24)
}

// explorerDevice is what anyone may know of a device: its hardware, where
// its owner says it is and its record, by id. Never its owner, its name
// (owners name rigs after themselves) or its host (host names do too).
type explorerDevice struct {
	ID            string
	GPUs          []explorerGPU
	GPUStatus     string
	Region        string
	Simulated     bool
	State         string
	LastSeenAt    *time.Time
	Since         time.Time
	Uptime7d      float64
	Verified      bool
	Verification  string
	VerifyReason  string
	Passed        int
	Failed        int
	Reputation    float64
	BenchTier     string
	BenchScore    float64
	BenchAt       *time.Time
	ClustersCount int
}

type explorerGPU struct {
	Name   string
	Memory uint64
}

type explorerDevicePage struct {
	Base
	D explorerDevice
}

func (c *Console) explorerDevice(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	d, err := store.DeviceByID(ctx, c.api.Store.Reader(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		return problem.New(problem.ErrNotFound, "no_such_device", "There is no device with this id on the network.")
	}
	if err != nil {
		return err
	}
	v, err := c.api.DeviceView(ctx, d, c.api.Now())
	if err != nil {
		return err
	}
	n, err := store.DeviceClusterCount(ctx, c.api.Store.Reader(), d.UserID, d.ID)
	if err != nil {
		return err
	}
	e := explorerDevice{
		ID: v.ID, GPUStatus: v.GPUStatus, Region: d.Region, Simulated: v.Simulated, State: v.State, LastSeenAt: v.LastSeenAt, Since: v.CreatedAt,
		Uptime7d: v.Reputation.Uptime7d, Reputation: v.Reputation.Score, Verified: v.Verification.Verified, Verification: v.Verification.Status,
		VerifyReason: v.Verification.Reason, Passed: v.Verification.Passed, Failed: v.Verification.Failed, ClustersCount: n,
	}
	if e.Verification == verify.StatusFlagged {
		// The flag names the GPU's UUID, which identifies the card.
		e.VerifyReason = "one of its GPUs is also reported by another account"
	}
	for _, g := range v.GPUs {
		e.GPUs = append(e.GPUs, explorerGPU{Name: g.Name, Memory: g.MemoryTotal})
	}
	if b := v.Benchmark; b != nil {
		e.BenchTier, e.BenchScore, e.BenchAt = b.Tier, b.Score, &b.MeasuredAt
	}
	c.render(w, r, "explorer-device", http.StatusOK, &explorerDevicePage{Base: Base{Title: "Device " + e.ID + " · explorer", Nav: "explorer"}, D: e})
	return nil
}

// explorerBatch is a payout transaction with the addresses it paid:
// public on chain anyway, and shown shortened.
type explorerBatch struct {
	store.BatchSummary
	Link    string
	Tokens  string
	Payees  int
	Wallets []string // the first few
	More    int      // how many more
}

type explorerPayoutsPage struct {
	Base
	Batches      []explorerBatch
	Limit        int
	Mode         string
	LedgerCount  int
	LedgerAmount int64
}

func (c *Console) explorerPayouts(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	bs, err := store.RecentBatches(ctx, c.api.Store.Reader(), explorerBatches)
	if err != nil {
		return err
	}
	n, amount, err := store.LedgerPayouts(ctx, c.api.Store.Reader())
	if err != nil {
		return err
	}
	p := &explorerPayoutsPage{Base: Base{Title: "Payouts · explorer", Nav: "explorer"}, Limit: explorerBatches,
		Mode: c.api.Payouts.Mode, LedgerCount: n, LedgerAmount: amount}
	for _, b := range bs {
		eb := explorerBatch{BatchSummary: b, Link: api.TxURL(b.Signature, c.api.Payouts.Cluster), Payees: len(b.Wallets)}
		if b.TokenAmount > 0 {
			eb.Tokens = money.Token{Base: uint64(b.TokenAmount), Decimals: uint8(b.Decimals)}.String()
		}
		eb.Wallets = b.Wallets[:min(len(b.Wallets), walletsShown)]
		eb.More = len(b.Wallets) - len(eb.Wallets)
		p.Batches = append(p.Batches, eb)
	}
	c.render(w, r, "explorer-payouts", http.StatusOK, p)
	return nil
}
