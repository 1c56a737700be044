package farm

import (
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/idlegrid/idlegrid/shared/hw"
)

// scrape GETs /metrics from addr and parses it with Prometheus' own text
// parser, as a Prometheus server would.
func scrape(tb testing.TB, addr, token string) map[string]*dto.MetricFamily {
	tb.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		tb.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		tb.Fatalf("GET /metrics: %s\n%s", resp.Status, b)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		tb.Errorf("Content-Type = %q, want the text format", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		tb.Fatalf("parsing /metrics: %v", err)
	}
	return fams
}

func labelsOf(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

// value finds the one series of name whose labels include want.
func value(tb testing.TB, fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	tb.Helper()
	f := fams[name]
	if f == nil {
		return 0, false
	}
	if f.GetType() != dto.MetricType_GAUGE {
		tb.Errorf("%s is a %s, want a gauge", name, f.GetType())
	}
	var found []float64
	for _, m := range f.GetMetric() {
		got := labelsOf(m)
		match := true
		for k, v := range want {
			match = match && got[k] == v
		}
		if match {
			found = append(found, m.GetGauge().GetValue())
		}
	}
	switch len(found) {
	case 0:
		return 0, false
	case 1:
		return found[0], true
	}
	tb.Fatalf("%s%v matches %d series", name, want, len(found))
	return 0, false
}

func TestMetricsUseDCGMNamesLabelsAndUnits(t *testing.T) {
	snap := simSnapshot(t)
	addr := startServer(t, &Server{Host: "rig-07", Source: func() Snapshot { return snap }})
	fams := scrape(t, addr, "")

	g0, g1 := snap.Samples[0], snap.Samples[1]
	gpu0 := map[string]string{"gpu": "0"}
	// Every GPU series carries DCGM's labels, and our device id.
	for _, name := range []string{MetricGPUTemp, MetricPowerUsage, MetricGPUUtil, MetricFBUsed, MetricFBFree, MetricSMClock} {
		f := fams[name]
		if f == nil {
			t.Errorf("%s is missing", name)
			continue
		}
		if len(f.GetMetric()) != 2 {
			t.Errorf("%s has %d series, want one per GPU", name, len(f.GetMetric()))
		}
		got := labelsOf(f.GetMetric()[0])
		want := map[string]string{"gpu": "0", "UUID": g0.UUID, "device": "nvidia0", "modelName": "NVIDIA GeForce RTX 4090", "Hostname": "rig-07", "device_id": "dev_0123456789ab"}
		if got["gpu"] == "1" {
			want = map[string]string{"gpu": "1", "UUID": g1.UUID, "device": "nvidia1", "modelName": "NVIDIA A100-SXM4-80GB", "Hostname": "rig-07", "device_id": "dev_0123456789ab"}
		}
		if !maps.Equal(got, want) {
			t.Errorf("%s labels = %v, want %v", name, got, want)
		}
	}

	tests := []struct {
		name string
		want float64
	}{
		{MetricGPUTemp, float64(g0.TempC)},
		{MetricPowerUsage, float64(g0.PowerMW) / 1000}, // W, not mW
		{MetricPowerLimit, 450},
		{MetricGPUUtil, float64(g0.UtilPct)},
		{MetricFBUsed, float64(g0.MemoryUsed >> 20)}, // MiB, not bytes
		{MetricFBFree, float64((g0.MemoryTotal - g0.MemoryUsed) >> 20)},
		{MetricSMClock, float64(g0.SMClockMHz)},
		{MetricFanSpeed, float64(g0.FanPct)},
	}
	for _, tt := range tests {
		got, ok := value(t, fams, tt.name, gpu0)
		if !ok || got != tt.want {
			t.Errorf("%s{gpu=0} = %v (present %v), want %v", tt.name, got, ok, tt.want)
		}
	}
	// The loaded card is hot and busy: the values are the real readings,
	// not zeros.
	if g0.TempC < 50 || g0.UtilPct < 90 || g0.PowerMW < 300_000 {
		t.Errorf("the simulated card is not under load: %+v", g0)
	}
	if used, free := g0.MemoryUsed>>20, (g0.MemoryTotal-g0.MemoryUsed)>>20; used+free > 24576 || used+free < 24575 {
		t.Errorf("FB used %d + free %d MiB is not the card's 24 GiB", used, free)
	}

	// The A100 has no fan: its fan speed is left out, not reported as 0.
	if !slices.Contains(g1.Missing, hw.FieldFan) {
		t.Fatalf("simulated A100 should miss its fan: %+v", g1)
	}
	if v, ok := value(t, fams, MetricFanSpeed, map[string]string{"gpu": "1"}); ok {
		t.Errorf("%s{gpu=1} = %v for a card without a fan; want no series", MetricFanSpeed, v)
	}
	if _, ok := value(t, fams, MetricGPUTemp, map[string]string{"gpu": "1"}); !ok {
		t.Errorf("%s{gpu=1} is missing", MetricGPUTemp)
	}

	agent := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{MetricConnected, nil, 1},
		{MetricPaused, nil, 1},
		{MetricInfo, map[string]string{"version": "1.4.0", "device_id": "dev_0123456789ab", "state": "online", "pause_reason": "you are playing", "verification": "verified", "tier": "gold"}, 1},
		{MetricEarningsRate, nil, 0.3125},
		{MetricVerified, nil, 1},
		{MetricGPUs, nil, 2},
		{MetricClusterNodes, map[string]string{"role": "head", "state": "running"}, 1},
		{MetricClusterNodes, map[string]string{"role": "worker", "state": "running"}, 2},
		{MetricClusterNodes, map[string]string{"role": "worker", "state": "failed"}, 1},
		{MetricClusterNodes, map[string]string{"role": "head", "state": "failed"}, 0},
	}
	for _, tt := range agent {
		got, ok := value(t, fams, tt.name, tt.labels)
		if !ok || got != tt.want {
			t.Errorf("%s%v = %v (present %v), want %v", tt.name, tt.labels, got, ok, tt.want)
		}
	}
	if n := len(fams[MetricClusterNodes].GetMetric()); n != 8 {
		t.Errorf("%s has %d series, want every role × state (8)", MetricClusterNodes, n)
	}
	// The Go and process collectors come along, as any exporter's do.
	if fams["go_goroutines"] == nil {
		t.Error("go_goroutines is missing")
	}
}

