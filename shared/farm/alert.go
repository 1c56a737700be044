package farm

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/idlegrid/idlegrid/shared/hw"
)

// Kind is what an alert is about.
type Kind string

// Alert kinds.
const (
	KindOverTemp           Kind = "gpu_over_temp"
	KindGPULost            Kind = "gpu_lost"
	KindOffline            Kind = "rig_offline"
	KindDisconnected       Kind = "agent_disconnected"
	KindVerificationFailed Kind = "verification_failed"
)

// Alert is one condition on one rig that needs the farmer's attention.
type Alert struct {
	Kind Kind   `json:"kind"`
	Rig  string `json:"rig"`
	// GPU is the card's index, or -1 for an alert about the whole rig.
	GPU int `json:"gpu"`
	// Since is when the condition began (not when it was raised).
	Since time.Time `json:"since"`
	// Message says it in words, as of the latest observation.
	Message string `json:"message"`
}

// Event is an alert raised or cleared.
type Event struct {
	Raised bool      `json:"raised"` // false: cleared
	At     time.Time `json:"at"`
	Alert  Alert     `json:"alert"`
	// Message is for a notification: the alert's message when raised,
	// what got better when cleared.
	Message string `json:"message"`
}

// Defaults of the Alerter's thresholds.
const (
	DefaultTempLimitC        = 85
	DefaultTempClearMarginC  = 5
	DefaultTempRaiseAfter    = 30 * time.Second
	DefaultTempClearAfter    = 30 * time.Second
	DefaultOfflineAfter      = 60 * time.Second
	DefaultDisconnectedAfter = 60 * time.Second
)

// Alerter turns a series of rig statuses into alerts, with hysteresis so
// that a brief spike raises nothing and an alert does not flap:
//
//   - GPU over temperature: raised when a card stays at or above TempLimitC
//     for TempRaiseAfter, cleared when it stays at or below TempLimitC −
//     TempClearMarginC for TempClearAfter.
//   - GPU lost: a card that was there (in the inventory or an earlier
//     sample) is gone from the samples, or the driver says a card fell off
//     the bus; cleared when it answers again.
//   - Rig offline: the status could not be read for OfflineAfter.
//   - Agent disconnected: the agent was not connected to the control plane
//     for DisconnectedAfter.
//   - Verification failed: the control plane says so.
//
// Time is the caller's: Observe takes now, nothing here reads a clock or
// sleeps. Zero fields take the Default* values. Safe for concurrent use.
type Alerter struct {
	TempLimitC        int
	TempClearMarginC  int
	TempRaiseAfter    time.Duration
	TempClearAfter    time.Duration
	OfflineAfter      time.Duration
	DisconnectedAfter time.Duration
	// OnChange, if set, is called with every event, in order, after Observe
	// has updated the alerts (never with the Alerter's lock held).
	OnChange func(Event)

	mu   sync.Mutex
	rigs map[string]*rigWatch
}

type alertKey struct {
	kind Kind
	gpu  string // gpuKey, or "" for the whole rig
}

type rigWatch struct {
	unreachableSince  time.Time
	disconnectedSince time.Time
	failedSince       time.Time
	gpus              map[string]*gpuWatch
	active            map[alertKey]*Alert
}

type gpuWatch struct {
	index     int
	name      string
	uuid      string
	overSince time.Time // start of the run at or above the limit
	coolSince time.Time // start of the run at or below the clear point
}

func (a *Alerter) tempLimit() int { return cmp.Or(a.TempLimitC, DefaultTempLimitC) }
func (a *Alerter) tempClear() int {
	return a.tempLimit() - cmp.Or(a.TempClearMarginC, DefaultTempClearMarginC)
}

// Observe feeds the status of rig read at now; reachable is false when it
// could not be read (st is then ignored). It returns the alerts raised and
// cleared by this observation, which also go to OnChange.
func (a *Alerter) Observe(now time.Time, rig string, st Status, reachable bool) []Event {
	a.mu.Lock()
	if a.rigs == nil {
		a.rigs = map[string]*rigWatch{}
	}
	w := a.rigs[rig]
	if w == nil {
		w = &rigWatch{gpus: map[string]*gpuWatch{}, active: map[alertKey]*Alert{}}
		a.rigs[rig] = w
	}
	o := observation{now: now, rig: rig, w: w}
	a.observe(&o, st, reachable)
	a.mu.Unlock()
	a.emit(o.events)
	return o.events
}

// Forget stops watching rig (the farmer removed it) and clears its alerts.
func (a *Alerter) Forget(now time.Time, rig string) []Event {
	a.mu.Lock()
	w := a.rigs[rig]
	delete(a.rigs, rig)
	var evs []Event
	if w != nil {
		for _, al := range sortedAlerts(w.active) {
			evs = append(evs, Event{At: now, Alert: *al, Message: rig + " is no longer watched"})
		}
	}
	a.mu.Unlock()
	a.emit(evs)
	return evs
}

