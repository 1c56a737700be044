package farm

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/idlegrid/idlegrid/shared/agent"
	"github.com/idlegrid/idlegrid/shared/hw"
	"github.com/idlegrid/idlegrid/shared/proto"
)

// lostProbe is a driver whose card fell off the bus, as NVML reports it.
type lostProbe struct{ hw.GPUProbe }

func (lostProbe) Sample(context.Context) ([]hw.GPUSample, error) {
	return nil, fmt.Errorf("sampling GPU 0 (NVIDIA GeForce RTX 4090, GPU-x): %w: ERROR_GPU_IS_LOST", hw.ErrGPULost)
}

func TestAgentSource(t *testing.T) {
	models, err := hw.ParseSimSpec("RTX 3090x2")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	sim := hw.NewSim(models, 1, clock)
	a, err := agent.New(agent.Config{DataDir: t.TempDir(), GPU: sim, Version: "1.4.0", Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	mon := &agent.Monitor{GPU: sim, Now: clock}
	runtimes := []proto.RuntimeState{{ClusterID: "cl_aaaaaaaa01", Role: proto.RoleWorker, State: proto.RuntimeRunning}}
	src := AgentSource{Agent: a, Monitor: mon, GPUs: sim.GPUs(), Version: "1.4.0", Runtimes: func() []proto.RuntimeState { return runtimes }}

	// Before the monitor's first sample: the inventory, no readings.
	snap := src.Snapshot()
	if snap.State != agent.ConnUnpaired || snap.Connected || len(snap.GPUs) != 2 || len(snap.Samples) != 0 || !snap.SampledAt.IsZero() || snap.Version != "1.4.0" {
		t.Errorf("snapshot before sampling = %+v", snap)
	}

	a.SetPaused(true, "GPU at 86 °C")
	mon.SampleNow(context.Background())
	snap = src.Snapshot()
	if !snap.Paused || snap.PauseReason != "GPU at 86 °C" {
		t.Errorf("paused = %v %q", snap.Paused, snap.PauseReason)
	}
	if len(snap.Samples) != 2 || snap.Samples[1].UUID != sim.GPUs()[1].UUID || !snap.SampledAt.Equal(now) || snap.GPULost {
		t.Errorf("snapshot after sampling = %+v", snap)
	}
	if len(snap.Runtimes) != 1 {
		t.Errorf("runtimes = %+v", snap.Runtimes)
	}

	// A card that fell off the bus is recognised from the monitor's text.
	lost := &agent.Monitor{GPU: lostProbe{sim}, Now: clock}
	lost.SampleNow(context.Background())
	src.Monitor = lost
	if snap := src.Snapshot(); !snap.GPULost || snap.GPUError == "" || len(snap.Samples) != 0 {
		t.Errorf("snapshot with a lost card = %+v", snap)
	}
}
