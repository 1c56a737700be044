package farm

import (
	"strings"
	"testing"
	"time"

	"github.com/idlegrid/idlegrid/shared/hw"
)

var t0 = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// rigStatus is a healthy rig with two cards at the given temperatures.
func rigStatus(temps ...int) Status {
	st := Status{Host: "rig-07", Snapshot: Snapshot{State: "online", Connected: true, Verification: VerificationVerified, Verified: true, SampledAt: t0}}
	for i, temp := range temps {
		name := "NVIDIA GeForce RTX 4090"
		uuid := "GPU-" + string(rune('a'+i))
		st.GPUs = append(st.GPUs, hw.GPU{Index: i, UUID: uuid, Name: name})
		st.Samples = append(st.Samples, hw.GPUSample{Index: i, UUID: uuid, Name: name, TempC: temp})
	}
	return st
}

// feed observes st every 5 s from start for d (start included, start+d
// excluded) and returns every event.
func feed(a *Alerter, start time.Time, d time.Duration, st Status, reachable bool) []Event {
	var evs []Event
	for at := start; at.Before(start.Add(d)); at = at.Add(5 * time.Second) {
		evs = append(evs, a.Observe(at, "rig-07", st, reachable)...)
	}
	return evs
}

func kinds(evs []Event) []string {
	var out []string
	for _, e := range evs {
		verb := "clear"
		if e.Raised {
			verb = "raise"
		}
		out = append(out, verb+" "+string(e.Alert.Kind))
	}
	return out
}

func TestBriefSpikeRaisesNothing(t *testing.T) {
	var a Alerter
	evs := feed(&a, t0, time.Minute, rigStatus(70, 70), true)
	evs = append(evs, feed(&a, t0.Add(time.Minute), 10*time.Second, rigStatus(70, 95), true)...) // 12:01:00–12:01:05
	evs = append(evs, feed(&a, t0.Add(70*time.Second), time.Minute, rigStatus(70, 70), true)...)
	// Another spike of 25 s: still under 30 s.
	evs = append(evs, feed(&a, t0.Add(130*time.Second), 30*time.Second, rigStatus(70, 90), true)...)
	evs = append(evs, a.Observe(t0.Add(160*time.Second), "rig-07", rigStatus(70, 84), true)...)
	if len(evs) != 0 || len(a.Active()) != 0 {
		t.Errorf("brief spikes raised %v; active %v", kinds(evs), a.Active())
	}
}

