package supplier

import (
	"strings"
	"testing"
	"time"

	"github.com/idlegrid/idlegrid/shared/agent"
	"github.com/idlegrid/idlegrid/shared/guard"
	"github.com/idlegrid/idlegrid/shared/hw"
)

func TestEstimateEnergyIntegratesMeasuredPower(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s int, watts ...uint32) agent.Sample {
		smp := agent.Sample{At: t0.Add(time.Duration(s) * time.Second)}
		for i, w := range watts {
			smp.GPUs = append(smp.GPUs, hw.GPUSample{Index: i, PowerMW: w * 1000})
		}
		return smp
	}
	// Two cards: 100 W + 200 W for an hour → 300 W average, 7.2 kWh a day.
	e := EstimateEnergy([]agent.Sample{at(0, 100, 200), at(1800, 100, 200), at(3600, 100, 200)}, 0.25, "EUR")
	if e.AvgPowerW != 300 || e.KWhPerDay != 7.2 || e.CostPerDay != 1.8 || e.Window != time.Hour || e.Currency != "EUR" {
		t.Fatalf("estimate %+v, want 300 W, 7.2 kWh/day, 1.80 EUR/day over 1h", e)
	}
	// A ramp from 0 to 200 W averages 100 W (trapezoids, not last value).
	if e := EstimateEnergy([]agent.Sample{at(0, 0), at(100, 200)}, 1, "USD"); e.AvgPowerW != 100 {
		t.Fatalf("ramp average %v W, want 100", e.AvgPowerW)
	}
	if e := EstimateEnergy([]agent.Sample{at(0, 100)}, 1, "USD"); e.Window != 0 || e.AvgPowerW != 0 {
		t.Fatalf("one sample gives %+v, want no estimate", e)
	}
}

func TestSettingsDefaultsRoundTripAndValidation(t *testing.T) {
	p := &MemPrefs{}
	s, err := New(Config{DataDir: t.TempDir(), DefaultServer: "https://grid.example.com", Prefs: p})
	if err != nil {
		t.Fatal(err)
	}
	got := s.Settings()
	if got.ServerURL != "https://grid.example.com" || got.Onboarded || got.Limits != guard.DefaultLimits() || got.PricePerKWh != 0.30 {
		t.Fatalf("defaults %+v", got)
	}
	got.Limits.MaxTempC = 200
	if err := s.SaveSettings(got); err == nil || !strings.Contains(err.Error(), "temperature") {
		t.Fatalf("saving 200 °C: %v", err)
	}
	if p.IntWithFallback(KeyMaxTempC, -1) != -1 {
		t.Fatal("a refused save wrote preferences")
	}
	got.Limits.MaxTempC = 80
	got.PricePerKWh = 0.42
	if err := s.SaveSettings(got); err != nil {
		t.Fatal(err)
	}
	again := LoadSettings(p, "ignored")
	if again.Limits.MaxTempC != 80 || again.PricePerKWh != 0.42 || again.ServerURL != "https://grid.example.com" {
		t.Fatalf("reloaded %+v", again)
	}
	if err := s.SetWallet("not-a-wallet"); err == nil {
		t.Fatal("a bad wallet was saved")
	}
	if err := s.PairWithCode(t.Context(), "grid.example.com", "AAAA-BBBB"); err == nil || !strings.Contains(err.Error(), "https://") {
		t.Fatalf("pairing with a URL without scheme: %v", err)
	}
}

func TestConnectionTextSpeaksPlainly(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := map[string]agent.Status{
		"Online":                          {Conn: agent.ConnOnline},
		"Reconnecting (next try in 7 s)":  {Conn: agent.ConnReconnecting, NextTry: now.Add(7 * time.Second)},
		"too old for the server: update":  {Conn: agent.ConnOutdated},
		"removed from your account: pair": {Conn: agent.ConnRemoved},
		"Not connected to an account yet": {Conn: agent.ConnUnpaired},
	}
	for want, st := range cases {
		if got := ConnectionText(st, now); !strings.Contains(got, want) {
			t.Errorf("%s: %q, want it to contain %q", st.Conn, got, want)
		}
	}
}
