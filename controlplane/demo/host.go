package demo

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/idlegrid/idlegrid/shared/hw"
)

// simHost is a made-up host for a demo rig, so demo devices don't all report
// the control plane's own machine.
type simHost struct {
	info  hw.HostInfo
	mu    sync.Mutex
	rng   *rand.Rand
	rx    uint64
	tx    uint64
	start time.Time
}

func newSimHost(name string, seed int64) *simHost {
	cores := []int{8, 12, 16, 24, 32}[seed%5]
	return &simHost{
		info: hw.HostInfo{Hostname: name, OS: "linux", Platform: "ubuntu 24.04 (simulated)", Kernel: "6.8.0",
			Arch: "amd64", CPUModel: "Simulated CPU", CPUCores: cores, MemTotal: uint64(cores) * 4 << 30},
		rng:   rand.New(rand.NewPCG(uint64(seed), 11)),
		start: time.Now(),
	}
}

func (h *simHost) Info(context.Context) (hw.HostInfo, error) { return h.info, nil }

func (h *simHost) Sample(context.Context) (hw.HostSample, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.rx += uint64(h.rng.IntN(4 << 20))
	h.tx += uint64(h.rng.IntN(1 << 20))
	return hw.HostSample{
		CPUPct: 3 + h.rng.Float64()*20, MemTotal: h.info.MemTotal, MemUsed: h.info.MemTotal / 4,
		DiskTotal: 1 << 40, DiskUsed: 300 << 30, NetRx: h.rx, NetTx: h.tx,
		UptimeS: uint64(time.Since(h.start).Seconds()),
	}, nil
}