// Active lists the alerts raised and not yet cleared, by rig, kind and GPU.
func (a *Alerter) Active() []Alert {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []Alert
	for _, w := range a.rigs {
		for _, al := range w.active {
			out = append(out, *al)
		}
	}
	slices.SortFunc(out, compareAlerts)
	return out
}

func (a *Alerter) emit(evs []Event) {
	if a.OnChange == nil {
		return
	}
	for _, e := range evs {
		a.OnChange(e)
	}
}

// observation collects the events of one Observe.
type observation struct {
	now    time.Time
	rig    string
	w      *rigWatch
	events []Event
}

// raise raises an alert or, if it is up, refreshes its message.
func (o *observation) raise(k alertKey, gpu int, since time.Time, msg string) {
	if al := o.w.active[k]; al != nil {
		al.Message = msg
		return
	}
	al := &Alert{Kind: k.kind, Rig: o.rig, GPU: gpu, Since: since, Message: msg}
	o.w.active[k] = al
	o.events = append(o.events, Event{Raised: true, At: o.now, Alert: *al, Message: msg})
}

// update refreshes the message of an alert that is up.
func (o *observation) update(k alertKey, msg string) {
	if al := o.w.active[k]; al != nil {
		al.Message = msg
	}
}

func (o *observation) clear(k alertKey, msg string) {
	al := o.w.active[k]
	if al == nil {
		return
	}
	delete(o.w.active, k)
	o.events = append(o.events, Event{At: o.now, Alert: *al, Message: msg})
}

func (o *observation) up(k alertKey) bool { return o.w.active[k] != nil }

func (a *Alerter) observe(o *observation, st Status, reachable bool) {
	w, now, rig := o.w, o.now, o.rig
	offline := alertKey{kind: KindOffline}
	if !reachable {
		// Nothing else can be judged without a status: the other alerts
		// hold as they were.
		if w.unreachableSince.IsZero() {
			w.unreachableSince = now
		}
		if d := now.Sub(w.unreachableSince); d >= cmp.Or(a.OfflineAfter, DefaultOfflineAfter) {
			o.raise(offline, -1, w.unreachableSince, fmt.Sprintf("%s has not answered for %s", rig, words(d)))
		}
		return
	}
	w.unreachableSince = time.Time{}
	o.clear(offline, rig+" answers again")

	disc := alertKey{kind: KindDisconnected}
	if st.Connected {
		w.disconnectedSince = time.Time{}
		o.clear(disc, "the agent on "+rig+" is connected to the control plane again")
	} else {
		if w.disconnectedSince.IsZero() {
			w.disconnectedSince = now
		}
		if d := now.Sub(w.disconnectedSince); d >= cmp.Or(a.DisconnectedAfter, DefaultDisconnectedAfter) {
			msg := fmt.Sprintf("the agent on %s has not been connected to the control plane for %s", rig, words(d))
			if why := cmp.Or(st.LastError, st.State); why != "" {
				msg += " (" + why + ")"
			}
			o.raise(disc, -1, w.disconnectedSince, msg)
		}
	}

	failed := alertKey{kind: KindVerificationFailed}
	if st.Verification == VerificationFailed {
		if w.failedSince.IsZero() {
			w.failedSince = now
		}
		msg := rig + " failed verification"
		if st.VerificationReason != "" {
			msg += ": " + st.VerificationReason
		}
		o.raise(failed, -1, w.failedSince, msg)
	} else {
		w.failedSince = time.Time{}
		o.clear(failed, fmt.Sprintf("%s no longer fails verification (now %s)", rig, cmp.Or(st.Verification, "unknown")))
	}

	a.observeGPUs(o, st)
}

func gpuKey(uuid string, index int) string {
	if uuid != "" {
		return uuid
	}
	return fmt.Sprintf("index %d", index)
}

func (w *rigWatch) gpu(uuid string, index int, name string) *gpuWatch {
	k := gpuKey(uuid, index)
	g := w.gpus[k]
	if g == nil {
		g = &gpuWatch{uuid: uuid}
		w.gpus[k] = g
	}
	g.index = index
	if name != "" {
		g.name = name
	}
	return g
}

