package server

import (
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

func TestLoadOrderDefaultsEnvFlags(t *testing.T) {
	env := map[string]string{"IDLEGRID_LISTEN": "0.0.0.0:9000", "IDLEGRID_DEMO": "3"}
	c, err := Load([]string{"--demo", "5"}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "0.0.0.0:9000" || c.Demo != 5 || c.DataDir != "./data" || c.HeartbeatInterval != 5*time.Second {
		t.Fatalf("config %+v: want env listen, flag demo, default data and interval", c)
	}
}

func TestLoadReportsEveryProblemAtOnce(t *testing.T) {
	env := map[string]string{"IDLEGRID_PUBLIC_URL": "grid.example.com", "IDLEGRID_DEMO": "lots"}
	_, err := Load([]string{"--listen", "nowhere", "--log-level", "loud", "--heartbeat-interval", "1s", "--offline-after", "2s", "--debug-listen", "0.0.0.0:6060"}, func(k string) string { return env[k] })
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, want := range []string{"IDLEGRID_DEMO", "--public-url", "--listen", "--log-level", "--offline-after", "--debug-listen"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s:\n%v", want, err)
		}
	}
}

// Every flag has its environment variable, and the example settings file
// for the systemd unit names only variables the server reads, with values
// it accepts.
func TestExampleServerEnvMatchesFlags(t *testing.T) {
	known := map[string]bool{}
	for _, env := range envNames {
		known[env] = true
	}
	b, err := os.ReadFile("../../installer/linux/server.env.example")
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimPrefix(strings.TrimSpace(line), "#")
		name, value, ok := strings.Cut(line, "=")
		if !ok || !strings.HasPrefix(name, "IDLEGRID_") {
			continue
		}
		if !known[name] {
			t.Errorf("server.env.example names %s, which the server does not read", name)
		}
		if !strings.HasPrefix(name, "IDLEGRID_PAYOUT_") { // on-chain settings need a real treasury
			vars[name] = value
		}
	}
	vars["IDLEGRID_DATA"] = t.TempDir()
	if _, err := Load(nil, func(k string) string { return vars[k] }); err != nil {
		t.Fatalf("the example's values are refused: %v", err)
	}
}

// The IDLEGRID_FAILPOINT test hook is off unless set, and a name that is
// no crash point stops the start: a typo must not test nothing.
func TestFailPointIsCheckedAtStart(t *testing.T) {
	load := func(v string) (Config, error) {
		return Load([]string{"--data", t.TempDir()}, func(k string) string {
			if k == FailPointEnv {
				return v
			}
			return ""
		})
	}
	if c, err := load(""); err != nil || c.FailPoint != "" {
		t.Fatalf("unset: %q, %v", c.FailPoint, err)
	}
	if c, err := load("payout:recorded"); err != nil || c.FailPoint != "payout:recorded" {
		t.Fatalf("payout:recorded: %q, %v", c.FailPoint, err)
	}
	for _, bad := range []string{"payout:sigend", "recorded", "hub:recorded", "payout:"} {
		_, err := load(bad)
		if err == nil || !strings.Contains(err.Error(), FailPointEnv) || !strings.Contains(err.Error(), "payout:signed") {
			t.Errorf("%q: %v, want a refusal naming the fail points", bad, err)
		}
	}
	cfg := Defaults()
	cfg.DataDir, cfg.FailPoint = t.TempDir(), "payout:sent"
	srv, err := New(t.Context(), cfg, Logger("error", io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if srv.Payout.Crash == nil || srv.Payout.Crash("recorded") {
		t.Fatal("the fail point is not wired to the payout service, or fires at the wrong point")
	}
	cfg.DataDir, cfg.FailPoint = t.TempDir(), "payout:nope"
	if srv, err := New(t.Context(), cfg, Logger("error", io.Discard)); err == nil {
		srv.Close()
		t.Fatal("New accepted an unknown fail point")
	}
}
