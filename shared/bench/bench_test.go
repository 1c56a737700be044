package bench

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// quick returns options that make a whole run take well under a second:
// 100 ms budgets, a small memory buffer and disk file, a fake control plane,
// and a CUDA driver name that exists nowhere, so the GPU path is the same
// on every machine.
func quick(tb testing.TB) Options {
	tb.Helper()
	fake := newFakeSpeedTest(tb)
	return Options{
		DataDir:     tb.TempDir(),
		ServerURL:   fake.srv.URL,
		PerKind:     100 * time.Millisecond,
		DiskBytes:   2 << 20,
		NetBytes:    200_000,
		memBytes:    8 << 20,
		cudaLibrary: missingCUDALibrary,
	}
}

const missingCUDALibrary = "libidlegrid-no-such-cuda.so.1"

func TestAllKindsIsTheRunOrder(t *testing.T) {
	want := []Kind{CPU, Memory, Disk, Network, GPU}
	if got := AllKinds(); !slices.Equal(got, want) {
		t.Errorf("AllKinds() = %v, want %v", got, want)
	}
	for _, k := range want {
		if runners[k] == nil {
			t.Errorf("no runner for %q", k)
		}
	}
}

func TestNormalize(t *testing.T) {
	cases := []struct {
		name    string
		in      []Kind
		want    []Kind
		wantErr string
	}{
		{name: "nil means all", in: nil, want: AllKinds()},
		{name: "run order, no duplicates", in: []Kind{GPU, CPU, GPU, Disk}, want: []Kind{CPU, Disk, GPU}},
		{name: "unknown kind", in: []Kind{CPU, "tpu"}, wantErr: `unknown kind "tpu"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := normalize(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("normalize(%v) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestFullRunProgressAndReport(t *testing.T) {
	opt := quick(t)
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	opt.Now = func() time.Time { return at }

	var steps []Progress
	rep, err := Run(context.Background(), nil, opt, func(p Progress) { steps = append(steps, p) })
	if err != nil {
		t.Fatalf("Run: %v", err)
	}

	// Progress: never backwards, in words, each kind announced, ends at 1.
	if len(steps) < len(AllKinds())+1 {
		t.Fatalf("only %d progress steps: %+v", len(steps), steps)
	}
	for i, p := range steps {
		if p.Step == "" {
			t.Errorf("step %d has no words: %+v", i, p)
		}
		if p.Fraction < 0 || p.Fraction > 1 {
			t.Errorf("step %d fraction %v out of 0..1", i, p.Fraction)
		}
		if i > 0 && p.Fraction < steps[i-1].Fraction {
			t.Errorf("progress went back: %+v after %+v", p, steps[i-1])
		}
	}
	if last := steps[len(steps)-1]; last.Fraction != 1 || last.Step != "Done" {
		t.Errorf("last step = %+v, want Done at 1", last)
	}
	for _, k := range AllKinds() {
		if !slices.ContainsFunc(steps, func(p Progress) bool { return p.Kind == k }) {
			t.Errorf("no progress reported for %s", k)
		}
	}
	for _, want := range []string{"CPU: all cores", "CPU: one core", "Memory: copying 8 MiB", "Disk: writing 2 MiB", "Disk: reading back 2 MiB"} {
		if !slices.ContainsFunc(steps, func(p Progress) bool { return p.Step == want }) {
			t.Errorf("no step %q", want)
		}
	}

	// Report: stamped by the injected clock, one result per kind in order,
	// figures where measurable, a worded skip where not.
	if !rep.At.Equal(at) {
		t.Errorf("At = %v, want %v", rep.At, at)
	}
	var kinds []Kind
	for _, r := range rep.Results {
		kinds = append(kinds, r.Kind)
		if r.Duration <= 0 {
			t.Errorf("%s: Duration = %v", r.Kind, r.Duration)
		}
	}
	if !slices.Equal(kinds, AllKinds()) {
		t.Fatalf("result kinds = %v", kinds)
	}
	res := func(k Kind) Result { return rep.Results[slices.Index(kinds, k)] }
	for name, v := range map[string]float64{
		"CPUGFLOPS": res(CPU).CPUGFLOPS, "CPUSingleGFLOPS": res(CPU).CPUSingleGFLOPS,
		"MemGBps":      res(Memory).MemGBps,
		"DiskReadMBps": res(Disk).DiskReadMBps, "DiskWriteMBps": res(Disk).DiskWriteMBps,
		"NetLatencyMS": res(Network).NetLatencyMS, "NetDownMbps": res(Network).NetDownMbps, "NetUpMbps": res(Network).NetUpMbps,
	} {
		if !measured(v) {
			t.Errorf("%s = %v, want a positive figure", name, v)
		}
	}
	if g := res(GPU); g.Skipped == "" || len(g.GPUs) != 0 {
		t.Errorf("GPU result = %+v, want skipped with no GPUs", g)
	}

	score, tier := Score(rep)
	if rep.Score != score || rep.Tier != tier || rep.Tier != TierBronze || !(rep.Score > 0) {
		t.Errorf("report scored %v %q; Score says %v %q; want a positive bronze", rep.Score, rep.Tier, score, tier)
	}
	if !strings.Contains(rep.Host, "threads") || !strings.Contains(rep.Host, "/") {
		t.Errorf("Host = %q, want a hardware summary", rep.Host)
	}
	if entries, _ := os.ReadDir(opt.DataDir); len(entries) != 0 {
		t.Errorf("data directory not left empty: %v", entries)
	}
}

// Cancelling in the middle of each benchmark returns context.Canceled
// within two seconds although every budget is a minute, and leaves no file
// in the data directory. cancel runs on a goroutine of its own, as a user's
// click would, while the benchmark holds every P.
func TestCancelMidRunReturnsPromptlyAndCleansUp(t *testing.T) {
	for _, tc := range []struct {
		kind  Kind
		step  string // cancel once a step with this prefix is reported
		tweak func(*Options)
	}{
		{kind: CPU, step: "CPU: all cores"},
		{kind: Memory, step: "Memory: copying"},
		{kind: Disk, step: "Disk: writing", tweak: func(o *Options) { o.DiskBytes = 1 << 30 }},
		{kind: Disk, step: "Disk: reading back", tweak: func(o *Options) { o.DiskBytes = 64 << 20 }},
	} {
		t.Run(tc.step, func(t *testing.T) {
			opt := quick(t)
			opt.PerKind = time.Minute
			if tc.tweak != nil {
				tc.tweak(&opt)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var cancelledAt time.Time
			cancelled := make(chan struct{})
			var once bool
			progress := func(p Progress) {
				if !once && strings.HasPrefix(p.Step, tc.step) {
					once = true
					go func() { cancelledAt = time.Now(); cancel(); close(cancelled) }()
				}
			}

			start := time.Now()
			_, err := Run(ctx, []Kind{tc.kind}, opt, progress)
			returned := time.Now()
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
			if !strings.Contains(err.Error(), string(tc.kind)) {
				t.Errorf("err = %q, want it to name the %s benchmark", err, tc.kind)
			}
			<-cancelled
			if d := returned.Sub(cancelledAt); d > 2*time.Second {
				t.Errorf("Run returned %v after cancel, want within 2 s", d)
			}
			if d := returned.Sub(start); d > 10*time.Second {
				t.Errorf("Run took %v with one-minute budgets: the cancel was not seen", d)
			}
			entries, err := os.ReadDir(opt.DataDir)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 0 {
				t.Errorf("data directory holds %v after cancel, want it empty", entries)
			}
		})
	}
}

func TestRunRejectsUnknownKinds(t *testing.T) {
	_, err := Run(context.Background(), []Kind{"tpu"}, Options{}, nil)
	if err == nil || !strings.Contains(err.Error(), `"tpu"`) {
		t.Fatalf("err = %v, want the unknown kind named", err)
	}
}

func TestRunWithCancelledContextDoesNothing(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	called := false
	_, err := Run(ctx, []Kind{CPU}, Options{}, func(Progress) { called = true })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if called {
		t.Error("progress reported for a run that never started")
	}
}

func TestDefaults(t *testing.T) {
	o := Options{NetBytes: 1 << 40}.withDefaults()
	if o.PerKind != 2*time.Second || o.DiskBytes != 256<<20 || o.NetBytes != MaxNetBytes ||
		o.HTTPClient == nil || o.Now == nil || o.memBytes != 128<<20 {
		t.Errorf("defaults = %+v", o)
	}
	if o := (Options{}).withDefaults(); o.NetBytes != 10_000_000 {
		t.Errorf("default NetBytes = %d, want 10 MB", o.NetBytes)
	}
}

func TestSizeWords(t *testing.T) {
	for n, want := range map[int64]string{
		256 << 20: "256 MiB", 1 << 30: "1 GiB", 4096: "4 KiB", 1536 << 10: "1.5 MiB", 100: "100 bytes",
	} {
		if got := sizeWords(n); got != want {
			t.Errorf("sizeWords(%d) = %q, want %q", n, got, want)
		}
	}
}
