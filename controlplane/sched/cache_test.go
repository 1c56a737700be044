package sched

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/idlegrid/idlegrid/controlplane/hub"
	"github.com/idlegrid/idlegrid/controlplane/pricing"
	"github.com/idlegrid/idlegrid/controlplane/store"
)

// Quotes within CacheFor share one read of the online supply; the next
// quote after it reads again and sees a device that came online meanwhile.
func TestQuotesShareAReadForCacheFor(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	online := func(i int) {
		t.Helper()
		err := st.Write(ctx, func(tx *sql.Tx) error {
			if i == 0 {
				if err := store.InsertUser(ctx, tx, store.User{ID: "usr_s", Email: "s@example.com", PasswordHash: "x", CreatedAt: now}); err != nil {
					return err
				}
			}
			key := make([]byte, 32)
			key[0] = byte(i)
			d := store.Device{ID: fmt.Sprintf("dev_%d", i), UserID: "usr_s", Name: "rig", PublicKey: key, CreatedAt: now,
				GPUs: []store.DeviceGPU{{Index: 0, UUID: fmt.Sprintf("GPU-%d", i), Name: "RTX 4090", MemoryTotal: 24 << 30}}, Runtimes: []string{"ray"}}
			if err := store.InsertDevice(ctx, tx, d); err != nil {
				return err
			}
			if err := store.UpdateInventory(ctx, tx, d); err != nil {
				return err
			}
			return store.TouchDevices(ctx, tx, map[string]time.Time{d.ID: now})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	clock := now
	q := &Quoter{Store: st, Hub: hub.New(st, hub.Config{}, slog.New(slog.DiscardHandler)), Pricing: pricing.DefaultConfig(), VerifyEvery: time.Hour,
		Now: func() time.Time { return clock }, CacheFor: 2 * time.Second}
	free := func() int {
		t.Helper()
		sup, err := q.Supply(ctx, Request{GPUs: 1, Hours: 1}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return len(sup.Free)
	}
	online(0)
	if n := free(); n != 1 {
		t.Fatalf("%d free, want 1", n)
	}
	online(1)
	clock = now.Add(1900 * time.Millisecond)
	if n := free(); n != 1 {
		t.Fatalf("%d free within CacheFor of the first read, want the 1 it read", n)
	}
	clock = now.Add(2 * time.Second)
	if n := free(); n != 2 {
		t.Fatalf("%d free after CacheFor, want both devices", n)
	}
}
