package desktop

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/idlegrid/idlegrid/controlplane/servertest"
	"github.com/idlegrid/idlegrid/shared/bench"
	"github.com/idlegrid/idlegrid/shared/guard"
	"github.com/idlegrid/idlegrid/shared/hw"
	"github.com/idlegrid/idlegrid/shared/idle"
	"github.com/idlegrid/idlegrid/shared/supplier"
	"github.com/idlegrid/idlegrid/shared/wallet"
)

// rig is a supplier with a simulated RTX 4090 on a clock the test moves,
// and an idle source the test sets.
type rig struct {
	app   fyne.App
	sup   *supplier.Supplier
	ui    *UI
	sim   *hw.Sim
	idle  *idle.Fake
	clock time.Time
}

func newRig(t *testing.T, server string) *rig {
	t.Helper()
	r := &rig{app: test.NewTempApp(t), idle: &idle.Fake{}, clock: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	r.idle.Set(idle.State{Known: true, IdleFor: time.Hour, Source: "fake"})
	models, _ := hw.ParseSimSpec("RTX 4090")
	now := func() time.Time { return r.clock }
	r.sim = hw.NewSim(models, 1, now)
	sup, err := supplier.New(supplier.Config{
		DataDir: t.TempDir(), DefaultServer: server, Version: "test",
		GPU: r.sim, Idle: r.idle, Prefs: r.app.Preferences(),
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		Bench: bench.Options{PerKind: 50 * time.Millisecond, DiskBytes: 8 << 20, NetBytes: 200_000},
	})
	if err != nil {
		t.Fatal(err)
	}
	r.sup = sup
	r.ui = New(r.app, sup, nil)
	r.ui.async = func(f func()) { f() }
	t.Cleanup(r.ui.Close)
	return r
}

// step advances the simulated clock and takes one monitor sample and one
// guard decision, as a second of real time would.
func (r *rig) step(d time.Duration) {
	r.clock = r.clock.Add(d)
	r.sup.Monitor.SampleNow(context.Background())
	r.sup.Guard.Check(context.Background())
	r.ui.Refresh()
}

func serve(t *testing.T, sup *supplier.Supplier) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = sup.Serve(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

func goodAddress(t *testing.T) string {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return wallet.EncodeBase58(pub)
}

// The whole first run against a real control plane: welcome, hardware,
// sign-in, wallet (a bad one refused), benchmark note, dashboard; the PC
// then shows online in the owner's account.
func TestOnboardingAgainstARealControlPlane(t *testing.T) {
	srv := servertest.Start(t, nil)
	owner := srv.SignUp("gamer@example.com")
	r := newRig(t, srv.URL)
	o := r.ui.onboarding
	if o == nil || o.step != stepWelcome {
		t.Fatal("first run does not open onboarding at the welcome step")
	}
	test.Tap(o.primary) // Start earning
	if o.step != stepHardware {
		t.Fatalf("after Start earning: step %d", o.step)
	}
	if txt := allText(o.content); !strings.Contains(txt, "NVIDIA GeForce RTX 4090 (simulated)") || !strings.Contains(txt, "24.0 GiB") {
		t.Fatalf("hardware step does not show the GPU:\n%s", txt)
	}
	test.Tap(o.primary)
	if o.step != stepConnect || o.server.Text != srv.URL {
		t.Fatalf("connect step %d with server %q, want prefilled %q", o.step, o.server.Text, srv.URL)
	}

	test.Type(o.email, "gamer@example.com")
	test.Type(o.password, "not my password")
	test.Tap(o.connect)
	if o.step != stepConnect || !strings.Contains(o.connMsg.Text, "wrong email or password") {
		t.Fatalf("a wrong password: step %d, message %q", o.step, o.connMsg.Text)
	}
	o.password.SetText("")
	test.Type(o.password, "correct horse battery")
	test.Tap(o.connect)
	if o.step != stepWallet {
		t.Fatalf("after signing in: step %d, message %q", o.step, o.connMsg.Text)
	}
	if o.password.Text != "" {
		t.Error("the password is still in the entry after pairing")
	}

	test.Type(o.wallet, "abandon ability able about above absent absorb abstract absurd abuse access accident")
	test.Tap(o.primary)
	if o.step != stepWallet || !strings.Contains(o.walletMsg.Text, "seed phrase") {
		t.Fatalf("a seed phrase as wallet: step %d, message %q", o.step, o.walletMsg.Text)
	}
	addr := goodAddress(t)
	o.wallet.SetText(addr)
	test.Tap(o.primary)
	if o.step != stepBenchmark {
		t.Fatalf("after a good wallet: step %d, message %q", o.step, o.walletMsg.Text)
	}
	test.Tap(o.primary) // Run the benchmark (inline in tests)
	if o.primary.Text != "Finish" {
		t.Fatalf("after the benchmark the button says %q", o.primary.Text)
	}
	test.Tap(o.primary) // Finish
	if r.ui.onboarding != nil || r.ui.win.Content() != r.ui.tabs {
		t.Fatal("Finish did not open the dashboard")
	}
	if got := r.app.Preferences().String(supplier.KeyWallet); got != addr || !r.sup.Settings().Onboarded {
		t.Fatalf("saved wallet %q onboarded %v", got, r.sup.Settings().Onboarded)
	}

	serve(t, r.sup)
	servertest.Eventually(t, 10*time.Second, "the PC online in the owner's account", func() bool {
		ds := owner.Devices()
		return len(ds) == 1 && ds[0].State == "online" && ds[0].Simulated
	})

	// The wallet chosen in the app reaches the account (it had none).
	servertest.Eventually(t, 10*time.Second, "the wallet at the control plane", func() bool {
		var p struct {
			Wallet string `json:"wallet"`
		}
		owner.Do("GET", "/api/v1/payouts", nil, &p)
		return p.Wallet == addr
	})
	servertest.Eventually(t, 10*time.Second, "earnings and the wallet known to the app", func() bool {
		e := r.sup.EarningsNow()
		return e.Known && e.Wallet == addr
	})
	r.ui.Refresh()
	if txt := r.ui.earnings.balance.Text; !strings.Contains(txt, "Pending $0.00") || !strings.Contains(txt, addr) {
		t.Fatalf("earnings screen: %q", txt)
	}

	// Re-running the app skips onboarding.
	again := New(r.app, r.sup, nil)
	if again.onboarding != nil {
		t.Fatal("a second start shows onboarding again")
	}
}

func TestOnboardingWithAPairingCode(t *testing.T) {
	srv := servertest.Start(t, nil)
	owner := srv.SignUp("gamer@example.com")
	r := newRig(t, srv.URL)
	o := r.ui.onboarding
	o.show(stepConnect)
	test.Type(o.code, "AAAA-BBBB")
	test.Tap(o.connect)
	if o.step != stepConnect || !strings.Contains(o.connMsg.Text, "not known") {
		t.Fatalf("an unknown code: step %d, message %q", o.step, o.connMsg.Text)
	}
	o.code.SetText(strings.ToLower(owner.PairingCode()))
	test.Tap(o.connect)
	if o.step != stepWallet {
		t.Fatalf("a good code: step %d, message %q", o.step, o.connMsg.Text)
	}
	test.Tap(o.primary) // Save with nothing typed
	if o.step != stepWallet || !strings.Contains(o.walletMsg.Text, "Skip for now") {
		t.Fatalf("saving an empty wallet: step %d, message %q", o.step, o.walletMsg.Text)
	}
}

// The dashboard follows the telemetry stream: figures and the chart move
// as the simulated card heats up under load.
func TestDashboardFollowsTelemetry(t *testing.T) {
	r := newRig(t, "http://127.0.0.1:1")
	if err := r.sup.FinishOnboarding(); err != nil {
		t.Fatal(err)
	}
	r.step(time.Second)
	r.ui.showMain()
	card := r.ui.dashboard.cards[0]
	coolTemp, coolPower := card.temp.Text, card.power.Text
	r.sim.SetLoadAll(1)
	for range 120 {
		r.step(time.Second)
	}
	if card.temp.Text == coolTemp || card.power.Text == coolPower {
		t.Fatalf("after two minutes at full load the card still shows %s, %s", card.temp.Text, card.power.Text)
	}
	if !strings.HasSuffix(card.util.Text, "%") || !strings.Contains(card.vram.Text, "of 24.0 GiB") || !strings.HasSuffix(card.clock.Text, "MHz") {
		t.Fatalf("card figures: util %q vram %q clock %q", card.util.Text, card.vram.Text, card.clock.Text)
	}
	if n := len(card.chart.series[0].Values); n != 121 {
		t.Fatalf("chart holds %d temperature points, want 121 (one per sample)", n)
	}
	if first, last := card.chart.series[0].Values[0], card.chart.series[0].Values[120]; last <= first {
		t.Fatalf("temperature line goes %v → %v, want it rising", first, last)
	}
	if !strings.Contains(r.ui.dashboard.host.Text, "RAM") {
		t.Fatalf("host line %q", r.ui.dashboard.host.Text)
	}
	// The electricity estimate uses the measured draw.
	r.ui.earnings.refresh()
	if txt := r.ui.earnings.energy.Text; !strings.Contains(txt, "kWh a day") {
		t.Fatalf("energy line %q", txt)
	}
}

// The guard pauses when the gamer comes back or the card runs hot, says
// why on the dashboard, and the control plane is told at once.
func TestGuardPausesAndTellsTheControlPlane(t *testing.T) {
	srv := servertest.Start(t, nil)
	owner := srv.SignUp("gamer@example.com")
	r := newRig(t, srv.URL)
	if err := r.sup.PairWithCode(t.Context(), srv.URL, owner.PairingCode()); err != nil {
		t.Fatal(err)
	}
	lim := r.sup.Settings()
	lim.Limits = guard.Limits{MaxTempC: 60, OnlyWhenIdle: true, IdleAfter: time.Minute}
	if err := r.sup.SaveSettings(lim); err != nil {
		t.Fatal(err)
	}
	r.ui.showMain()
	r.step(time.Second)
	if !r.sup.Decision().Supply {
		t.Fatalf("cool and away: %v", r.sup.Decision().Reasons)
	}
	serve(t, r.sup)
	supply := func() (string, string) {
		var d struct {
			Supply      string `json:"supply"`
			PauseReason string `json:"pause_reason"`
		}
		owner.Do("GET", "/api/v1/devices/"+r.sup.Agent.State().DeviceID, nil, &d)
		return d.Supply, d.PauseReason
	}
	servertest.Eventually(t, 10*time.Second, "the control plane sees the PC available", func() bool {
		s, _ := supply()
		return s == "available"
	})

	r.idle.Set(idle.State{Known: true, IdleFor: 3 * time.Second, Source: "fake"})
	r.step(time.Second)
	if !strings.Contains(r.ui.dashboard.reason.Text, "you are using the PC") {
		t.Fatalf("dashboard says %q", r.ui.dashboard.reason.Text)
	}
	servertest.Eventually(t, 5*time.Second, "the control plane told the PC is paused", func() bool {
		s, why := supply()
		return s == "paused" && strings.Contains(why, "using the PC")
	})

	r.idle.Set(idle.State{Known: true, IdleFor: time.Hour, Source: "fake"})
	r.sim.SetLoadAll(1)
	for i := 0; i < 600 && !strings.Contains(r.ui.dashboard.reason.Text, "above your limit"); i++ {
		r.step(time.Second)
	}
	if !strings.Contains(r.ui.dashboard.reason.Text, "above your limit of 60 °C") {
		t.Fatalf("after heating: dashboard says %q", r.ui.dashboard.reason.Text)
	}

	// The pause button is the user's own switch.
	test.Tap(r.ui.dashboard.pause)
	if !r.sup.Settings().Paused || r.ui.dashboard.pause.Text != "Resume supplying" {
		t.Fatalf("pause button: paused=%v label %q", r.sup.Settings().Paused, r.ui.dashboard.pause.Text)
	}
	if !strings.Contains(r.sup.Decision().Reason(), "paused by you") {
		t.Fatalf("decision %q", r.sup.Decision().Reason())
	}
}

func TestGuardScreenValidatesAndSaves(t *testing.T) {
	r := newRig(t, "http://127.0.0.1:1")
	g := r.ui.guard
	g.maxTemp.SetText("hot")
	test.Tap(g.save)
	if !strings.Contains(g.msg.Text, "whole number") {
		t.Fatalf("non-number: %q", g.msg.Text)
	}
	g.maxTemp.SetText("120")
	test.Tap(g.save)
	if !strings.Contains(g.msg.Text, "between 50 and 95") {
		t.Fatalf("out of range: %q", g.msg.Text)
	}
	if r.sup.Settings().Limits.MaxTempC != guard.DefaultLimits().MaxTempC {
		t.Fatal("a refused save changed the limits")
	}
	g.maxTemp.SetText("75")
	g.maxPower.SetText("250")
	g.schedOn.SetChecked(true)
	g.from.SetSelectedIndex(23)
	g.to.SetSelectedIndex(7)
	test.Tap(g.save)
	l := r.sup.Settings().Limits
	if l.MaxTempC != 75 || l.MaxPowerW != 250 || !l.Schedule.Enabled || l.Schedule.From != 23 || l.Schedule.To != 7 {
		t.Fatalf("saved limits %+v (%s)", l, g.msg.Text)
	}
	if r.app.Preferences().Int(supplier.KeyMaxTempC) != 75 {
		t.Fatal("the limit was not persisted in preferences")
	}
	if !strings.Contains(g.capNote.Text, "capped at 250 W") {
		t.Fatalf("power cap note %q", g.capNote.Text)
	}
}

func TestSettingsWalletRejectsBadAddresses(t *testing.T) {
	r := newRig(t, "http://127.0.0.1:1")
	s := r.ui.settings
	for _, bad := range []string{"0xde0b295669a9fd93d5f28d9ec85e40f4cb697bae", "hello", "[1,2,3,4]"} {
		s.wallet.SetText(bad)
		test.Tap(findButton(t, s.content, "Save wallet"))
		if !strings.Contains(s.walletMsg.Text, "not a Solana wallet address") || r.sup.Settings().Wallet != "" {
			t.Fatalf("%q: message %q, saved %q", bad, s.walletMsg.Text, r.sup.Settings().Wallet)
		}
	}
	addr := goodAddress(t)
	s.wallet.SetText(addr)
	test.Tap(findButton(t, s.content, "Save wallet"))
	if r.sup.Settings().Wallet != addr || s.walletMsg.Text != "Saved." {
		t.Fatalf("good address: saved %q, message %q", r.sup.Settings().Wallet, s.walletMsg.Text)
	}
	if !s.autostart.Disabled() {
		t.Fatal("start-at-login is offered without an autostart implementation")
	}
}

// The Benchmark tab runs every benchmark (the network one against the real
// control plane), shows the result and history, and the control plane
// stores the report with the score it computes itself.
func TestBenchmarkScreenRunsAndReports(t *testing.T) {
	srv := servertest.Start(t, nil)
	owner := srv.SignUp("gamer@example.com")
	r := newRig(t, srv.URL)
	if err := r.sup.PairWithCode(t.Context(), srv.URL, owner.PairingCode()); err != nil {
		t.Fatal(err)
	}
	serve(t, r.sup)
	b := r.ui.bench
	if !strings.Contains(b.result.Text, "No benchmark yet") {
		t.Fatalf("before a run: %q", b.result.Text)
	}
	test.Tap(b.run)
	if b.bar.Value != 1 || b.step.Text != "Done." {
		t.Fatalf("after a run: bar %v, step %q", b.bar.Value, b.step.Text)
	}
	for _, want := range []string{"Score", "CPU:", "Memory:", "Disk:", "Network:", "GPU: not measured"} {
		if !strings.Contains(b.result.Text, want) {
			t.Errorf("result lacks %q:\n%s", want, b.result.Text)
		}
	}
	if n := strings.Count(b.history.Text, "score"); n != 1 {
		t.Fatalf("history has %d lines:\n%s", n, b.history.Text)
	}
	var dev struct {
		Benchmark *struct {
			Score float64 `json:"score"`
			Tier  string  `json:"tier"`
		} `json:"benchmark"`
	}
	servertest.Eventually(t, 10*time.Second, "the report at the control plane", func() bool {
		owner.Do("GET", "/api/v1/devices/"+r.sup.Agent.State().DeviceID, nil, &dev)
		return dev.Benchmark != nil
	})
	hist, _ := r.sup.BenchHistory()
	if dev.Benchmark.Score != hist[0].Score || dev.Benchmark.Tier != "bronze" {
		t.Fatalf("control plane scored %+v, the device %v %s", *dev.Benchmark, hist[0].Score, hist[0].Tier)
	}
	// The control plane tells the app what it thinks of the PC.
	servertest.Eventually(t, 10*time.Second, "the device status back at the app", func() bool {
		ds := r.sup.Agent.Status().Device
		return ds.Tier == "bronze" && ds.Verification == "simulated"
	})
	r.ui.Refresh()
	if txt := r.ui.dashboard.standing.Text; !strings.Contains(txt, "tier bronze") || !strings.Contains(txt, "Not verified (simulated)") || !strings.Contains(txt, "per hour while rented") {
		t.Fatalf("dashboard standing: %q", txt)
	}
}
