package guard

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/idlegrid/idlegrid/shared/hw"
	"github.com/idlegrid/idlegrid/shared/idle"
)

var noon = time.Date(2026, 11, 22, 12, 0, 0, 0, time.Local)

func away() idle.State { return idle.State{Known: true, IdleFor: time.Hour, Source: "fake"} }

func gpu(temp int, powerW uint32) hw.GPUSample {
	return hw.GPUSample{Index: 0, TempC: temp, PowerMW: powerW * 1000, PowerLimitMW: 450_000}
}

func TestDecide(t *testing.T) {
	l := Limits{MaxTempC: 83, MaxPowerW: 300, OnlyWhenIdle: true, IdleAfter: 5 * time.Minute}
	night := l
	night.Schedule = Schedule{Enabled: true, From: 22, To: 8}
	cases := []struct {
		name   string
		limits Limits
		in     Inputs
		prev   Decision
		supply bool
		says   string
	}{
		{"all clear", l, Inputs{Now: noon, GPUs: []hw.GPUSample{gpu(60, 250)}, Idle: away()}, Decision{}, true, ""},
		{"manual pause", l, Inputs{Now: noon, Idle: away(), UserPaused: true}, Decision{}, false, "paused by you"},
		{"too hot", l, Inputs{Now: noon, GPUs: []hw.GPUSample{gpu(86, 250)}, Idle: away()}, Decision{}, false, "GPU 0 at 86 °C, above your limit of 83 °C"},
		{"cooling down holds", l, Inputs{Now: noon, GPUs: []hw.GPUSample{gpu(80, 250)}, Idle: away()}, Decision{Hot: true}, false, "cooling down"},
		{"cooled enough resumes", l, Inputs{Now: noon, GPUs: []hw.GPUSample{gpu(78, 250)}, Idle: away()}, Decision{Hot: true}, true, ""},
		{"power over limit", l, Inputs{Now: noon, GPUs: []hw.GPUSample{gpu(60, 340)}, Idle: away()}, Decision{}, false, "drawing 340 W"},
		{"power within margin", l, Inputs{Now: noon, GPUs: []hw.GPUSample{gpu(60, 312)}, Idle: away()}, Decision{}, true, ""},
		{"user at the keyboard", l, Inputs{Now: noon, Idle: idle.State{Known: true, IdleFor: time.Minute}}, Decision{}, false, "you are using the PC"},
		{"full-screen game", l, Inputs{Now: noon, Idle: idle.State{Known: true, IdleFor: time.Hour, FullScreen: true}}, Decision{}, false, "full-screen"},
		{"idle unknown means present", l, Inputs{Now: noon, Idle: idle.State{Reason: "no session bus"}}, Decision{}, false, "can't tell"},
		{"idle not required", Limits{MaxTempC: 83}, Inputs{Now: noon, Idle: idle.State{Reason: "no session bus"}}, Decision{}, true, ""},
		{"foreign process", l, Inputs{Now: noon, Idle: away(), Foreign: []hw.GPUProcess{{PID: 7, Name: "Cyberpunk2077.exe"}}}, Decision{}, false, "Cyberpunk2077.exe"},
		{"outside hours", night, Inputs{Now: noon, Idle: away()}, Decision{}, false, "outside your hours (22:00–08:00)"},
		{"inside hours past midnight", night, Inputs{Now: noon.Add(-10 * time.Hour), Idle: away()}, Decision{}, true, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := Decide(tc.limits, tc.in, tc.prev)
			if d.Supply != tc.supply || !strings.Contains(d.Reason(), tc.says) {
				t.Fatalf("Decide = supply %v %q, want supply %v saying %q", d.Supply, d.Reason(), tc.supply, tc.says)
			}
		})
	}
}

