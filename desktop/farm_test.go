package desktop

import (
	"context"
	"crypto/rand"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/idlegrid/idlegrid/shared/farm"
	"github.com/idlegrid/idlegrid/shared/hw"
)

// farmRig is one rig's agent as the Farm tab sees it: a real farm.Server
// on loopback whose snapshot (simulated GPUs) the test sets.
type farmRig struct {
	addr string
	mu   sync.Mutex
	snap farm.Snapshot
}

func startFarmRig(t *testing.T, host, token, gpus string) *farmRig {
	t.Helper()
	models, err := hw.ParseSimSpec(gpus)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	sim := hw.NewSim(models, 3, func() time.Time { return at })
	sim.SetLoadAll(1)
	at = at.Add(time.Minute)
	samples, err := sim.Sample(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r := &farmRig{snap: farm.Snapshot{
		DeviceID: "dev_" + host, Version: "1.4.0", State: "online", Connected: true,
		GPUs: sim.GPUs(), Samples: samples, SampledAt: at,
		EarnsPerHour: 250_000, Verification: farm.VerificationVerified, Verified: true,
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.addr = ln.Addr().String()
	srv := &farm.Server{Host: host, Token: token, Source: r.source}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ServeListener(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("rig %s: %v", host, err)
		}
	})
	return r
}

func (r *farmRig) source() farm.Snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.snap
}

func (r *farmRig) setTemps(temps ...int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, c := range temps {
		r.snap.Samples[i].TempC = c
	}
}

// gridLines is the Farm grid as text, one line per row.
func gridLines(f *farmScreen) []string {
	var out []string
	for _, row := range f.cells {
		var cells []string
		for _, l := range row {
			cells = append(cells, l.Text)
		}
		out = append(out, strings.Join(cells, " | "))
	}
	return out
}

// alertLines are the alerts shown above the grid.
func alertLines(f *farmScreen) []string {
	var out []string
	for _, o := range f.alertsBox.Objects {
		if l, ok := o.(*widget.Label); ok && strings.HasPrefix(l.Text, "⚠") {
			out = append(out, l.Text)
		}
	}
	return out
}

// wantGrid checks that row i of the grid starts with prefix[i].
func wantGrid(t *testing.T, f *farmScreen, prefixes ...string) {
	t.Helper()
	got := gridLines(f)
	if len(got) != len(prefixes) {
		t.Fatalf("grid has %d rows, want %d:\n%s", len(got), len(prefixes), strings.Join(got, "\n"))
	}
	for i, p := range prefixes {
		if !strings.HasPrefix(got[i], p) {
			t.Fatalf("grid row %d is %q, want it to start %q; grid:\n%s", i, got[i], p, strings.Join(got, "\n"))
		}
	}
}

func deadFarmAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// Two rigs typed into the Farm tab, one needing its token: both rigs' GPUs
// in one grid, worst first. A brief spike raises nothing; a card at 95 °C
// for over 30 s (of the view's clock) raises one alert, shown above the
// grid and notified, and its clearing is notified too.
func TestFarmTabAddsRigsSortsAndAlerts(t *testing.T) {
	const token = "rig-b-farm-token-0123"
	r := newRig(t, "http://127.0.0.1:1")
	f := r.ui.farm
	clock := time.Date(2026, 11, 22, 14, 0, 0, 0, time.UTC)
	f.view.Now = func() time.Time { return clock }
	var sent []*fyne.Notification
	f.notify = func(n *fyne.Notification) { sent = append(sent, n) }
	ctx := context.Background()
	poll := func(d time.Duration) {
		clock = clock.Add(d)
		f.view.Poll(ctx)
	}

	a := startFarmRig(t, "rig-a", "", "RTX 4090x2")
	a.setTemps(62, 71)
	b := startFarmRig(t, "rig-b", token, "RTX 3090")
	b.setTemps(66)

	if !strings.Contains(f.summary.Text, "No rigs yet") {
		t.Fatalf("empty farm: %q", f.summary.Text)
	}
	test.Type(f.addr, a.addr)
	test.Tap(f.add)
	if want := "Added rig-a (" + a.addr + "): 2 GPUs."; f.msg.Text != want {
		t.Fatalf("after adding rig-a: %q, want %q", f.msg.Text, want)
	}
	wantGrid(t, f, "rig-a | 1 · RTX 4090 | 71 °C | ", "rig-a | 0 · RTX 4090 | 62 °C | ")

	// rig-b wants its token: the grid and the message say so.
	test.Type(f.addr, b.addr)
	test.Tap(f.add)
	if !strings.Contains(f.msg.Text, "refused the farm token") || !strings.Contains(f.msg.Text, "--farm-token") {
		t.Fatalf("rig-b without its token: %q", f.msg.Text)
	}
	wantGrid(t, f, b.addr+" | ", "rig-a | 1 ", "rig-a | 0 ")
	test.Type(f.addr, b.addr)
	test.Type(f.token, token)
	test.Tap(f.add)
	if !strings.Contains(f.msg.Text, "Added rig-b") {
		t.Fatalf("rig-b with its token: %q", f.msg.Text)
	}
	wantGrid(t, f, "rig-a | 1 · RTX 4090 | 71 °C", "rig-b | 0 · RTX 3090 | 66 °C", "rig-a | 0 · RTX 4090 | 62 °C")
	row := gridLines(f)[1]
	if !strings.Contains(row, " W | ") || !strings.Contains(row, "| online |") || !strings.HasSuffix(row, "$0.25/h") {
		t.Fatalf("rig-b's row: %q", row)
	}
	if !strings.HasPrefix(f.summary.Text, "2 rigs · 3 GPUs · 0 alerts") {
		t.Fatalf("summary %q", f.summary.Text)
	}

	// A rig that does not answer goes first and says what to do; Remove
	// takes it away.
	dead := deadFarmAddr(t)
	test.Type(f.addr, dead)
	test.Tap(f.add)
	wantGrid(t, f, dead+" | — | — | — | — | unreachable", "rig-a | 1 ", "rig-b | 0 ", "rig-a | 0 ")
	if want := "Nothing answered at " + dead + ": is its agent started with --lan and the same farm token"; !strings.Contains(f.msg.Text, want) || !strings.Contains(allText(f.alertsBox), want) {
		t.Fatalf("a dead address: message %q, above the grid:\n%s", f.msg.Text, allText(f.alertsBox))
	}
	test.Tap(f.remove[dead])
	wantGrid(t, f, "rig-a | 1 ", "rig-b | 0 ", "rig-a | 0 ")

	// The addresses, rig-b's own token and the farm token outlive the app.
	f.farmToken.SetText("farm-wide-token-0123")
	test.Tap(f.saveToken)
	if f.tokenMsg.Text != "Saved." {
		t.Fatalf("saving the farm token: %q", f.tokenMsg.Text)
	}
	again := newFarmScreen(r.ui)
	if m := again.view.Manual(); len(m) != 2 || m[0].Addr != a.addr || m[1].Addr != b.addr || m[1].Token != token {
		t.Fatalf("saved rigs %+v", m)
	}
	if again.farmToken.Text != "farm-wide-token-0123" {
		t.Fatalf("saved farm token %q", again.farmToken.Text)
	}

	// A spike of 10 s raises nothing.
	a.setTemps(95)
	poll(5 * time.Second)
	wantGrid(t, f, "rig-a | 0 · RTX 4090 | 95 °C | ", "rig-a | 1 ", "rig-b | 0 ")
	poll(10 * time.Second)
	a.setTemps(62)
	poll(10 * time.Second)
	poll(40 * time.Second)
	if al := alertLines(f); len(al) != 0 || len(sent) != 0 {
		t.Fatalf("a 10 s spike raised %q and notified %d times", al, len(sent))
	}

	// 95 °C across 31 s: one alert.
	a.setTemps(95)
	poll(5 * time.Second)
	poll(10 * time.Second)
	poll(10 * time.Second)
	if len(sent) != 0 {
		t.Fatalf("raised after 20 s: %q", sent[0].Content)
	}
	poll(11 * time.Second)
	al := alertLines(f)
	if len(al) != 1 || len(f.view.Alerter.Active()) != 1 {
		t.Fatalf("alerts after 31 s at 95 °C: %q", al)
	}
	for _, want := range []string{"GPU over temperature", "rig-a", "GPU 0 (RTX 4090) on rig-a at 95 °C for 31 s", "since"} {
		if !strings.Contains(al[0], want) {
			t.Errorf("the alert %q lacks %q", al[0], want)
		}
	}
	if len(sent) != 1 || sent[0].Title != "Farm alert: GPU over temperature" || !strings.Contains(sent[0].Content, "rig-a at 95 °C") {
		t.Fatalf("notifications %d, first %+v", len(sent), sent[0])
	}
	if !strings.Contains(f.summary.Text, "1 alert") {
		t.Errorf("summary %q", f.summary.Text)
	}

	// Alerts go first, even when a card without one is hotter.
	a.setTemps(84)
	b.setTemps(88)
	poll(5 * time.Second)
	wantGrid(t, f, "rig-a | 0 · RTX 4090 | 84 °C | ", "rig-b | 0 · RTX 3090 | 88 °C", "rig-a | 1 ")
	if !strings.Contains(gridLines(f)[0], "⚠ GPU over temperature · online") {
		t.Errorf("the alerting row: %q", gridLines(f)[0])
	}

	// 30 s back at 60 °C clears it, with a short notification.
	a.setTemps(60)
	b.setTemps(66)
	poll(5 * time.Second)
	poll(15 * time.Second)
	poll(16 * time.Second)
	if al := alertLines(f); len(al) != 0 || !strings.Contains(allText(f.alertsBox), "No active alerts.") {
		t.Fatalf("after cooling: %q", al)
	}
	if len(sent) != 2 || sent[1].Title != "Farm: cleared" || !strings.Contains(sent[1].Content, "back to 60 °C") {
		t.Fatalf("notifications: %d, last %+v", len(sent), sent[len(sent)-1])
	}
}

