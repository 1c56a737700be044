package server_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/idlegrid/idlegrid/controlplane/servertest"
)

type stats struct {
	DevicesTotal  int            `json:"devices_total"`
	DevicesOnline int            `json:"devices_online"`
	GPUsOnline    int            `json:"gpus_online"`
	Suppliers     int            `json:"suppliers"`
	GPUsByModel   map[string]int `json:"gpus_by_model"`
}

func states(ds []servertest.Device) map[string]string {
	m := map[string]string{}
	for _, d := range ds {
		m[d.Name] = d.State
	}
	return m
}

// Three agents pair, heartbeat and show online in the API and the explorer;
// one stops and goes offline; the server restarts and the others come back
// by themselves.
func TestAgentsPairHeartbeatGoOfflineAndSurviveRestart(t *testing.T) {
	srv := servertest.Start(t, nil)
	owner := srv.SignUp("gamer@example.com")

	specs := map[string]string{"rig-a": "RTX 4090x2", "rig-b": "RTX 3090", "rig-c": "RTX 3090"}
	stops := map[string]func(){}
	for name, spec := range specs {
		a := srv.NewAgent(name, spec)
		if err := a.Pair(t.Context(), owner.PairingCode()); err != nil {
			t.Fatalf("pairing %s: %v", name, err)
		}
		stops[name], _ = servertest.RunAgent(t, a)
	}

	servertest.Eventually(t, 10*time.Second, "three devices online", func() bool {
		st := states(owner.Devices())
		return len(st) == 3 && st["rig-a"] == "online" && st["rig-b"] == "online" && st["rig-c"] == "online"
	})
	var s stats
	if code := srv.Anonymous().Do("GET", "/api/v1/explorer/stats", nil, &s); code != http.StatusOK {
		t.Fatalf("explorer stats: status %d", code)
	}
	if s.DevicesTotal != 3 || s.DevicesOnline != 3 || s.GPUsOnline != 4 || s.Suppliers != 1 {
		t.Fatalf("explorer stats = %+v, want 3 devices online with 4 GPUs from 1 supplier", s)
	}
	if s.GPUsByModel["NVIDIA GeForce RTX 4090"] != 2 || s.GPUsByModel["NVIDIA GeForce RTX 3090"] != 2 {
		t.Fatalf("gpus_by_model = %v, want 2× RTX 4090 and 2× RTX 3090", s.GPUsByModel)
	}
	for _, d := range owner.Devices() {
		if !d.Simulated || !d.Connected {
			t.Fatalf("device %s: simulated=%v connected=%v, want both true", d.Name, d.Simulated, d.Connected)
		}
	}

	// Telemetry is stored in batches and readable per device.
	devs := owner.Devices()
	var samples struct {
		Samples []struct {
			Seq  uint64 `json:"seq"`
			GPUs []struct {
				TempC   int    `json:"temp_c"`
				PowerMW uint32 `json:"power_mw"`
			} `json:"gpus"`
		} `json:"samples"`
	}
	servertest.Eventually(t, 5*time.Second, "telemetry stored", func() bool {
		owner.Do("GET", "/api/v1/devices/"+devs[0].ID+"/telemetry?since=1m", nil, &samples)
		return len(samples.Samples) >= 3
	})
	if g := samples.Samples[0].GPUs; len(g) == 0 || g[0].TempC <= 0 || g[0].PowerMW == 0 {
		t.Fatalf("first sample's GPUs = %+v, want temperature and power", g)
	}

	stops["rig-b"]()
	servertest.Eventually(t, 10*time.Second, "rig-b offline", func() bool {
		return states(owner.Devices())["rig-b"] == "offline"
	})
	if st := states(owner.Devices()); st["rig-a"] != "online" || st["rig-c"] != "online" {
		t.Fatalf("after rig-b stopped: %v, want the others online", st)
	}

	srv.Restart()
	servertest.Eventually(t, 15*time.Second, "rig-a and rig-c reconnected after the restart", func() bool {
		return srv.Srv.Hub.Connected(devs[0].ID) && len(connected(srv, owner)) == 2
	})
	st := states(owner.Devices())
	if st["rig-a"] != "online" || st["rig-c"] != "online" || st["rig-b"] != "offline" {
		t.Fatalf("after restart: %v, want rig-a and rig-c online, rig-b offline", st)
	}
}

func connected(srv *servertest.Server, c *servertest.Client) []string {
	var out []string
	for _, d := range c.Devices() {
		if srv.Srv.Hub.Connected(d.ID) {
			out = append(out, d.Name)
		}
	}
	return out
}
