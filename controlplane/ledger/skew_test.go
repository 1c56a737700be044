package ledger_test

import (
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/idlegrid/idlegrid/controlplane/servertest"
	"github.com/idlegrid/idlegrid/controlplane/store"
	"github.com/idlegrid/idlegrid/shared/agent"
	"github.com/idlegrid/idlegrid/shared/hw"
)

// Agents whose clocks are five minutes fast or slow are billed like one
// with the right time: the control plane meters by its own clock.
func TestClockSkewDoesNotChangeCharges(t *testing.T) {
	srv := servertest.Start(t, nil)
	srv.SignUp("renter@example.com")
	gamer := srv.SignUp("gamer@example.com")
	if _, err := srv.Srv.Ledger.TopUp(t.Context(), userID(t, srv, "renter@example.com"), 100_000_000, "k", ""); err != nil {
		t.Fatal(err)
	}
	skews := []time.Duration{0, 5 * time.Minute, -5 * time.Minute}
	var devs []string
	for i, skew := range skews {
		models, _ := hw.ParseSimSpec("RTX 3090")
		a, err := agent.New(agent.Config{
			DataDir: t.TempDir(), ServerURL: srv.URL, Name: fmt.Sprint("rig", i), Version: "test", GPU: hw.NewSim(models, int64(i), nil),
			MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
			Now: func() time.Time { return time.Now().Add(skew) },
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Pair(t.Context(), gamer.PairingCode()); err != nil {
			t.Fatal(err)
		}
		servertest.RunAgent(t, a)
		devs = append(devs, a.State().DeviceID)
	}
	servertest.Eventually(t, 10*time.Second, "all rigs online", func() bool {
		for _, d := range gamer.Devices() {
			if d.State != "online" {
				return false
			}
		}
		return len(gamer.Devices()) == 3
	})
	start := time.Now()
	err := srv.Srv.Store.Write(t.Context(), func(tx *sql.Tx) error {
		for i, d := range devs {
			a := store.Assignment{ID: fmt.Sprint("asg_", i), ClusterID: "cls", DeviceID: d, RequesterID: userID(t, srv, "renter@example.com"),
				SupplierID: userID(t, srv, "gamer@example.com"), PricePerHour: 36_000_000, FeeBP: 500, CreatedAt: start}
			if err := store.InsertAssignment(t.Context(), tx, a); err != nil {
				return err
			}
			if err := store.SetAssignmentReady(t.Context(), tx, a.ID, start); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	servertest.Eventually(t, 10*time.Second, "two seconds of work", func() bool { return time.Since(start) > 2*time.Second })
	end := time.Now()
	var billed []int64
	for i := range devs {
		if err := srv.Srv.Meter.Finish(t.Context(), fmt.Sprint("asg_", i), end, srv.Srv.Signer); err != nil {
			t.Fatal(err)
		}
		a, _ := store.AssignmentByID(t.Context(), srv.Srv.Store.Reader(), fmt.Sprint("asg_", i))
		billed = append(billed, a.BilledMS)
	}
	for i := range billed {
		// Heartbeats every 100 ms: billed time differs only by scheduling
		// noise at the edges (a loaded machine may drop a late gap), never
		// by minutes.
		tol := max(int64(300), billed[0]/10)
		if d := billed[i] - billed[0]; d > tol || d < -tol || billed[i] < 1000 {
			t.Fatalf("billed ms per skew %v: %v", skews, billed)
		}
	}
	if err := srv.Srv.Ledger.Check(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func userID(t *testing.T, srv *servertest.Server, email string) string {
	u, err := store.UserByEmail(t.Context(), srv.Srv.Store.Reader(), email)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}