func (a *Alerter) observeGPUs(o *observation, st Status) {
	w, now := o.w, o.now
	for _, g := range st.GPUs {
		w.gpu(g.UUID, g.Index, g.Name)
	}
	present := map[string]bool{}
	for _, s := range st.Samples {
		present[gpuKey(s.UUID, s.Index)] = true
		g := w.gpu(s.UUID, s.Index, s.Name)
		if !slices.Contains(s.Missing, hw.FieldTemp) {
			a.observeTemp(o, g, s.TempC)
		}
	}

	// Before the first sample nothing can be missing from one.
	sampled := !st.SampledAt.IsZero() || len(st.Samples) > 0 || st.GPUError != ""
	if !sampled {
		return
	}
	// NVML fails a whole sample for one lost card and names it in the
	// error; a card named there fell off the bus, the others merely went
	// unread with it.
	named := false
	for _, g := range w.gpus {
		named = named || (g.uuid != "" && strings.Contains(st.GPUError, g.uuid))
	}
	keys := make([]string, 0, len(w.gpus))
	for k := range w.gpus {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(x, y string) int { return cmp.Compare(w.gpus[x].index, w.gpus[y].index) })
	for _, k := range keys {
		g := w.gpus[k]
		lost := alertKey{kind: KindGPULost, gpu: k}
		card := cardName(g.index, g.name)
		if present[k] {
			o.clear(lost, fmt.Sprintf("%s on %s answers again", card, o.rig))
			continue
		}
		var msg string
		switch {
		case st.GPULost && (!named || (g.uuid != "" && strings.Contains(st.GPUError, g.uuid))):
			msg = fmt.Sprintf("%s on %s fell off the bus: a reset or reboot is needed", card, o.rig)
		case st.GPUError != "":
			msg = fmt.Sprintf("%s on %s is gone from the readings: %s", card, o.rig, st.GPUError)
		default:
			msg = fmt.Sprintf("%s on %s is gone from the readings", card, o.rig)
		}
		o.raise(lost, g.index, now, msg)
	}
	// A lost card on a rig whose cards were never seen has no name.
	rigLost := alertKey{kind: KindGPULost}
	if st.GPULost && len(w.gpus) == 0 {
		o.raise(rigLost, -1, now, fmt.Sprintf("a GPU on %s fell off the bus: %s", o.rig, st.GPUError))
	} else {
		o.clear(rigLost, "the GPUs on "+o.rig+" answer again")
	}
}

func (a *Alerter) observeTemp(o *observation, g *gpuWatch, temp int) {
	now, limit, clearAt := o.now, a.tempLimit(), a.tempClear()
	k := alertKey{kind: KindOverTemp, gpu: gpuKey(g.uuid, g.index)}
	card := cardName(g.index, g.name)
	if temp >= limit {
		if g.overSince.IsZero() {
			g.overSince = now
		}
	} else {
		g.overSince = time.Time{}
	}
	if temp <= clearAt {
		if g.coolSince.IsZero() {
			g.coolSince = now
		}
	} else {
		g.coolSince = time.Time{}
	}

	if !o.up(k) {
		if !g.overSince.IsZero() && now.Sub(g.overSince) >= cmp.Or(a.TempRaiseAfter, DefaultTempRaiseAfter) {
			o.raise(k, g.index, g.overSince, fmt.Sprintf("%s on %s at %d °C for %s", card, o.rig, temp, words(now.Sub(g.overSince))))
		}
		return
	}
	switch {
	case !g.coolSince.IsZero() && now.Sub(g.coolSince) >= cmp.Or(a.TempClearAfter, DefaultTempClearAfter):
		o.clear(k, fmt.Sprintf("%s on %s is back to %d °C", card, o.rig, temp))
	case !g.overSince.IsZero():
		o.update(k, fmt.Sprintf("%s on %s at %d °C for %s", card, o.rig, temp, words(now.Sub(g.overSince))))
	default:
		o.update(k, fmt.Sprintf("%s on %s at %d °C, cooling (the alert clears after %s at %d °C or less)",
			card, o.rig, temp, words(cmp.Or(a.TempClearAfter, DefaultTempClearAfter)), clearAt))
	}
}

// cardName is "GPU 1 (RTX 4090)".
func cardName(index int, name string) string {
	name = strings.TrimPrefix(strings.TrimPrefix(name, "NVIDIA "), "GeForce ")
	if name == "" {
		return fmt.Sprintf("GPU %d", index)
	}
	return fmt.Sprintf("GPU %d (%s)", index, name)
}

// words is a duration as a person says it: "45 s", "2 min 5 s", "1 h 3 min".
func words(d time.Duration) string {
	s := int(d.Round(time.Second) / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%d s", s)
	case s < 3600 && s%60 == 0:
		return fmt.Sprintf("%d min", s/60)
	case s < 3600:
		return fmt.Sprintf("%d min %d s", s/60, s%60)
	case s%3600/60 == 0:
		return fmt.Sprintf("%d h", s/3600)
	default:
		return fmt.Sprintf("%d h %d min", s/3600, s%3600/60)
	}
}

func sortedAlerts(m map[alertKey]*Alert) []*Alert {
	out := make([]*Alert, 0, len(m))
	for _, al := range m {
		out = append(out, al)
	}
	slices.SortFunc(out, func(x, y *Alert) int { return compareAlerts(*x, *y) })
	return out
}

func compareAlerts(x, y Alert) int {
	return cmp.Or(strings.Compare(x.Rig, y.Rig), strings.Compare(string(x.Kind), string(y.Kind)), cmp.Compare(x.GPU, y.GPU))
}