func TestOverTemperatureRaisesOnceAndClearsWithHysteresis(t *testing.T) {
	var changes []Event
	a := Alerter{OnChange: func(e Event) { changes = append(changes, e) }}

	// 40 s over the limit (observed at 0, 5, ..., 40 s): one alert, raised
	// at 30 s, none after.
	var evs []Event
	evs = append(evs, feed(&a, t0, 45*time.Second, rigStatus(60, 91), true)...)
	if len(evs) != 1 || !evs[0].Raised || evs[0].Alert.Kind != KindOverTemp || evs[0].At != t0.Add(30*time.Second) {
		t.Fatalf("40 s at 91 °C gave %v; want one over-temperature alert at 30 s", evs)
	}
	al := evs[0].Alert
	if al.Rig != "rig-07" || al.GPU != 1 || !al.Since.Equal(t0) {
		t.Errorf("alert = %+v; want rig-07, GPU 1, since the first reading over", al)
	}
	if want := "GPU 1 (RTX 4090) on rig-07 at 91 °C for 30 s"; al.Message != want {
		t.Errorf("message = %q, want %q", al.Message, want)
	}
	if act := a.Active(); len(act) != 1 || act[0].Message != "GPU 1 (RTX 4090) on rig-07 at 91 °C for 40 s" {
		t.Errorf("Active() = %+v; want the alert, its message brought up to 40 s", act)
	}

	// Between the limit and 5 °C under it, for a long time: it stays.
	evs = feed(&a, t0.Add(45*time.Second), 2*time.Minute, rigStatus(60, 82), true)
	// At the clear point for 25 s, a blip to 81 °C, then 25 s again: the
	// clear timer started over, so it stays.
	at := t0.Add(165 * time.Second)
	evs = append(evs, feed(&a, at, 30*time.Second, rigStatus(60, 80), true)...)
	evs = append(evs, a.Observe(at.Add(30*time.Second), "rig-07", rigStatus(60, 81), true)...)
	evs = append(evs, feed(&a, at.Add(35*time.Second), 30*time.Second, rigStatus(60, 79), true)...)
	if len(evs) != 0 || len(a.Active()) != 1 {
		t.Fatalf("cooling but not for 30 s at ≤ 80 °C gave %v; active %v", kinds(evs), a.Active())
	}
	if msg := a.Active()[0].Message; !strings.Contains(msg, "79 °C") {
		t.Errorf("message while cooling = %q", msg)
	}
	// The 30th second at or below 80 °C clears it.
	cleared := a.Observe(at.Add(65*time.Second), "rig-07", rigStatus(60, 78), true)
	if len(cleared) != 1 || cleared[0].Raised || cleared[0].Alert.Kind != KindOverTemp || cleared[0].Message != "GPU 1 (RTX 4090) on rig-07 is back to 78 °C" {
		t.Fatalf("30 s under 80 °C gave %+v; want the alert cleared", cleared)
	}
	if len(a.Active()) != 0 {
		t.Errorf("Active() after clearing = %v", a.Active())
	}
	if len(changes) != 2 || !changes[0].Raised || changes[1].Raised {
		t.Errorf("OnChange saw %v; want raise then clear", kinds(changes))
	}
}

func TestTemperatureSettings(t *testing.T) {
	a := Alerter{TempLimitC: 75, TempClearMarginC: 10, TempRaiseAfter: 10 * time.Second, TempClearAfter: 20 * time.Second}
	if evs := feed(&a, t0, 15*time.Second, rigStatus(76), true); len(evs) != 1 || !evs[0].Raised {
		t.Fatalf("10 s at 76 °C over a 75 °C limit gave %v", kinds(evs))
	}
	if evs := feed(&a, t0.Add(15*time.Second), time.Minute, rigStatus(66), true); len(evs) != 0 {
		t.Fatalf("66 °C (above 75 − 10) cleared: %v", kinds(evs))
	}
	if evs := feed(&a, t0.Add(75*time.Second), 25*time.Second, rigStatus(65), true); len(evs) != 1 || evs[0].Raised || evs[0].At != t0.Add(95*time.Second) {
		t.Fatalf("20 s at 65 °C gave %v; want a clear at 20 s", evs)
	}
}

func TestUnreadableTemperatureHoldsTheAlert(t *testing.T) {
	var a Alerter
	feed(&a, t0, 35*time.Second, rigStatus(90), true)
	st := rigStatus(0)
	st.Samples[0].Missing = []string{hw.FieldTemp}
	if evs := feed(&a, t0.Add(35*time.Second), 2*time.Minute, st, true); len(evs) != 0 || len(a.Active()) != 1 {
		t.Errorf("a sensor that went unreadable gave %v; active %v; want the alert held", kinds(evs), a.Active())
	}
}

