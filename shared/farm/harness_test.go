package farm

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/idlegrid/idlegrid/shared/hw"
	"github.com/idlegrid/idlegrid/shared/proto"
)

// startServer runs srv for real on a loopback port until the test ends and
// returns its host:port.
func startServer(tb testing.TB, srv *Server) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ServeListener(ctx, ln) }()
	tb.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, context.Canceled) {
				tb.Errorf("Serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			tb.Error("Serve did not return after its context ended")
		}
	})
	return ln.Addr().String()
}

// simSnapshot is a rig with two simulated cards, one passive (no fan), the
// first under load, as the agent would report it.
func simSnapshot(tb testing.TB) Snapshot {
	tb.Helper()
	models, err := hw.ParseSimSpec("RTX 4090,A100 80GB")
	if err != nil {
		tb.Fatal(err)
	}
	t0 := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	now := t0
	sim := hw.NewSim(models, 7, func() time.Time { return now })
	if err := sim.SetLoad(0, 1); err != nil {
		tb.Fatal(err)
	}
	now = now.Add(2 * time.Minute)
	samples, err := sim.Sample(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return Snapshot{
		DeviceID:     "dev_0123456789ab",
		Version:      "1.4.0",
		State:        "online",
		Connected:    true,
		Paused:       true,
		PauseReason:  "you are playing",
		GPUs:         sim.GPUs(),
		Samples:      samples,
		SampledAt:    now,
		EarnsPerHour: 312_500, // $0.3125/h
		Verified:     true,
		Verification: VerificationVerified,
		Tier:         "gold",
		Reputation:   0.97,
		Runtimes: []proto.RuntimeState{
			{ClusterID: "cl_aaaaaaaa01", Role: proto.RoleHead, State: proto.RuntimeRunning},
			{ClusterID: "cl_aaaaaaaa02", Role: proto.RoleWorker, State: proto.RuntimeRunning},
			{ClusterID: "cl_aaaaaaaa03", Role: proto.RoleWorker, State: proto.RuntimeRunning},
			{ClusterID: "cl_aaaaaaaa04", Role: proto.RoleWorker, State: proto.RuntimeFailed},
		},
	}
}
