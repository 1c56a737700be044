package server

import (
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
	_, err := Load([]string{"--listen", "nowhere", "--log-level", "loud", "--heartbeat-interval", "1s", "--offline-after", "2s"}, func(k string) string { return env[k] })
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, want := range []string{"IDLEGRID_DEMO", "--public-url", "--listen", "--log-level", "--offline-after"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s:\n%v", want, err)
		}
	}
}