func TestRigOffline(t *testing.T) {
	var a Alerter
	feed(&a, t0, 20*time.Second, rigStatus(60), true)
	down := t0.Add(20 * time.Second)
	evs := feed(&a, down, 60*time.Second, Status{}, false) // 0..55 s unreachable
	if len(evs) != 0 {
		t.Fatalf("55 s unreachable gave %v", kinds(evs))
	}
	evs = a.Observe(down.Add(60*time.Second), "rig-07", Status{}, false)
	if len(evs) != 1 || evs[0].Alert.Kind != KindOffline || !evs[0].Raised || evs[0].Alert.GPU != -1 || !evs[0].Alert.Since.Equal(down) {
		t.Fatalf("60 s unreachable gave %+v; want rig offline since the first failed read", evs)
	}
	if want := "rig-07 has not answered for 1 min"; evs[0].Message != want {
		t.Errorf("message = %q, want %q", evs[0].Message, want)
	}
	a.Observe(down.Add(125*time.Second), "rig-07", Status{}, false)
	if msg := a.Active()[0].Message; msg != "rig-07 has not answered for 2 min 5 s" {
		t.Errorf("message later = %q", msg)
	}
	// Offline hides nothing else: no GPU lost, no disconnection.
	if len(a.Active()) != 1 {
		t.Errorf("Active() = %v", a.Active())
	}
	evs = a.Observe(down.Add(130*time.Second), "rig-07", rigStatus(60), true)
	if len(evs) != 1 || evs[0].Raised || evs[0].Alert.Kind != KindOffline || evs[0].Message != "rig-07 answers again" {
		t.Fatalf("answering again gave %+v", evs)
	}
	// A rig that blips away for less than a minute raises nothing.
	feed(&a, down.Add(135*time.Second), 30*time.Second, Status{}, false)
	if evs := a.Observe(down.Add(165*time.Second), "rig-07", rigStatus(60), true); len(evs) != 0 {
		t.Errorf("a 30 s blip gave %v", kinds(evs))
	}
}

func TestGPULost(t *testing.T) {
	var a Alerter
	feed(&a, t0, 10*time.Second, rigStatus(60, 61), true)

	// Card 1 is gone from the samples.
	st := rigStatus(60, 61)
	st.Samples = st.Samples[:1]
	evs := a.Observe(t0.Add(10*time.Second), "rig-07", st, true)
	if len(evs) != 1 || !evs[0].Raised || evs[0].Alert.Kind != KindGPULost || evs[0].Alert.GPU != 1 {
		t.Fatalf("a card gone from the samples gave %+v", evs)
	}
	if want := "GPU 1 (RTX 4090) on rig-07 is gone from the readings"; evs[0].Message != want {
		t.Errorf("message = %q, want %q", evs[0].Message, want)
	}
	if evs := a.Observe(t0.Add(15*time.Second), "rig-07", st, true); len(evs) != 0 {
		t.Errorf("the same loss raised again: %v", kinds(evs))
	}
	evs = a.Observe(t0.Add(20*time.Second), "rig-07", rigStatus(60, 61), true)
	if len(evs) != 1 || evs[0].Raised || evs[0].Message != "GPU 1 (RTX 4090) on rig-07 answers again" {
		t.Fatalf("the card back gave %+v", evs)
	}

	// NVML fails the whole sample and names the card that fell off the bus.
	st = rigStatus(60, 61)
	st.Samples = nil
	st.GPULost = true
	st.GPUError = "sampling GPU 0 (NVIDIA GeForce RTX 4090, GPU-a): " + hw.ErrGPULost.Error() + ": ERROR_GPU_IS_LOST"
	evs = a.Observe(t0.Add(25*time.Second), "rig-07", st, true)
	if len(evs) != 2 || evs[0].Alert.GPU != 0 || evs[1].Alert.GPU != 1 {
		t.Fatalf("a lost card gave %+v; want both cards, unread, alerted", evs)
	}
	if !strings.Contains(evs[0].Message, "GPU 0 (RTX 4090) on rig-07 fell off the bus") {
		t.Errorf("lost card message = %q", evs[0].Message)
	}
	if !strings.Contains(evs[1].Message, "gone from the readings: sampling GPU 0") {
		t.Errorf("the other card's message = %q", evs[1].Message)
	}

	// A rig seen for the first time with a lost card and no inventory.
	var b Alerter
	evs = b.Observe(t0, "rig-09", Status{Snapshot: Snapshot{Connected: true, GPULost: true, GPUError: hw.ErrGPULost.Error()}}, true)
	if len(evs) != 1 || evs[0].Alert.Kind != KindGPULost || evs[0].Alert.GPU != -1 {
		t.Errorf("a lost card on an unknown rig gave %+v", evs)
	}
}

