package hw

import (
	"context"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseSimSpec(t *testing.T) {
	tests := []struct {
		name    string
		spec    string
		want    []string // model keys, one per card
		wantErr []string // substrings of the error
	}{
		{name: "one card", spec: "RTX 3080", want: []string{"RTX 3080"}},
		{name: "count", spec: "RTX 4090x2", want: []string{"RTX 4090", "RTX 4090"}},
		{name: "two models", spec: "RTX 4090x2,A100 80GB", want: []string{"RTX 4090", "RTX 4090", "A100 80GB"}},
		{name: "loose spelling", spec: " rtx4090 X 3 , a100-40gb ", want: []string{"RTX 4090", "RTX 4090", "RTX 4090", "A100 40GB"}},
		{name: "NVML name", spec: "NVIDIA GeForce RTX 5090", want: []string{"RTX 5090"}},
		{name: "GeForce prefix", spec: "GeForce RTX 3060x1", want: []string{"RTX 3060"}},
		{name: "short model", spec: "L4x4", want: []string{"L4", "L4", "L4", "L4"}},
		{name: "H100", spec: "H100 80GB", want: []string{"H100 80GB"}},
		{name: "empty", spec: "", wantErr: []string{"empty"}},
		{name: "blank", spec: "   ", wantErr: []string{"empty"}},
		{name: "empty middle part", spec: "RTX 4090,,L4", wantErr: []string{"part 2 is empty"}},
		{name: "trailing comma", spec: "RTX 4090,", wantErr: []string{"part 2 is empty"}},
		{name: "unknown model", spec: "RTX 9999", wantErr: []string{`unknown GPU model "RTX 9999"`, "known models", "RTX 4090", "A100 80GB", "L4"}},
		{name: "ambiguous model", spec: "A100", wantErr: []string{`unknown GPU model "A100"`, "A100 40GB"}},
		{name: "zero count", spec: "RTX 4090x0", wantErr: []string{`count "0"`}},
		{name: "negative count", spec: "RTX 4090x-1", wantErr: []string{`count "-1"`}},
		{name: "fractional count", spec: "RTX 4090x2.5", wantErr: []string{`count "2.5"`, "whole number"}},
		{name: "huge count", spec: "RTX 4090x65", wantErr: []string{`count "65"`}},
		{name: "too many in total", spec: "RTX 4090x40,L4x30", wantErr: []string{"more than 64 GPUs"}},
		{name: "count without model", spec: "x2", wantErr: []string{"no model before the count"}},
		{name: "trailing x", spec: "RTX 4090x", wantErr: []string{`unknown GPU model "RTX 4090x"`}},
		{name: "unknown model with count", spec: "RTX 9999x2", wantErr: []string{`unknown GPU model "RTX 9999x2"`}},
		{name: "unknown model with bad count", spec: "Voodoo x0", wantErr: []string{`unknown GPU model "Voodoo x0"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSimSpec(tt.spec)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("ParseSimSpec(%q) = %d models, want an error", tt.spec, len(got))
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not contain %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSimSpec(%q): %v", tt.spec, err)
			}
			var keys []string
			for _, m := range got {
				keys = append(keys, m.Key)
			}
			if !reflect.DeepEqual(keys, tt.want) {
				t.Errorf("ParseSimSpec(%q) = %q, want %q", tt.spec, keys, tt.want)
			}
		})
	}
}

func TestSimModelsAreSane(t *testing.T) {
	for _, m := range SimModels() {
		if m.Name == "" || m.MemoryTotal == 0 || m.IdleMW == 0 || m.IdleMW >= m.TDPMW ||
			m.IdleClockMHz <= 0 || m.MaxClockMHz <= m.IdleClockMHz || m.ThermalCPerW <= 0 {
			t.Errorf("model %+v has implausible values", m)
		}
		// A card at full TDP in the model's cooling must not sit above the
		// throttle point, or the demo would show every card throttling.
		if full := simAmbientC + m.ThermalCPerW*watts(m.TDPMW); full >= simThrottleC {
			t.Errorf("%s settles at %.0f °C at TDP, want below %.0f", m.Key, full, simThrottleC)
		}
	}
}

// fakeClock is the injected clock: the simulation only moves when a test
// moves it.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func newTestSim(t testing.TB, spec string, seed int64) (*Sim, *fakeClock) {
	t.Helper()
	models, err := ParseSimSpec(spec)
	if err != nil {
		t.Fatalf("ParseSimSpec(%q): %v", spec, err)
	}
	clk := &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	return NewSim(models, seed, clk.now), clk
}

// runSim samples every step for d of simulated time, checks the invariants
// every sample must hold, and returns the last sample.
func runSim(t testing.TB, s *Sim, clk *fakeClock, d, step time.Duration) []GPUSample {
	t.Helper()
	var last []GPUSample
	for elapsed := time.Duration(0); elapsed < d; elapsed += step {
		clk.t = clk.t.Add(step)
		got, err := s.Sample(context.Background())
		if err != nil {
			t.Fatalf("Sample: %v", err)
		}
		for _, g := range got {
			checkSimInvariants(t, s.cards[g.Index].model, g)
		}
		last = got
	}
	return last
}

func checkSimInvariants(t testing.TB, m SimModel, g GPUSample) {
	t.Helper()
	switch {
	case g.PowerMW > g.PowerLimitMW:
		t.Fatalf("GPU %d draws %d mW over its %d mW limit", g.Index, g.PowerMW, g.PowerLimitMW)
	case g.PowerMW < m.IdleMW-1:
		t.Fatalf("GPU %d draws %d mW, under its idle %d mW", g.Index, g.PowerMW, m.IdleMW)
	case g.UtilPct < 0 || g.UtilPct > 100 || g.FanPct < 0 || g.FanPct > 100:
		t.Fatalf("GPU %d reads util %d%%, fan %d%%", g.Index, g.UtilPct, g.FanPct)
	case g.MemoryUsed > g.MemoryTotal:
		t.Fatalf("GPU %d uses %d of %d bytes", g.Index, g.MemoryUsed, g.MemoryTotal)
	case g.SMClockMHz < m.IdleClockMHz || g.SMClockMHz > m.MaxClockMHz:
		t.Fatalf("GPU %d clock %d MHz outside %d..%d", g.Index, g.SMClockMHz, m.IdleClockMHz, m.MaxClockMHz)
	case g.TempC < int(simAmbientC) || g.TempC > 100:
		t.Fatalf("GPU %d at %d °C", g.Index, g.TempC)
	}
}

func TestSimLoadHeatsUpAndIdleCoolsDown(t *testing.T) {
	s, clk := newTestSim(t, "RTX 4090,A100 80GB", 1)
	start, err := s.Sample(context.Background())
	if err != nil {
		t.Fatalf("Sample: %v", err)
	}
	if st := s.Status(); !st.Available || st.Driver == "" {
		t.Errorf("Status() = %+v, want available", st)
	}

	s.SetLoadAll(1)
	afterTau := runSim(t, s, clk, 30*time.Second, time.Second)
	loaded := runSim(t, s, clk, 5*time.Minute, time.Second)
	for i, g := range loaded {
		m := s.cards[i].model
		if g.TempC < start[i].TempC+20 {
			t.Errorf("%s: %d °C after 5 min flat out, from %d °C; want at least 20 °C hotter", m.Key, g.TempC, start[i].TempC)
		}
		if g.TempC >= int(simThrottleC) {
			t.Errorf("%s: %d °C flat out, want below the throttle point", m.Key, g.TempC)
		}
		// After one time constant a first-order lag has covered ~63% of
		// the way (1 - 1/e).
		frac := float64(afterTau[i].TempC-start[i].TempC) / float64(g.TempC-start[i].TempC)
		if frac < 0.5 || frac > 0.75 {
			t.Errorf("%s: %.0f%% of the temperature rise after 30 s, want about 63%%", m.Key, frac*100)
		}
		if g.PowerMW < m.TDPMW*9/10 {
			t.Errorf("%s: %d mW flat out, want near TDP %d mW", m.Key, g.PowerMW, m.TDPMW)
		}
		if g.UtilPct < 95 {
			t.Errorf("%s: util %d%% at load 1", m.Key, g.UtilPct)
		}
		if g.SMClockMHz != m.MaxClockMHz {
			t.Errorf("%s: %d MHz flat out, want boost %d", m.Key, g.SMClockMHz, m.MaxClockMHz)
		}
		if g.MemoryUsed < g.MemoryTotal*8/10 {
			t.Errorf("%s: %d of %d bytes used flat out, want most", m.Key, g.MemoryUsed, g.MemoryTotal)
		}
	}
	if fan := loaded[0].FanPct; fan <= start[0].FanPct {
		t.Errorf("RTX 4090 fan %d%% flat out, was %d%% at idle; want it faster", fan, start[0].FanPct)
	}
	if !reflect.DeepEqual(loaded[1].Missing, []string{FieldFan}) || loaded[1].FanPct != 0 {
		t.Errorf("passive A100: fan %d%%, Missing %q; want the fan reported missing", loaded[1].FanPct, loaded[1].Missing)
	}

	s.SetLoadAll(0)
	idle := runSim(t, s, clk, 5*time.Minute, 5*time.Second)
	for i, g := range idle {
		m := s.cards[i].model
		if d := g.TempC - start[i].TempC; d < -1 || d > 1 {
			t.Errorf("%s: %d °C after 5 min idle, want back to %d", m.Key, g.TempC, start[i].TempC)
		}
		if g.PowerMW != m.IdleMW || g.UtilPct != 0 || g.SMClockMHz != m.IdleClockMHz {
			t.Errorf("%s idle: %d mW, %d%%, %d MHz; want %d mW, 0%%, %d MHz",
				m.Key, g.PowerMW, g.UtilPct, g.SMClockMHz, m.IdleMW, m.IdleClockMHz)
		}
		if g.MemoryUsed > g.MemoryTotal/10 {
			t.Errorf("%s idle: %d of %d bytes used", m.Key, g.MemoryUsed, g.MemoryTotal)
		}
	}
}

func TestSimPowerLimit(t *testing.T) {
	s, clk := newTestSim(t, "RTX 4090", 1)

	for _, tc := range []struct {
		name    string
		ask     uint32
		applied uint32
	}{
		{"below range is raised to 30% of TDP", 1, 135_000},
		{"above TDP is lowered to TDP", 10_000_000, 450_000},
		{"in range is kept", 300_000, 300_000},
	} {
		got, err := s.SetPowerLimit(0, tc.ask)
		if err != nil || got != tc.applied {
			t.Errorf("%s: SetPowerLimit(0, %d) = %d, %v; want %d", tc.name, tc.ask, got, err, tc.applied)
		}
	}
	if _, err := s.SetPowerLimit(1, 300_000); err == nil {
		t.Error("SetPowerLimit on a card that does not exist succeeded")
	}

	if err := s.SetLoad(0, 1); err != nil {
		t.Fatalf("SetLoad: %v", err)
	}
	g := runSim(t, s, clk, 3*time.Minute, time.Second)[0] // runSim checks power <= limit each second
	if g.PowerLimitMW != 300_000 || g.PowerMW < 295_000 {
		t.Errorf("capped card draws %d mW under a %d mW limit, want right at 300000", g.PowerMW, g.PowerLimitMW)
	}
	if g.SMClockMHz >= 2520 {
		t.Errorf("capped card runs at %d MHz, want below boost", g.SMClockMHz)
	}
}

func TestSimThrottlesWhenHot(t *testing.T) {
	hot := SimModel{Key: "oven", Name: "NVIDIA Oven", MemoryTotal: 8 * gib, TDPMW: 300_000, IdleMW: 20_000,
		IdleClockMHz: 300, MaxClockMHz: 2000, ThermalCPerW: 0.27} // would settle at 111 °C
	clk := &fakeClock{t: time.Unix(0, 0)}
	s := NewSim([]SimModel{hot}, 7, clk.now)
	s.SetLoadAll(1)

	// Coarse samples too: the integration must stay stable between them.
	for _, step := range []time.Duration{time.Second, 30 * time.Second, 10 * time.Minute} {
		g := runSim(t, s, clk, 20*time.Minute, step)[0]
		if g.TempC <= int(simThrottleC) || g.TempC > 95 {
			t.Errorf("step %v: hot card at %d °C, want throttled a little above %.0f", step, g.TempC, simThrottleC)
		}
		if g.SMClockMHz >= hot.MaxClockMHz || g.PowerMW >= hot.TDPMW {
			t.Errorf("step %v: hot card at %d MHz, %d mW; want both held back", step, g.SMClockMHz, g.PowerMW)
		}
	}
}

func TestSimIsDeterministic(t *testing.T) {
	run := func(seed int64) ([]GPU, [][]GPUSample) {
		s, clk := newTestSim(t, "RTX 4090x2,L4", seed)
		var all [][]GPUSample
		for i, load := range []float64{0, 0.3, 1, 1, 0.5, 0} {
			if err := s.SetLoad(i%3, load); err != nil {
				t.Fatalf("SetLoad: %v", err)
			}
			all = append(all, runSim(t, s, clk, 20*time.Second, 2*time.Second))
		}
		return s.GPUs(), all
	}
	gpus, a := run(42)
	gpus2, b := run(42)
	if !reflect.DeepEqual(gpus, gpus2) || !reflect.DeepEqual(a, b) {
		t.Error("two Sims with seed 42 and the same clock differ")
	}
	other, _ := run(43)

	seen := map[string]bool{}
	for i, g := range gpus {
		if !g.Simulated || !strings.HasPrefix(g.UUID, "GPU-sim-") || len(g.UUID) != len("GPU-sim-")+36 {
			t.Errorf("GPU %+v, want Simulated and a GPU-sim- UUID", g)
		}
		if seen[g.UUID] {
			t.Errorf("UUID %s used twice", g.UUID)
		}
		seen[g.UUID] = true
		if other[i].UUID == g.UUID {
			t.Errorf("seeds 42 and 43 give GPU %d the same UUID", i)
		}
	}
	if gpus[0].Name != "NVIDIA GeForce RTX 4090" {
		t.Errorf("Name = %q, want the NVML name", gpus[0].Name)
	}
}

func TestSimSetLoadClamps(t *testing.T) {
	s, clk := newTestSim(t, "RTX 3070", 1)
	for _, tc := range []struct {
		load     float64
		min, max int
	}{
		{7, 95, 100},
		{-1, 0, 0},
		{math.NaN(), 0, 0},
	} {
		if err := s.SetLoad(0, tc.load); err != nil {
			t.Fatalf("SetLoad(0, %v): %v", tc.load, err)
		}
		g := runSim(t, s, clk, time.Second, time.Second)[0]
		if g.UtilPct < tc.min || g.UtilPct > tc.max {
			t.Errorf("load %v: util %d%%, want %d..%d", tc.load, g.UtilPct, tc.min, tc.max)
		}
	}
	for _, i := range []int{-1, 1} {
		if err := s.SetLoad(i, 0.5); err == nil {
			t.Errorf("SetLoad(%d) on a one-card Sim succeeded", i)
		}
	}
}

func TestSimEdgeCases(t *testing.T) {
	t.Run("clock steps back", func(t *testing.T) {
		s, clk := newTestSim(t, "RTX 4080", 1)
		s.SetLoadAll(1)
		before := runSim(t, s, clk, time.Minute, time.Second)[0]
		clk.t = clk.t.Add(-time.Hour)
		got, err := s.Sample(context.Background())
		if err != nil || got[0].TempC != before.TempC {
			t.Errorf("after the clock stepped back: %d °C, %v; want %d °C held", got[0].TempC, err, before.TempC)
		}
	})
	t.Run("a day between samples", func(t *testing.T) {
		s, clk := newTestSim(t, "RTX 4080", 1)
		s.SetLoadAll(1)
		g := runSim(t, s, clk, 24*time.Hour, 24*time.Hour)[0]
		m := s.cards[0].model
		if want := int(math.Round(simAmbientC + m.ThermalCPerW*float64(g.PowerMW)/1000)); g.TempC != want {
			t.Errorf("after a day flat out: %d °C, want settled at %d", g.TempC, want)
		}
	})
	t.Run("no cards", func(t *testing.T) {
		s := NewSim(nil, 1, nil)
		if st := s.Status(); st.Available || st.Reason == "" {
			t.Errorf("Status() = %+v, want unavailable with a reason", st)
		}
		if got, err := s.Sample(context.Background()); len(got) != 0 || err != nil {
			t.Errorf("Sample() = %v, %v", got, err)
		}
	})
	t.Run("cancelled context", func(t *testing.T) {
		s, _ := newTestSim(t, "L4", 1)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := s.Sample(ctx); err == nil {
			t.Error("Sample with a cancelled context succeeded")
		}
	})
}

func TestNone(t *testing.T) {
	p := None("no GPU here")
	if st := p.Status(); st.Available || st.Reason != "no GPU here" {
		t.Errorf("Status() = %+v", st)
	}
	if g := p.GPUs(); len(g) != 0 {
		t.Errorf("GPUs() = %v", g)
	}
	if s, err := p.Sample(context.Background()); s != nil || err != nil {
		t.Errorf("Sample() = %v, %v; want nil, nil", s, err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}
