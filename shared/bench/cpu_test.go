package bench

import (
	"context"
	"math"
	"runtime"
	"testing"
	"time"
)

func TestCPUAndMemoryMeasure(t *testing.T) {
	opt := quick(t)
	start := time.Now()
	rep, err := Run(context.Background(), []Kind{CPU, Memory}, opt, nil)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	cpu, mem := rep.Results[0], rep.Results[1]
	if !measured(cpu.CPUGFLOPS) || !measured(cpu.CPUSingleGFLOPS) {
		t.Errorf("CPU result = %+v, want figures", cpu)
	}
	if !measured(mem.MemGBps) {
		t.Errorf("memory result = %+v, want a figure", mem)
	}
	// Three measurements of 100 ms each: the budget bounds the run.
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Run took %v on 100 ms budgets", d)
	}
	// All cores can't be slower than one by more than measurement noise,
	// unless GOMAXPROCS is 1 and they are the same thing.
	if runtime.GOMAXPROCS(0) > 1 && cpu.CPUGFLOPS < 0.5*cpu.CPUSingleGFLOPS {
		t.Errorf("all cores %v GFLOPS, one core %v", cpu.CPUGFLOPS, cpu.CPUSingleGFLOPS)
	}
}

func TestFMALoopComputesTheRecurrence(t *testing.T) {
	// The loop is what is timed; check it does the arithmetic it claims
	// (so the FLOP count is honest) against a plain reference.
	var acc [fmaChains]float64
	for i := range acc {
		acc[i] = float64(i + 1)
	}
	want := acc
	const n = 1000
	fmaLoop(&acc, n)
	for i := range want {
		for range n {
			want[i] = want[i]*0.999999 + 0.000001
		}
		if math.Abs(acc[i]-want[i]) > 1e-12*math.Abs(want[i]) {
			t.Errorf("chain %d = %v, want %v", i, acc[i], want[i])
		}
	}
	if acc == [fmaChains]float64{1, 2, 3, 4, 5, 6, 7, 8} {
		t.Error("loop left the chains unchanged")
	}
}

func TestCPUSinkReceivesTheResult(t *testing.T) {
	cpuSink.Store(0)
	if _, err := fmaGFLOPS(context.Background(), 1, 10*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if v := math.Float64frombits(cpuSink.Load()); !(v > 0) {
		t.Errorf("sink = %v, want the chains' sum", v)
	}
}
