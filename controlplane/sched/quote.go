// Package sched picks devices for a cluster request. Quote finds the
// matching supply, prices each device with the published formula and
// picks the cheapest devices that cover the GPUs asked for; the price is
// stored as a short-lived quote a deploy must honour.
package sched

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/idlegrid/idlegrid/controlplane/hub"
	"github.com/idlegrid/idlegrid/controlplane/pricing"
	"github.com/idlegrid/idlegrid/controlplane/problem"
	"github.com/idlegrid/idlegrid/controlplane/store"
	"github.com/idlegrid/idlegrid/controlplane/verify"
	"github.com/idlegrid/idlegrid/shared/proto"
)

// Request is what a requester asks for.
type Request struct {
	GPUModel     string `json:"gpu_model,omitempty"` // substring, any case ("4090"); empty: any
	GPUs         int    `json:"gpus"`
	MinVRAMGiB   int    `json:"min_vram_gib,omitempty"`
	Region       string `json:"region,omitempty"`
	MinDownMbps  int    `json:"min_down_mbps,omitempty"`
	VerifiedOnly bool   `json:"verified_only,omitempty"`
	Hours        int    `json:"hours"`
	// MaxPricePerGPUHour, in micro-USD, leaves out pricier devices; 0: no cap.
	MaxPricePerGPUHour int64 `json:"max_price_per_gpu_hour,omitempty"`
}

// Validate reports every problem with the request at once.
func (r Request) Validate() error {
	var probs []string
	if r.GPUs < 1 || r.GPUs > 256 {
		probs = append(probs, "gpus must be 1..256")
	}
	if r.Hours < pricing.MinHours || r.Hours > pricing.MaxHours {
		probs = append(probs, fmt.Sprintf("hours must be %d..%d", pricing.MinHours, pricing.MaxHours))
	}
	if r.MinVRAMGiB < 0 || r.MinVRAMGiB > 1024 {
		probs = append(probs, "min_vram_gib must be 0..1024")
	}
	if r.MinDownMbps < 0 || r.MaxPricePerGPUHour < 0 {
		probs = append(probs, "min_down_mbps and max_price_per_gpu_hour must not be negative")
	}
	// Characters, not bytes: the limits the API documents.
	if utf8.RuneCountInString(r.GPUModel) > 64 {
		probs = append(probs, "gpu_model must be at most 64 characters")
	}
	if utf8.RuneCountInString(r.Region) > 32 {
		probs = append(probs, "region must be at most 32 characters")
	}
	if len(probs) > 0 {
		return problem.Invalid("bad_request", "%s", strings.Join(probs, "; "))
	}
	return nil
}

// Line is one device in a quote.
type Line struct {
	DeviceID        string `json:"device_id"`
	GPUModel        string `json:"gpu_model"`
	GPUs            int    `json:"gpus"`
	Region          string `json:"region,omitempty"`
	Tier            string `json:"tier"`
	Verified        bool   `json:"verified"`
	Simulated       bool   `json:"simulated"`
	PricePerGPUHour int64  `json:"price_per_gpu_hour"`
	SupplierPerHour int64  `json:"supplier_per_gpu_hour"`
}

// Quote is a priced selection.
type Quote struct {
	ID           string    `json:"quote_id"`
	ExpiresAt    time.Time `json:"expires_at"`
	GPUs         int       `json:"gpus"`
	Hours        int       `json:"hours"`
	PricePerHour int64     `json:"price_per_hour"` // the whole cluster, micro-USD
	FeePerHour   int64     `json:"fee_per_hour"`   // of which the platform fee
	Total        int64     `json:"total"`
	Lines        []Line    `json:"devices"`
	Matching     int       `json:"matching_devices"`
	Busy         int       `json:"busy_devices"`
}

// Quoter prices requests against the live supply.
type Quoter struct {
	Store       *store.Store
	Hub         *hub.Hub
	Pricing     pricing.Config
	VerifyEvery time.Duration
	TTL         time.Duration // quotes are valid this long (default 5 min)
	Now         func() time.Time
	// CacheFor lets quotes share one read of the online devices and their
	// facts for this long (0: read for every quote). Which devices are busy
	// or paused is always read fresh, and a deploy's transaction checks its
	// devices are free, so a cached read only ever offers a device that
	// came online a moment ago a moment late.
	CacheFor time.Duration

	mu   sync.Mutex
	snap *onlineSnap

	// held are devices an in-flight deploy has picked and not yet reserved
	// or let go (see PlaceHeld).
	holdMu sync.Mutex
	held   map[string]bool
}

// onlineSnap is one read of the online supply.
type onlineSnap struct {
	at    time.Time
	devs  []store.Device
	facts map[string]store.SupplyFacts
}