func TestMetricsOmitUnreadableSensors(t *testing.T) {
	snap := Snapshot{
		DeviceID: "dev_0123456789ab", State: "reconnecting",
		Samples: []hw.GPUSample{{
			Index: 0, UUID: "GPU-x", Name: "NVIDIA GeForce RTX 3060", TempC: 0, UtilPct: 0,
			Missing: []string{hw.FieldTemp, hw.FieldPower, hw.FieldPowerLimit, hw.FieldUtil, hw.FieldMemory, hw.FieldFan, hw.FieldSMClock},
		}},
	}
	addr := startServer(t, &Server{Host: "rig-01", Source: func() Snapshot { return snap }})
	fams := scrape(t, addr, "")
	for _, name := range []string{MetricGPUTemp, MetricPowerUsage, MetricPowerLimit, MetricGPUUtil, MetricFBUsed, MetricFBFree, MetricSMClock, MetricFanSpeed} {
		if f := fams[name]; f != nil && len(f.GetMetric()) > 0 {
			t.Errorf("%s reported for a sensor the card could not read", name)
		}
	}
	for name, want := range map[string]float64{MetricConnected: 0, MetricPaused: 0, MetricVerified: 0, MetricEarningsRate: 0, MetricGPUs: 1} {
		if got, ok := value(t, fams, name, nil); !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", name, got, ok, want)
		}
	}
}
