// Package guard keeps the PC the gamer's: it decides, every second, whether
// this machine may take work, from the GPU's temperature and power, whether
// the user is at the keyboard or in a full-screen game, foreign processes
// on the GPU, the allowed hours and a manual pause. The decision is pure
// (Decide); Guard runs it on live inputs and reports changes.
package guard

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/idlegrid/idlegrid/shared/hw"
	"github.com/idlegrid/idlegrid/shared/idle"
)

// Limits are the supplier's rules.
type Limits struct {
	MaxTempC     int           // pause above this GPU temperature (°C); 0: no limit
	MaxPowerW    int           // pause above this draw per GPU (W), and cap the card there where the driver allows; 0: no limit
	OnlyWhenIdle bool          // supply only while the user is away
	IdleAfter    time.Duration // away after this long without input
	Schedule     Schedule
}

// DefaultLimits suit a gaming PC: 83 °C, no power cap, only when idle for
// 5 minutes, any hour (a 22:00–08:00 schedule is offered but off).
func DefaultLimits() Limits {
	return Limits{MaxTempC: 83, OnlyWhenIdle: true, IdleAfter: 5 * time.Minute, Schedule: Schedule{From: 22, To: 8}}
}

// CoolDown is how far below MaxTempC a card must fall before supplying
// resumes, so a card hovering at the limit doesn't flap.
const CoolDown = 5

// Schedule is the hours of the day when supplying is allowed, in local
// time: From ≤ hour < To, wrapping past midnight when From > To.
type Schedule struct {
	Enabled  bool
	From, To int // 0..23
}

// Allows reports whether t falls in the allowed hours.
func (s Schedule) Allows(t time.Time) bool {
	if !s.Enabled || s.From == s.To {
		return true
	}
	h := t.Hour()
	if s.From < s.To {
		return h >= s.From && h < s.To
	}
	return h >= s.From || h < s.To
}

// Validate checks the limits, reporting every problem in words.
func (l Limits) Validate() error {
	var probs []string
	if l.MaxTempC != 0 && (l.MaxTempC < 50 || l.MaxTempC > 95) {
		probs = append(probs, "the temperature limit must be between 50 and 95 °C")
	}
	if l.MaxPowerW < 0 || l.MaxPowerW > 2000 {
		probs = append(probs, "the power limit must be between 0 (none) and 2000 W")
	}
	if l.OnlyWhenIdle && (l.IdleAfter < 30*time.Second || l.IdleAfter > 24*time.Hour) {
		probs = append(probs, "away time must be between 30 seconds and 24 hours")
	}
	if l.Schedule.From < 0 || l.Schedule.From > 23 || l.Schedule.To < 0 || l.Schedule.To > 23 {
		probs = append(probs, "schedule hours must be between 0 and 23")
	}
	if len(probs) > 0 {
		return fmt.Errorf("%s", strings.Join(probs, "; "))
	}
	return nil
}

// Inputs are what the guard looks at.
type Inputs struct {
	Now        time.Time
	GPUs       []hw.GPUSample
	Idle       idle.State
	Foreign    []hw.GPUProcess // processes on the GPU that are not our work
	UserPaused bool
}

// Decision is whether to supply, and if not, why (in words, first reason
// first).
type Decision struct {
	Supply  bool
	Reasons []string
	// Hot is set while a thermal or power limit holds supply back; it gives
	// the cool-down its memory between decisions.
	Hot bool
}

// Reason joins the reasons for display.
func (d Decision) Reason() string { return strings.Join(d.Reasons, "; ") }

// Decide applies the limits to the inputs. prev carries the thermal state,
// so a card that tripped the limit must cool by CoolDown degrees first.
func Decide(l Limits, in Inputs, prev Decision) Decision {
	var d Decision
	if in.UserPaused {
		d.Reasons = append(d.Reasons, "paused by you")
	}
	for _, g := range in.GPUs {
		limit := l.MaxTempC
		if prev.Hot {
			limit -= CoolDown
		}
		if l.MaxTempC > 0 && g.TempC > limit {
			d.Hot = true
			if prev.Hot && g.TempC <= l.MaxTempC {
				d.Reasons = append(d.Reasons, fmt.Sprintf("GPU %d cooling down (%d °C, resumes below %d °C)", g.Index, g.TempC, l.MaxTempC-CoolDown+1))
			} else {
				d.Reasons = append(d.Reasons, fmt.Sprintf("GPU %d at %d °C, above your limit of %d °C", g.Index, g.TempC, l.MaxTempC))
			}
		}
		// Power gets a 5 % margin: a card capped at the limit reads a little
		// over it now and then.
		if l.MaxPowerW > 0 && int(g.PowerMW/1000) > l.MaxPowerW*105/100 {
			d.Hot = true
			d.Reasons = append(d.Reasons, fmt.Sprintf("GPU %d drawing %d W, above your limit of %d W", g.Index, g.PowerMW/1000, l.MaxPowerW))
		}
	}
	if l.OnlyWhenIdle {
		switch {
		case !in.Idle.Known:
			// Without a way to tell, assume the user is there: never take
			// the PC from someone who may be using it.
			d.Reasons = append(d.Reasons, "can't tell whether you are using the PC ("+in.Idle.Reason+")")
		case in.Idle.FullScreen:
			d.Reasons = append(d.Reasons, "a full-screen app is running")
		case in.Idle.IdleFor < l.IdleAfter:
			d.Reasons = append(d.Reasons, fmt.Sprintf("you are using the PC (waits for %s without input)", l.IdleAfter))
		}
	}
	if len(in.Foreign) > 0 {
		names := make([]string, 0, len(in.Foreign))
		for _, p := range in.Foreign {
			names = append(names, p.Name)
		}
		slices.Sort(names)
		d.Reasons = append(d.Reasons, "other programs are using the GPU: "+strings.Join(slices.Compact(names), ", "))
	}
	if !l.Schedule.Allows(in.Now) {
		d.Reasons = append(d.Reasons, fmt.Sprintf("outside your hours (%02d:00–%02d:00)", l.Schedule.From, l.Schedule.To))
	}
	d.Supply = len(d.Reasons) == 0
	return d
}