// online reads the online devices and their facts, or reuses a read less
// than CacheFor old. Concurrent quotes wait for one read rather than each
// making their own.
func (q *Quoter) online(ctx context.Context, now time.Time) (*onlineSnap, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if s := q.snap; s != nil && !now.Before(s.at) && now.Sub(s.at) < q.CacheFor {
		return s, nil
	}
	since := q.Hub.Config().OnlineSince(now)
	devs, err := store.OnlineDevices(ctx, q.Store.Reader(), since)
	if err != nil {
		return nil, err
	}
	facts, err := store.SupplyFactsSince(ctx, q.Store.Reader(), since)
	if err != nil {
		return nil, err
	}
	q.snap = &onlineSnap{at: now, devs: devs, facts: facts}
	return q.snap, nil
}

// Supply is the free, priced devices matching a request.
type Supply struct {
	Free     []Candidate
	Matching int            // matching devices, busy ones included
	Busy     int            // of which reserved or paused
	Models   map[string]int // every online GPU by model, for "what is available"
}

// Supply finds and prices the free devices that match r. Devices in
// exclude are left out (a deploy retrying after losing a race).
func (q *Quoter) Supply(ctx context.Context, r Request, exclude map[string]bool) (Supply, error) {
	now := q.Now()
	snap, err := q.online(ctx, now)
	if err != nil {
		return Supply{}, err
	}
	busy, err := store.BusyDevices(ctx, q.Store.Reader())
	if err != nil {
		return Supply{}, err
	}
	out := Supply{Models: map[string]int{}}
	var free []Candidate
	for _, d := range snap.devs {
		if len(d.GPUs) == 0 {
			continue
		}
		out.Models[d.GPUs[0].Name] += len(d.GPUs)
		c, ok := q.consider(d, snap.facts[d.ID], r, now)
		if !ok {
			continue
		}
		out.Matching++
		if live, on := q.Hub.Live(d.ID); busy[d.ID] || exclude[d.ID] || (on && live.State == proto.StatePaused) {
			out.Busy++ // a paused PC is not offering itself
			continue
		}
		free = append(free, c)
	}
	for i := range free {
		region := free[i].Region // priced where the device is, when pricing knows it
		if _, known := q.Pricing.RegionOffsets[region]; !known {
			region = r.Region
		}
		p, err := pricing.Quote(pricing.Inputs{Tier: free[i].Tier, DownMbps: free[i].DownMbps, Matching: out.Matching, Busy: out.Busy,
			At: now, Region: region, Hours: r.Hours}, q.Pricing)
		if err != nil {
			return Supply{}, problem.Invalid("bad_request", "%v", err)
		}
		free[i].PricePerGPUHour, free[i].SupplierPerGPUHour, free[i].FeePerGPUHour = p.PricePerHour, p.SupplierPerHour, p.FeePerHour
	}
	if r.MaxPricePerGPUHour > 0 {
		free = slices.DeleteFunc(free, func(c Candidate) bool { return c.PricePerGPUHour > r.MaxPricePerGPUHour })
	}
	out.Free = free
	return out, nil
}

// Pick places r on the live supply: the devices a deploy reserves. Not
// enough supply is a Conflict that says what is available.
func (q *Quoter) Pick(ctx context.Context, r Request, exclude map[string]bool) ([]Candidate, Supply, error) {
	if err := r.Validate(); err != nil {
		return nil, Supply{}, err
	}
	sup, err := q.Supply(ctx, r, exclude)
	if err != nil {
		return nil, sup, err
	}
	picked, err := q.PlaceOn(sup, r)
	return picked, sup, err
}

// PlaceOn places r on a supply already found, or says what is available.
func (q *Quoter) PlaceOn(sup Supply, r Request) ([]Candidate, error) {
	picked, ok := Place(sup.Free, r.GPUs)
	if !ok {
		got := 0
		for _, c := range sup.Free {
			got += c.GPUs
		}
		return nil, q.noSupply(r, got, sup.Models)
	}
	return picked, nil
}

