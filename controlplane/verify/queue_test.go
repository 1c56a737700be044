package verify_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/idlegrid/idlegrid/controlplane/hub"
	"github.com/idlegrid/idlegrid/controlplane/servertest"
	"github.com/idlegrid/idlegrid/controlplane/store"
	"github.com/idlegrid/idlegrid/controlplane/verify"
	"github.com/idlegrid/idlegrid/shared/hw"
	"github.com/idlegrid/idlegrid/shared/proto"
)

// A fleet connecting at once is challenged a few devices at a time: never
// more than MaxInFlight challenges run, and each sweep starts more as the
// ones before end.
func TestAutomaticChallengesAreQueued(t *testing.T) {
	ctx := t.Context()
	st, err := store.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	log := slog.New(slog.DiscardHandler)
	h := hub.New(st, hub.Config{}, log)
	now := time.Now()
	clock := atomic.Pointer[time.Time]{}
	clock.Store(&now)
	svc := verify.New(st, h, verify.Config{MaxInFlight: 2, Timeout: 10 * time.Second, Now: func() time.Time { return *clock.Load() }}, log)
	hctx, stop := context.WithCancel(context.Background())
	defer stop()
	go func() { _ = h.Serve(hctx) }()
	web := httptest.NewServer(h)
	defer web.Close()

	const fleet = 5
	var challenged atomic.Int64
	for i := range fleet {
		pub, key, _ := ed25519.GenerateKey(rand.Reader)
		id := fmt.Sprintf("dev_q%d", i)
		err := st.Write(ctx, func(tx *sql.Tx) error {
			if i == 0 {
				if err := store.InsertUser(ctx, tx, store.User{ID: "usr_q", Email: "q@example.com", PasswordHash: "h", CreatedAt: now}); err != nil {
					return err
				}
			}
			return store.InsertDevice(ctx, tx, store.Device{ID: id, UserID: "usr_q", Name: id, PublicKey: pub, CreatedAt: now})
		})
		if err != nil {
			t.Fatal(err)
		}
		ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(web.URL, "http"), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		_, b, err := ws.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		hello, _ := proto.Decode(b)
		auth, _ := proto.Encode(proto.TypeAuth, proto.Auth{Protocol: proto.Protocol, DeviceID: id, Signature: proto.SignAuth(key, hello.(*proto.Hello).Nonce, id),
			Inventory: proto.Inventory{GPUs: []hw.GPU{{Index: 0, UUID: "GPU-" + id, Name: "RTX 4090"}}}})
		if err := ws.WriteMessage(websocket.TextMessage, auth); err != nil {
			t.Fatal(err)
		}
		go func() { // counts challenges and never answers them
			for {
				_, b, err := ws.ReadMessage()
				if err != nil {
					return
				}
				if m, _ := proto.Decode(b); m != nil {
					if _, ok := m.(*proto.Challenge); ok {
						challenged.Add(1)
					}
				}
			}
		}()
	}
	servertest.Eventually(t, 10*time.Second, "the fleet to connect", func() bool { return h.ConnectedCount() == fleet })
	svc.Sweep(ctx) // the connect hooks and this sweep: only two start
	servertest.Eventually(t, 10*time.Second, "two challenges", func() bool { return challenged.Load() == 2 })
	svc.Sweep(ctx)
	if n := challenged.Load(); n != 2 {
		t.Fatalf("%d challenges running, want at most 2", n)
	}
	// The first two time out and fail; the next sweep starts two more.
	later := now.Add(11 * time.Second)
	clock.Store(&later)
	svc.Sweep(ctx)
	servertest.Eventually(t, 10*time.Second, "two more challenges", func() bool { return challenged.Load() == 4 })
	var failed int
	if err := st.Reader().QueryRowContext(ctx, `SELECT count(*) FROM challenges WHERE passed = 0`).Scan(&failed); err != nil {
		t.Fatal(err)
	}
	if failed != 2 {
		t.Fatalf("%d challenges recorded as failed, want the 2 that timed out", failed)
	}
}
