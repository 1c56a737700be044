package sched

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/idlegrid/idlegrid/controlplane/hub"
	"github.com/idlegrid/idlegrid/controlplane/pricing"
	"github.com/idlegrid/idlegrid/controlplane/store"
)

// Reading and pricing the free supply for a quote over 20,000 online
// devices in sqlite on disk, each with a benchmark and three challenges:
//
//	go test -run x -bench Supply -benchtime 10x ./controlplane/sched/
func BenchmarkSupply(b *testing.B) {
	ctx := context.Background()
	st, err := store.Open(ctx, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	const n = 20_000
	err = st.Write(ctx, func(tx *sql.Tx) error {
		if err := store.InsertUser(ctx, tx, store.User{ID: "usr_s", Email: "s@example.com", PasswordHash: "x", CreatedAt: now}); err != nil {
			return err
		}
		seen := map[string]time.Time{}
		for i := range n {
			key := sha256.Sum256(fmt.Appendf(nil, "%d", i))
			d := store.Device{ID: fmt.Sprintf("dev_%06d", i), UserID: "usr_s", Name: "rig", PublicKey: key[:], CreatedAt: now,
				GPUs:     []store.DeviceGPU{{Index: 0, UUID: fmt.Sprintf("GPU-%d", i), Name: "NVIDIA GeForce RTX 4090", MemoryTotal: 24 << 30}},
				Runtimes: []string{"ray"}, Region: []string{"eu-west", "us-east"}[i%2]}
			if err := store.InsertDevice(ctx, tx, d); err != nil {
				return err
			}
			if err := store.UpdateInventory(ctx, tx, d); err != nil {
				return err
			}
			if err := store.InsertBenchmark(ctx, tx, store.Benchmark{DeviceID: d.ID, MeasuredAt: now, ReceivedAt: now, Score: 70, Tier: "gold",
				Report: `{"results":[{"kind":"cpu","score":70},{"kind":"network","net_down_mbps":500}]}`}); err != nil {
				return err
			}
			for j := range 3 {
				id := fmt.Sprintf("chl_%d_%d", i, j)
				if err := store.InsertChallenge(ctx, tx, store.Challenge{ID: id, DeviceID: d.ID, Seed: make([]byte, 32), N: 64, K: 4, IssuedAt: now}); err != nil {
					return err
				}
				if err := store.FinishChallenge(ctx, tx, id, true, true, "", now); err != nil {
					return err
				}
			}
			seen[d.ID] = now
		}
		return store.TouchDevices(ctx, tx, seen)
	})
	if err != nil {
		b.Fatal(err)
	}
	h := hub.New(st, hub.Config{}, slog.New(slog.DiscardHandler))
	r := Request{GPUs: 8, Hours: 1}
	// "read" reads sqlite for every quote; "shared" is what the server does,
	// quotes within 2 s sharing one read.
	for _, cache := range []time.Duration{0, 2 * time.Second} {
		name := map[time.Duration]string{0: "read", 2 * time.Second: "shared"}[cache]
		b.Run(name, func(b *testing.B) {
			q := &Quoter{Store: st, Hub: h, Pricing: pricing.DefaultConfig(), VerifyEvery: time.Hour, Now: func() time.Time { return now }, CacheFor: cache}
			for b.Loop() {
				sup, err := q.Supply(ctx, r, nil)
				if err != nil {
					b.Fatal(err)
				}
				if len(sup.Free) != n {
					b.Fatalf("%d devices free, want %d", len(sup.Free), n)
				}
			}
		})
	}
}
