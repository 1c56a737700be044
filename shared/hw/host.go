package hw

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/disk"
	"github.com/shirou/gopsutil/v4/host"
	"github.com/shirou/gopsutil/v4/mem"
	"github.com/shirou/gopsutil/v4/net"
)

// NewHost returns a probe of this machine through gopsutil. dataDir is the
// agent's data directory: disk figures are those of the file system holding
// it, since that is where job images and caches will land. It may be empty
// (no disk figures) or not exist yet (its nearest existing parent is used).
func NewHost(dataDir string) HostProbe {
	return &hostProbe{dataDir: dataDir}
}

type hostProbe struct {
	dataDir string
}

// Info describes the machine. A field gopsutil leaves empty (a CPU model
// inside some VMs, say) stays empty; only a failed read is an error.
func (h *hostProbe) Info(ctx context.Context) (HostInfo, error) {
	hi, err := host.InfoWithContext(ctx)
	if err != nil {
		return HostInfo{}, fmt.Errorf("reading host info: %w", err)
	}
	info := HostInfo{
		Hostname: hi.Hostname,
		OS:       hi.OS,
		Platform: strings.TrimSpace(hi.Platform + " " + hi.PlatformVersion),
		Kernel:   hi.KernelVersion,
		// GOARCH rather than the kernel's name ("x86_64"): it is the word
		// release builds and the control plane already use for a target.
		Arch: runtime.GOARCH,
	}
	if info.OS == "" {
		info.OS = runtime.GOOS
	}

	cpus, err := cpu.InfoWithContext(ctx)
	if err != nil {
		return HostInfo{}, fmt.Errorf("reading CPU info: %w", err)
	}
	if len(cpus) > 0 {
		info.CPUModel = strings.TrimSpace(cpus[0].ModelName)
	}
	if info.CPUCores, err = cpu.CountsWithContext(ctx, true); err != nil {
		return HostInfo{}, fmt.Errorf("counting CPUs: %w", err)
	}

	vm, err := mem.VirtualMemoryWithContext(ctx)
	if err != nil {
		return HostInfo{}, fmt.Errorf("reading memory: %w", err)
	}
	info.MemTotal = vm.Total
	return info, nil
}

// Sample reads the machine's live state. CPU use is measured since the
// previous call (gopsutil keeps the last reading process-wide), so the first
// call reports the average since the process started, and no call blocks.
func (h *hostProbe) Sample(ctx context.Context) (HostSample, error) {
	var s HostSample

	pct, err := cpu.PercentWithContext(ctx, 0, false)
	if err != nil {
		return HostSample{}, fmt.Errorf("reading CPU use: %w", err)
	}
	if len(pct) > 0 {
		s.CPUPct = min(max(pct[0], 0), 100)
	}

	vm, err := mem.VirtualMemoryWithContext(ctx)
	if err != nil {
		return HostSample{}, fmt.Errorf("reading memory: %w", err)
	}
	s.MemTotal, s.MemUsed = vm.Total, vm.Used

	if h.dataDir != "" {
		dir, err := existingDir(h.dataDir)
		if err != nil {
			return HostSample{}, fmt.Errorf("finding the data directory: %w", err)
		}
		du, err := disk.UsageWithContext(ctx, dir)
		if err != nil {
			return HostSample{}, fmt.Errorf("reading disk usage of %s: %w", dir, err)
		}
		s.DiskTotal, s.DiskUsed = du.Total, du.Used
	}

	nics, err := net.IOCountersWithContext(ctx, true)
	if err != nil {
		return HostSample{}, fmt.Errorf("reading network counters: %w", err)
	}
	for _, n := range nics {
		if isLoopback(n.Name) {
			continue // traffic to itself is not traffic a supplier pays for
		}
		s.NetRx += n.BytesRecv
		s.NetTx += n.BytesSent
	}

	if s.UptimeS, err = host.UptimeWithContext(ctx); err != nil {
		return HostSample{}, fmt.Errorf("reading uptime: %w", err)
	}
	return s, nil
}

// existingDir returns dir, or its nearest existing ancestor when dir is not
// created yet: the agent samples before it first writes there, and the
// ancestor lives on the same file system in all but exotic mount layouts.
func existingDir(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		_, err := os.Stat(dir)
		if err == nil {
			return dir, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", err
		}
		dir = parent
	}
}

// isLoopback matches Linux's "lo" and the BSDs' and macOS's "lo0".
func isLoopback(name string) bool {
	if name == "lo" {
		return true
	}
	rest, ok := strings.CutPrefix(name, "lo")
	if !ok || rest == "" {
		return false
	}
	for _, r := range rest {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