// Guard evaluates live inputs every Every and calls OnChange when the
// decision changes.
type Guard struct {
	Sample     func() (time.Time, []hw.GPUSample) // newest GPU sample
	Idle       idle.Source
	Processes  hw.ProcessLister // nil: no process check
	OwnPIDs    func() []int     // our work's processes, not foreign
	Every      time.Duration
	OnChange   func(Decision)
	PowerLimit hw.PowerLimiter // nil: the driver can't cap power

	mu         sync.Mutex
	limits     Limits
	userPaused bool
	last       Decision
	started    bool
	capNote    string
}

// SetLimits replaces the limits (validated by the caller) and caps the
// cards' power where the driver allows.
func (g *Guard) SetLimits(l Limits) {
	g.mu.Lock()
	g.limits = l
	g.mu.Unlock()
	g.applyPowerCap(l)
}

// Limits returns the current limits.
func (g *Guard) Limits() Limits {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.limits
}

// SetUserPaused records the manual pause switch.
func (g *Guard) SetUserPaused(p bool) {
	g.mu.Lock()
	g.userPaused = p
	g.mu.Unlock()
}

// PowerCapNote says whether the power cap could be applied, in words.
func (g *Guard) PowerCapNote() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.capNote
}

func (g *Guard) applyPowerCap(l Limits) {
	note := ""
	if l.MaxPowerW > 0 {
		switch {
		case g.PowerLimit == nil:
			note = "this GPU's driver can't cap power here: the guard pauses above the limit instead"
		default:
			var errs []string
			for i := range g.PowerLimit.GPUs() {
				if _, err := g.PowerLimit.SetPowerLimit(i, uint32(l.MaxPowerW)*1000); err != nil {
					errs = append(errs, err.Error())
				}
			}
			if len(errs) > 0 {
				note = "power cap not applied (" + strings.Join(errs, "; ") + "): the guard pauses above the limit instead"
			} else {
				note = fmt.Sprintf("cards capped at %d W", l.MaxPowerW)
			}
		}
	}
	g.mu.Lock()
	g.capNote = note
	g.mu.Unlock()
}

// Check evaluates once now and reports a change.
func (g *Guard) Check(ctx context.Context) Decision {
	in := Inputs{}
	in.Now, in.GPUs = g.Sample()
	if g.Idle != nil {
		st, err := g.Idle.Read(ctx)
		if err != nil {
			st = idle.State{Known: false, Reason: err.Error()}
		}
		in.Idle = st
	}
	if g.Processes != nil {
		procs, err := g.Processes.GPUProcesses(ctx)
		if err == nil {
			in.Foreign = foreign(procs, g.own())
		}
	}
	g.mu.Lock()
	in.UserPaused = g.userPaused
	d := Decide(g.limits, in, g.last)
	changed := !g.started || d.Supply != g.last.Supply || d.Reason() != g.last.Reason()
	g.last, g.started = d, true
	g.mu.Unlock()
	if changed && g.OnChange != nil {
		g.OnChange(d)
	}
	return d
}

func (g *Guard) own() []int {
	if g.OwnPIDs == nil {
		return nil
	}
	return g.OwnPIDs()
}

func foreign(procs []hw.GPUProcess, own []int) []hw.GPUProcess {
	var out []hw.GPUProcess
	for _, p := range procs {
		if !slices.Contains(own, p.PID) {
			out = append(out, p)
		}
	}
	return out
}

// Serve checks every Every (default 1 s) until ctx ends.
func (g *Guard) Serve(ctx context.Context) error {
	every := g.Every
	if every <= 0 {
		every = time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		g.Check(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
