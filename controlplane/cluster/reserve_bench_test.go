package cluster

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idlegrid/idlegrid/controlplane/ledger"
	"github.com/idlegrid/idlegrid/controlplane/pricing"
	"github.com/idlegrid/idlegrid/controlplane/sched"
	"github.com/idlegrid/idlegrid/controlplane/store"
)

// Placement plus the durable reservation (one sqlite transaction on disk:
// free check, deposit check, cluster, 8 nodes and 8 assignments) among
// 100,000 candidates:
//
//	go test -run x -bench Reserve -benchtime 500x ./controlplane/cluster/
func BenchmarkPlaceAndReserve(b *testing.B) {
	ctx := context.Background()
	m, cands := reserveWorld(b)
	req := sched.Request{GPUs: 8, Hours: 1}
	var lat []time.Duration
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		picked, ok := sched.Place(cands, 8)
		if !ok {
			b.Fatal("no placement")
		}
		if _, err := m.reserve(ctx, "usr_renter", "", "", req, picked); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
		b.StopTimer()
		// The reserved devices leave the free supply, as they would.
		taken := map[string]bool{}
		for _, p := range picked {
			taken[p.DeviceID] = true
		}
		cands = slices.DeleteFunc(cands, func(c sched.Candidate) bool { return taken[c.DeviceID] })
		b.StartTimer()
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
}

// Deploys from two goroutines at once (the machine's two cores) wanting
// the same best devices, as concurrent requesters do: placement runs in
// parallel and places around devices the other holds (PlaceHeld),
// reservations queue on the single writer, and a deploy that still loses a
// race in the database places again. Reports successful placements per
// second and how many races were lost.
//
//	go test -run x -bench ReserveConcurrent -benchtime 600x ./controlplane/cluster/
func BenchmarkPlaceAndReserveConcurrent(b *testing.B) {
	ctx := context.Background()
	m, cands := reserveWorld(b)
	req := sched.Request{GPUs: 8, Hours: 1}
	var mu sync.RWMutex // guards cands: the free supply
	var lost atomic.Int64
	work := make(chan struct{})
	var wg sync.WaitGroup
	start := time.Now()
	for range 2 {
		wg.Go(func() {
			for range work {
				for {
					// As Deploy does: place around devices other deploys hold.
					mu.RLock()
					picked, release, err := m.Quoter.PlaceHeld(sched.Supply{Free: cands}, req)
					mu.RUnlock()
					if err != nil {
						b.Error(err)
						return
					}
					_, err = m.reserve(ctx, "usr_renter", "", "", req, picked)
					var taken *takenError
					if errors.As(err, &taken) {
						release()
						lost.Add(1) // the other deploy got there first: place again
						continue
					}
					if err != nil {
						b.Error(err)
						return
					}
					taken2 := map[string]bool{}
					for _, p := range picked {
						taken2[p.DeviceID] = true
					}
					mu.Lock()
					cands = slices.DeleteFunc(cands, func(c sched.Candidate) bool { return taken2[c.DeviceID] })
					mu.Unlock()
					release()
					break
				}
			}
		})
	}
	b.ResetTimer()
	start = time.Now()
	for b.Loop() {
		work <- struct{}{}
	}
	close(work)
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "placements/s")
	b.ReportMetric(float64(lost.Load()), "races-lost")
}

// reserveWorld is a renter with credit and 100,000 free candidates.
func reserveWorld(b *testing.B) (*Manager, []sched.Candidate) {
	ctx := context.Background()
	st, err := store.Open(ctx, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	now := time.Now()
	err = st.Write(ctx, func(tx *sql.Tx) error {
		for _, u := range []string{"usr_renter", "usr_supplier"} {
			if err := store.InsertUser(ctx, tx, store.User{ID: u, Email: u + "@example.com", PasswordHash: "x", CreatedAt: now}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	led := &ledger.Ledger{Store: st, Now: time.Now}
	if _, err := led.TopUp(ctx, "usr_renter", 1_000_000_000_000, "bench", ""); err != nil {
		b.Fatal(err)
	}
	m := &Manager{Store: st, Quoter: &sched.Quoter{Pricing: pricing.DefaultConfig()}, Config: Defaults(), Now: time.Now, Log: slog.New(slog.DiscardHandler)}
	r := rand.New(rand.NewPCG(1, 2))
	cands := make([]sched.Candidate, 100_000)
	for i := range cands {
		cands[i] = sched.Candidate{DeviceID: fmt.Sprintf("dev_%07d", i), SupplierID: "usr_supplier", GPUModel: "RTX 4090", GPUs: 1,
			Region: []string{"eu-west", "us-east", "asia"}[r.IntN(3)], PricePerGPUHour: 100_000 + int64(r.IntN(300_000)), Reputation: r.Float64()}
	}
	return m, cands
}
