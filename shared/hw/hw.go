// Package hw probes the hardware a supplier offers: NVIDIA GPUs through NVML
// (go-nvml), the host through gopsutil, and simulated GPUs for demos and
// tests. "No GPU" is a state a probe reports in words, never an error.
package hw

import (
	"context"
)

// GPU is one graphics card as inventoried once at start-up.
type GPU struct {
	Index       int    `json:"index"`
	UUID        string `json:"uuid"`
	Name        string `json:"name"`
	MemoryTotal uint64 `json:"memory_total"` // bytes
	Driver      string `json:"driver,omitempty"`
	Simulated   bool   `json:"simulated,omitempty"`
}

// GPUSample is one reading of a GPU's live state. Zero is a valid reading for
// every field; a sensor that cannot be read is reported through Missing.
type GPUSample struct {
	Index        int    `json:"index"`
	UUID         string `json:"uuid"`
	Name         string `json:"name"`
	MemoryTotal  uint64 `json:"memory_total"` // bytes
	MemoryUsed   uint64 `json:"memory_used"`  // bytes
	TempC        int    `json:"temp_c"`
	PowerMW      uint32 `json:"power_mw"`       // current draw, milliwatts
	PowerLimitMW uint32 `json:"power_limit_mw"` // enforced limit, milliwatts
	UtilPct      int    `json:"util_pct"`       // 0..100
	FanPct       int    `json:"fan_pct"`        // 0..100
	SMClockMHz   int    `json:"sm_clock_mhz"`
	// Missing names the fields the driver would not report (e.g. "fan" on a
	// passively cooled card), so "0" is never mistaken for "unknown".
	Missing []string `json:"missing,omitempty"`
}

// GPUStatus says whether GPU telemetry is available, and if not, why, in
// words a user can act on.
type GPUStatus struct {
	Available bool   `json:"available"`
	Driver    string `json:"driver,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

// GPUProbe reads GPUs. Implementations: NVML (linux+cgo), Sim, and None.
type GPUProbe interface {
	// Status reports whether GPUs can be read at all.
	Status() GPUStatus
	// GPUs lists the cards found at Open time (empty when none).
	GPUs() []GPU
	// Sample reads every GPU now.
	Sample(ctx context.Context) ([]GPUSample, error)
	// Close releases the driver.
	Close() error
}

// HostInfo is the host's static description.
type HostInfo struct {
	Hostname string `json:"hostname"`
	OS       string `json:"os"`       // e.g. "linux"
	Platform string `json:"platform"` // e.g. "debian 12.7"
	Kernel   string `json:"kernel"`
	Arch     string `json:"arch"`
	CPUModel string `json:"cpu_model"`
	CPUCores int    `json:"cpu_cores"` // logical
	MemTotal uint64 `json:"mem_total"` // bytes
}

// HostSample is one reading of the host's live state.
type HostSample struct {
	CPUPct    float64 `json:"cpu_pct"` // 0..100, all cores
	MemTotal  uint64  `json:"mem_total"`
	MemUsed   uint64  `json:"mem_used"`
	DiskTotal uint64  `json:"disk_total"` // of the agent's data dir
	DiskUsed  uint64  `json:"disk_used"`
	NetRx     uint64  `json:"net_rx"` // bytes since boot, all interfaces but loopback
	NetTx     uint64  `json:"net_tx"`
	UptimeS   uint64  `json:"uptime_s"` // seconds since boot
}

// HostProbe reads the host.
type HostProbe interface {
	Info(ctx context.Context) (HostInfo, error)
	Sample(ctx context.Context) (HostSample, error)
}

// GPUProcess is a process using a GPU.
type GPUProcess struct {
	PID        int    `json:"pid"`
	Name       string `json:"name"`
	GPU        int    `json:"gpu"`
	MemoryUsed uint64 `json:"memory_used"`
}

// ProcessLister lists processes running on the GPUs. The guard uses it to
// step aside when a game or another program takes the card.
type ProcessLister interface {
	GPUProcesses(ctx context.Context) ([]GPUProcess, error)
}

// PowerLimiter caps a card's power draw, where the driver allows it.
type PowerLimiter interface {
	GPUs() []GPU
	// SetPowerLimit applies a limit in milliwatts, clamped to what the card
	// supports, and returns the limit applied.
	SetPowerLimit(index int, mW uint32) (uint32, error)
}
