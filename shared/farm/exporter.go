package farm

import (
	"slices"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/idlegrid/idlegrid/shared/hw"
	"github.com/idlegrid/idlegrid/shared/proto"
)

// GPU metric names and units are the NVIDIA DCGM exporter's, so dashboards
// and alert rules written for it chart rigs running the agent unchanged.
const (
	MetricGPUTemp    = "DCGM_FI_DEV_GPU_TEMP"         // °C
	MetricPowerUsage = "DCGM_FI_DEV_POWER_USAGE"      // W
	MetricPowerLimit = "DCGM_FI_DEV_POWER_MGMT_LIMIT" // W
	MetricGPUUtil    = "DCGM_FI_DEV_GPU_UTIL"         // %
	MetricFBUsed     = "DCGM_FI_DEV_FB_USED"          // MiB
	MetricFBFree     = "DCGM_FI_DEV_FB_FREE"          // MiB
	MetricSMClock    = "DCGM_FI_DEV_SM_CLOCK"         // MHz
	MetricFanSpeed   = "DCGM_FI_DEV_FAN_SPEED"        // %
)

// The agent's own metrics.
const (
	MetricConnected    = "idlegrid_agent_connected"
	MetricPaused       = "idlegrid_agent_paused"
	MetricInfo         = "idlegrid_agent_info"
	MetricEarningsRate = "idlegrid_agent_earnings_rate_usd_per_hour"
	MetricVerified     = "idlegrid_agent_verified"
	MetricClusterNodes = "idlegrid_agent_cluster_nodes"
	MetricGPUs         = "idlegrid_agent_gpus"
)

// Labels of the GPU metrics. gpu, UUID, device, modelName and Hostname are
// the DCGM exporter's own, with the same meaning: device is the card's
// device node name ("nvidia0"), as DCGM sets it. Our device id goes in
// device_id, on the GPU metrics and on idlegrid_agent_info, so the two join.
var gpuLabels = []string{"gpu", "UUID", "device", "modelName", "Hostname", "device_id"}

// Exporter is a prometheus.Collector that reads its Source at scrape time:
// nothing is cached, so a scrape always sees the monitor's newest sample.
type Exporter struct {
	src  Source
	host string

	gpuTemp, power, powerLimit, util, fbUsed, fbFree, smClock, fan *prometheus.Desc

	connected, paused, info, earnings, verified, nodes, gpus *prometheus.Desc
}

var _ prometheus.Collector = (*Exporter)(nil)

// NewExporter returns a collector of src's snapshots; host is the Hostname
// label of the GPU metrics.
func NewExporter(src Source, host string) *Exporter {
	gpu := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, gpuLabels, nil)
	}
	plain := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	return &Exporter{
		src:  src,
		host: host,

		gpuTemp:    gpu(MetricGPUTemp, "GPU temperature (in C)."),
		power:      gpu(MetricPowerUsage, "Power draw (in W)."),
		powerLimit: gpu(MetricPowerLimit, "Enforced power limit (in W)."),
		util:       gpu(MetricGPUUtil, "GPU utilization (in %)."),
		fbUsed:     gpu(MetricFBUsed, "Framebuffer memory used (in MiB)."),
		fbFree:     gpu(MetricFBFree, "Framebuffer memory free (in MiB)."),
		smClock:    gpu(MetricSMClock, "SM clock frequency (in MHz)."),
		fan:        gpu(MetricFanSpeed, "Fan speed (in %)."),

		connected: plain(MetricConnected, "1 when the agent is connected to the control plane."),
		paused:    plain(MetricPaused, "1 when the supplier paused this device; the reason is a label of idlegrid_agent_info."),
		info: plain(MetricInfo, "Always 1; the labels describe the agent.",
			"version", "device_id", "state", "pause_reason", "verification", "tier"),
		earnings: plain(MetricEarningsRate, "What the device earns per hour at its tier, in USD, before supply and demand."),
		verified: plain(MetricVerified, "1 when the control plane verified the device's GPUs."),
		nodes:    plain(MetricClusterNodes, "Cluster nodes this device runs, by role and state.", "role", "state"),
		gpus:     plain(MetricGPUs, "GPUs that answered in the newest sample."),
	}
}

// Describe implements prometheus.Collector.
func (e *Exporter) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		e.gpuTemp, e.power, e.powerLimit, e.util, e.fbUsed, e.fbFree, e.smClock, e.fan,
		e.connected, e.paused, e.info, e.earnings, e.verified, e.nodes, e.gpus,
	} {
		ch <- d
	}
}

const mib = 1 << 20

// Collect implements prometheus.Collector.
func (e *Exporter) Collect(ch chan<- prometheus.Metric) {
	if e.src == nil {
		return
	}
	s := e.src()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}

	for _, g := range s.Samples {
		labels := []string{strconv.Itoa(g.Index), g.UUID, "nvidia" + strconv.Itoa(g.Index), g.Name, e.host, s.DeviceID}
		// A sensor the card would not report is left out, not sent as 0:
		// a gap in the chart is the truth, a zero would be a lie.
		has := func(field string) bool { return !slices.Contains(g.Missing, field) }
		if has(hw.FieldTemp) {
			gauge(e.gpuTemp, float64(g.TempC), labels...)
		}
		if has(hw.FieldPower) {
			gauge(e.power, float64(g.PowerMW)/1000, labels...)
		}
		if has(hw.FieldPowerLimit) {
			gauge(e.powerLimit, float64(g.PowerLimitMW)/1000, labels...)
		}
		if has(hw.FieldUtil) {
			gauge(e.util, float64(g.UtilPct), labels...)
		}
		if has(hw.FieldMemory) {
			gauge(e.fbUsed, float64(g.MemoryUsed/mib), labels...)
			gauge(e.fbFree, float64((g.MemoryTotal-min(g.MemoryUsed, g.MemoryTotal))/mib), labels...)
		}
		if has(hw.FieldSMClock) {
			gauge(e.smClock, float64(g.SMClockMHz), labels...)
		}
		if has(hw.FieldFan) {
			gauge(e.fan, float64(g.FanPct), labels...)
		}
	}

	gauge(e.connected, boolValue(s.Connected))
	gauge(e.paused, boolValue(s.Paused))
	gauge(e.info, 1, s.Version, s.DeviceID, s.State, s.PauseReason, s.Verification, s.Tier)
	// A gauge is a float by nature; the balance itself stays in integer
	// micro-USD everywhere else.
	gauge(e.earnings, float64(s.EarnsPerHour)/1e6)
	gauge(e.verified, boolValue(s.Verified))
	gauge(e.gpus, float64(len(s.Samples)))

	// Every role and state is sent, zeros too, so a sum over rigs never
	// loses a series when the last node of a kind stops.
	for _, role := range []string{proto.RoleHead, proto.RoleWorker} {
		for _, state := range []string{proto.RuntimeStarting, proto.RuntimeRunning, proto.RuntimeStopped, proto.RuntimeFailed} {
			n := 0
			for _, r := range s.Runtimes {
				if r.Role == role && r.State == state {
					n++
				}
			}
			gauge(e.nodes, float64(n), role, state)
		}
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