// Two rigs announce themselves over real multicast DNS on this machine;
// the Farm tab's own loop (Serve: discover, then poll) lists both with
// their GPUs, once the tab has been opened.
func TestFarmDiscoversRigsOnTheLAN(t *testing.T) {
	r := newRig(t, "http://127.0.0.1:1")
	f := r.ui.farm
	// Other tests on this machine may announce rigs too: these names are
	// this run's own.
	names := []string{"farmtest-" + strings.ToLower(rand.Text()[:8]) + "-a", "farmtest-" + strings.ToLower(rand.Text()[:8]) + "-b"}
	rigs := []*farmRig{startFarmRig(t, names[0], "", "RTX 4090x2"), startFarmRig(t, names[1], "", "A100 80GB")}

	ctx, cancel := context.WithCancel(context.Background())
	announced := make(chan error, len(rigs))
	for i, rig := range rigs {
		_, p, _ := net.SplitHostPort(rig.addr)
		port, err := strconv.Atoi(p)
		if err != nil {
			t.Fatal(err)
		}
		s := farm.Service{Instance: names[i], Host: names[i], Port: port, DeviceID: "dev_" + names[i], Version: "1.4.0", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}}
		go func() { announced <- farm.Announce(ctx, s) }()
	}
	t.Cleanup(func() {
		cancel()
		for range rigs {
			if err := <-announced; err != nil {
				t.Errorf("Announce: %v", err)
			}
		}
	})

	f.view.PollEvery = 200 * time.Millisecond
	f.view.DiscoverEvery = time.Second
	f.view.DiscoverTimeout = 700 * time.Millisecond
	f.view.ProbeTimeout = time.Second
	if f.view.Discovery().On {
		t.Fatal("a desktop with no rigs browses the LAN before the Farm tab is opened")
	}
	r.ui.showMain()
	for _, ti := range r.ui.tabs.Items {
		if ti.Text == "Farm" {
			r.ui.tabs.Select(ti)
		}
	}
	if !f.view.Discovery().On {
		t.Fatal("opening the Farm tab did not start discovery")
	}

	// The loop runs on its own goroutine and redraws from there; the test
	// reads only the (locked) view until it has stopped.
	loopCtx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- f.view.Serve(loopCtx) }()
	// The announcers start in the background and a multicast answer can be
	// lost: the loop asks again every second, within a deadline.
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for !bothAnswer(f.view.Rows(), names) {
		if time.Now().After(deadline) {
			stop()
			<-served
			t.Fatalf("after 30 s the Farm view lists %q; want %q with readings (discovery: %+v)", rowNames(f.view.Rows()), names, f.view.Discovery())
		}
		<-tick.C
	}
	stop()
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}

	f.refresh()
	lines := strings.Join(gridLines(f), "\n")
	for _, want := range []string{names[0] + " | 0 · RTX 4090 | ", names[0] + " | 1 · RTX 4090 | ", names[1] + " | 0 · A100-SXM4-80GB | "} {
		if !strings.Contains(lines, want) {
			t.Errorf("grid lacks %q:\n%s", want, lines)
		}
	}
	if d := f.discovery.Text; !strings.Contains(d, "answered on the LAN") {
		t.Errorf("discovery line %q", d)
	}
}

// bothAnswer reports whether every named rig is in rows with a reading.
func bothAnswer(rows []farm.Row, names []string) bool {
	for _, n := range names {
		ok := false
		for _, r := range rows {
			ok = ok || (r.Rig == n && r.Reading)
		}
		if !ok {
			return false
		}
	}
	return true
}

func rowNames(rows []farm.Row) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r.Rig+" "+r.State)
	}
	return out
}

// `idlegrid --tab farm --rig ADDR` opens on the Farm tab with the rig
// listed and polled; a tab or address that does not exist is refused with
// the choices.
func TestOpeningOnTheFarmTabWithRigs(t *testing.T) {
	r := newRig(t, "http://127.0.0.1:1")
	a := startFarmRig(t, "rig-a", "", "RTX 4090x2")
	if err := r.ui.AddRig(a.addr, ""); err != nil {
		t.Fatal(err)
	}
	if err := r.ui.AddRig("not an address:xyz", ""); err == nil {
		t.Fatal("a bad rig address was accepted")
	}
	if err := r.ui.ShowTab("Farm"); err != nil {
		t.Fatal(err)
	}
	if got := r.ui.tabs.Selected().Text; got != "Farm" {
		t.Fatalf("tab %q selected, want Farm", got)
	}
	r.ui.farm.view.Poll(context.Background())
	fyne.DoAndWait(r.ui.farm.refresh)
	wantGrid(t, r.ui.farm, "rig-a | 0 · RTX 4090 | 67 °C", "rig-a | 1 · RTX 4090 | 67 °C")
	err := r.ui.ShowTab("rigs")
	if err == nil || !strings.Contains(err.Error(), "dashboard, earnings, benchmark, guard, farm, settings") {
		t.Fatalf("an unknown tab: %v", err)
	}
	if got := r.ui.tabs.Selected().Text; got != "Farm" {
		t.Fatalf("an unknown tab changed the tab to %q", got)
	}
}