func TestNoGPULostBeforeTheFirstSample(t *testing.T) {
	var a Alerter
	st := rigStatus(60)
	st.Samples, st.SampledAt = nil, time.Time{}
	if evs := a.Observe(t0, "rig-07", st, true); len(evs) != 0 {
		t.Errorf("an agent that has not sampled yet gave %v", kinds(evs))
	}
}

func TestAgentDisconnected(t *testing.T) {
	var a Alerter
	st := rigStatus(60)
	st.Connected, st.State, st.LastError = false, "reconnecting", "cannot reach grid.example.com"
	if evs := feed(&a, t0, 60*time.Second, st, true); len(evs) != 0 {
		t.Fatalf("55 s disconnected gave %v", kinds(evs))
	}
	evs := a.Observe(t0.Add(60*time.Second), "rig-07", st, true)
	if len(evs) != 1 || evs[0].Alert.Kind != KindDisconnected || !evs[0].Raised {
		t.Fatalf("60 s disconnected gave %+v", evs)
	}
	if want := "the agent on rig-07 has not been connected to the control plane for 1 min (cannot reach grid.example.com)"; evs[0].Message != want {
		t.Errorf("message = %q, want %q", evs[0].Message, want)
	}
	evs = a.Observe(t0.Add(65*time.Second), "rig-07", rigStatus(60), true)
	if len(evs) != 1 || evs[0].Raised || evs[0].Alert.Kind != KindDisconnected {
		t.Errorf("connected again gave %+v", evs)
	}
}

func TestVerificationFailed(t *testing.T) {
	var a Alerter
	st := rigStatus(60)
	st.Verification, st.Verified, st.VerificationReason = VerificationFailed, false, "the challenge's proof did not match"
	evs := a.Observe(t0, "rig-07", st, true)
	if len(evs) != 1 || evs[0].Alert.Kind != KindVerificationFailed || evs[0].Message != "rig-07 failed verification: the challenge's proof did not match" {
		t.Fatalf("failed verification gave %+v", evs)
	}
	if evs := a.Observe(t0.Add(time.Minute), "rig-07", st, true); len(evs) != 0 {
		t.Errorf("still failed raised again: %v", kinds(evs))
	}
	evs = a.Observe(t0.Add(2*time.Minute), "rig-07", rigStatus(60), true)
	if len(evs) != 1 || evs[0].Raised || evs[0].Message != "rig-07 no longer fails verification (now verified)" {
		t.Errorf("verified again gave %+v", evs)
	}
}

func TestAlertsAreKeptPerRigAndForgotten(t *testing.T) {
	var a Alerter
	for at := t0; at.Before(t0.Add(70 * time.Second)); at = at.Add(5 * time.Second) {
		a.Observe(at, "rig-01", rigStatus(90), true)
		a.Observe(at, "rig-02", Status{}, false)
		a.Observe(at, "rig-03", rigStatus(60), true)
	}
	act := a.Active()
	if len(act) != 2 || act[0].Rig != "rig-01" || act[0].Kind != KindOverTemp || act[1].Rig != "rig-02" || act[1].Kind != KindOffline {
		t.Fatalf("Active() = %+v", act)
	}
	evs := a.Forget(t0.Add(70*time.Second), "rig-02")
	if len(evs) != 1 || evs[0].Raised || evs[0].Alert.Rig != "rig-02" {
		t.Errorf("Forget gave %+v", evs)
	}
	if act := a.Active(); len(act) != 1 || act[0].Rig != "rig-01" {
		t.Errorf("Active() after Forget = %+v", act)
	}
}

func TestWords(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0 s", 45 * time.Second: "45 s", time.Minute: "1 min", 125 * time.Second: "2 min 5 s",
		time.Hour: "1 h", 63 * time.Minute: "1 h 3 min", 1500 * time.Millisecond: "2 s",
	} {
		if got := words(d); got != want {
			t.Errorf("words(%v) = %q, want %q", d, got, want)
		}
	}
}