func TestScheduleAllows(t *testing.T) {
	at := func(h int) time.Time { return time.Date(2026, 1, 1, h, 30, 0, 0, time.Local) }
	cases := []struct {
		s    Schedule
		h    int
		want bool
	}{
		{Schedule{Enabled: true, From: 9, To: 17}, 9, true},
		{Schedule{Enabled: true, From: 9, To: 17}, 17, false},
		{Schedule{Enabled: true, From: 22, To: 8}, 23, true},
		{Schedule{Enabled: true, From: 22, To: 8}, 7, true},
		{Schedule{Enabled: true, From: 22, To: 8}, 12, false},
		{Schedule{Enabled: false, From: 22, To: 8}, 12, true},
	}
	for _, tc := range cases {
		if got := tc.s.Allows(at(tc.h)); got != tc.want {
			t.Errorf("%+v at %02d:30 = %v, want %v", tc.s, tc.h, got, tc.want)
		}
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	err := Limits{MaxTempC: 120, MaxPowerW: -1, OnlyWhenIdle: true, IdleAfter: time.Second, Schedule: Schedule{From: 25}}.Validate()
	if err == nil {
		t.Fatal("bad limits accepted")
	}
	for _, want := range []string{"temperature", "power", "away time", "schedule"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if err := DefaultLimits().Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
}

// The live guard: a simulated card that heats up under load, a fake idle
// source, a game starting; each flips the decision and reports the change.
func TestGuardFollowsLiveInputs(t *testing.T) {
	models, _ := hw.ParseSimSpec("RTX 4090")
	clock := noon
	sim := hw.NewSim(models, 1, func() time.Time { return clock })
	src := &idle.Fake{}
	src.Set(away())
	var changes []Decision
	g := &Guard{
		Sample: func() (time.Time, []hw.GPUSample) {
			s, _ := sim.Sample(context.Background())
			return clock, s
		},
		Idle: src, Processes: sim, PowerLimit: sim,
		OnChange: func(d Decision) { changes = append(changes, d) },
	}
	g.SetLimits(Limits{MaxTempC: 55, MaxPowerW: 300, OnlyWhenIdle: true, IdleAfter: time.Minute}) // capped at 300 W a 4090 settles near 58 °C
	if note := g.PowerCapNote(); !strings.Contains(note, "capped at 300 W") {
		t.Fatalf("power cap note %q", note)
	}
	ctx := context.Background()
	if d := g.Check(ctx); !d.Supply {
		t.Fatalf("cool and idle: %v", d.Reasons)
	}
	sim.SetLoadAll(1)
	for i := 0; i < 600 && g.Check(ctx).Supply; i++ { // up to 10 simulated minutes
		clock = clock.Add(time.Second)
	}
	if d := g.Check(ctx); d.Supply || !strings.Contains(d.Reason(), "above your limit of 55 °C") {
		t.Fatalf("after heating under load: %+v", d)
	}
	sim.SetLoadAll(0)
	for i := 0; i < 900 && !g.Check(ctx).Supply; i++ {
		clock = clock.Add(time.Second)
	}
	if d := g.Check(ctx); !d.Supply {
		t.Fatalf("after cooling: %v", d.Reasons)
	}
	src.Set(idle.State{Known: true, IdleFor: 2 * time.Second})
	if d := g.Check(ctx); d.Supply || !strings.Contains(d.Reason(), "using the PC") {
		t.Fatalf("user back: %+v", d)
	}
	src.Set(away())
	sim.SetProcesses([]hw.GPUProcess{{PID: 4242, Name: "game"}})
	if d := g.Check(ctx); d.Supply || !strings.Contains(d.Reason(), "game") {
		t.Fatalf("game on the GPU: %+v", d)
	}
	g.OwnPIDs = func() []int { return []int{4242} }
	if d := g.Check(ctx); !d.Supply {
		t.Fatalf("our own process on the GPU: %v", d.Reasons)
	}
	// Every flip was reported once: supply, hot, (cooling…), resumed, user, game, ours.
	if len(changes) < 6 || !changes[0].Supply || changes[len(changes)-1].Supply != true {
		t.Fatalf("changes reported: %d, first %+v", len(changes), changes[0])
	}
}