// PlaceHeld places r on sup like PlaceOn, leaving out devices that other
// deploys in flight have picked, and holds the devices it picks until
// release is called (once their reservation committed or failed).
// Concurrent deploys so place around each other instead of picking the
// same best devices and racing for them in the database, where all but
// one would lose and place again.
func (q *Quoter) PlaceHeld(sup Supply, r Request) (picked []Candidate, release func(), err error) {
	q.holdMu.Lock()
	held := maps.Clone(q.held)
	q.holdMu.Unlock()
	for {
		// Placed on a copy of the holds, without the lock: placements run in
		// parallel, and one that lost a device to a hold meanwhile places
		// again.
		picked, ok := PlaceExcept(sup.Free, r.GPUs, held)
		if !ok {
			got := 0
			for _, c := range sup.Free {
				if !held[c.DeviceID] {
					got += c.GPUs
				}
			}
			return nil, nil, q.noSupply(r, got, sup.Models)
		}
		q.holdMu.Lock()
		if q.held == nil {
			q.held = map[string]bool{}
		}
		if slices.ContainsFunc(picked, func(c Candidate) bool { return q.held[c.DeviceID] }) {
			held = maps.Clone(q.held)
			q.holdMu.Unlock()
			continue
		}
		for _, c := range picked {
			q.held[c.DeviceID] = true
		}
		q.holdMu.Unlock()
		return picked, func() {
			q.holdMu.Lock()
			defer q.holdMu.Unlock()
			for _, c := range picked {
				delete(q.held, c.DeviceID)
			}
		}, nil
	}
}

// LineOf is a candidate as a quote shows it.
func LineOf(c Candidate) Line {
	return Line{DeviceID: c.DeviceID, GPUModel: c.GPUModel, GPUs: c.GPUs, Region: c.Region, Tier: c.Tier, Verified: c.Verified, Simulated: c.Simulated,
		PricePerGPUHour: c.PricePerGPUHour, SupplierPerHour: c.SupplierPerGPUHour}
}

// Quote prices r for userID and stores the quote. Not enough supply is a
// Conflict that says what is available.
func (q *Quoter) Quote(ctx context.Context, userID string, r Request) (Quote, error) {
	picked, sup, err := q.Pick(ctx, r, nil)
	if err != nil {
		return Quote{}, err
	}
	now := q.Now()
	out := Quote{GPUs: r.GPUs, Hours: r.Hours, Matching: sup.Matching, Busy: sup.Busy}
	for _, c := range picked {
		out.Lines = append(out.Lines, LineOf(c))
		out.PricePerHour += c.PricePerGPUHour * int64(c.GPUs)
		out.FeePerHour += c.FeePerGPUHour * int64(c.GPUs)
	}
	out.Total = out.PricePerHour * int64(r.Hours)
	ttl := q.TTL
	if ttl <= 0 {
		ttl = 5 * time.Minute
	}
	idb := make([]byte, 10)
	_, _ = rand.Read(idb)
	out.ID, out.ExpiresAt = "quo_"+hex.EncodeToString(idb), now.Add(ttl)
	reqJSON, _ := json.Marshal(r)
	linesJSON, _ := json.Marshal(out.Lines)
	err = q.Store.Write(ctx, func(tx *sql.Tx) error {
		return store.InsertQuote(ctx, tx, store.Quote{ID: out.ID, UserID: userID, Request: string(reqJSON), Devices: string(linesJSON),
			GPUs: r.GPUs, Hours: r.Hours, PricePerHour: out.PricePerHour, Total: out.Total, CreatedAt: now, ExpiresAt: out.ExpiresAt})
	})
	return out, err
}

// consider checks one device against the request's filters.
func (q *Quoter) consider(d store.Device, f store.SupplyFacts, r Request, now time.Time) (Candidate, bool) {
	g := d.GPUs[0]
	switch {
	case r.GPUModel != "" && !strings.Contains(strings.ToLower(g.Name), strings.ToLower(r.GPUModel)),
		uint64(r.MinVRAMGiB)<<30 > g.MemoryTotal,
		r.Region != "" && d.Region != r.Region,
		!d.Can(proto.RuntimeRay):
		return Candidate{}, false
	}
	c := Candidate{DeviceID: d.ID, SupplierID: d.UserID, GPUModel: g.Name, GPUs: len(d.GPUs), Region: d.Region, Simulated: d.Simulated,
		Tier: f.Tier, Bench: f.Score, DownMbps: f.DownMbps}
	if r.MinDownMbps > 0 && c.DownMbps < r.MinDownMbps {
		return c, false
	}
	c.Verified, _, _ = verify.Status(f.Verification, now, q.VerifyEvery)
	if r.VerifiedOnly && !c.Verified {
		return c, false
	}
	// Uptime is not in the supply yet: an online device counts as up, and
	// its challenge record does the rest.
	c.Reputation = verify.Reputation(1, f.Verification.Passed, f.Verification.Failed)
	return c, true
}

// noSupply says what is available instead.
func (q *Quoter) noSupply(r Request, got int, models map[string]int) error {
	var avail []string
	for m, n := range models {
		avail = append(avail, fmt.Sprintf("%d× %s", n, m))
	}
	sort.Strings(avail)
	what := "no GPUs are online"
	if len(avail) > 0 {
		what = "online now: " + strings.Join(avail, ", ")
	}
	return problem.New(problem.ErrConflict, "not_enough_supply", "only %d of the %d GPUs asked for match and are free (%s)", got, r.GPUs, what)
}
