//go:build linux && cgo

package nvidia

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/NVIDIA/go-nvml/pkg/nvml"

	"github.com/idlegrid/idlegrid/shared/hw"
)

var (
	_ hw.ProcessLister = (*nvmlProbe)(nil)
	_ hw.PowerLimiter  = (*nvmlProbe)(nil)
)

// GPUProcesses lists compute and graphics processes on every card (a game
// shows up as a graphics process), de-duplicated per card and PID.
func (p *nvmlProbe) GPUProcesses(ctx context.Context) ([]hw.GPUProcess, error) {
	if p.closed.Load() {
		return nil, errors.New("listing GPU processes: the NVIDIA probe is closed")
	}
	var out []hw.GPUProcess
	for i, d := range p.devs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		seen := map[uint32]bool{}
		for _, list := range []func() ([]nvml.ProcessInfo, nvml.Return){d.GetComputeRunningProcesses, d.GetGraphicsRunningProcesses} {
			infos, ret := list()
			if ret == nvml.ERROR_NOT_SUPPORTED {
				continue
			}
			if ret != nvml.SUCCESS {
				return nil, fmt.Errorf("listing processes on GPU %d: %s", p.gpus[i].Index, nvml.ErrorString(ret))
			}
			for _, info := range infos {
				if seen[info.Pid] {
					continue
				}
				seen[info.Pid] = true
				out = append(out, hw.GPUProcess{PID: int(info.Pid), Name: processName(int(info.Pid)), GPU: p.gpus[i].Index, MemoryUsed: info.UsedGpuMemory})
			}
		}
	}
	return out, nil
}

// processName reads a PID's command name; a process we may not inspect
// (another user's) is still named by its PID.
func processName(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if err != nil {
		return "pid " + strconv.Itoa(pid)
	}
	return strings.TrimSpace(string(b))
}

// SetPowerLimit caps card index at mW, clamped to the card's allowed range.
// NVML requires administrator rights for this; without them the error says
// so.
func (p *nvmlProbe) SetPowerLimit(index int, mW uint32) (uint32, error) {
	if index < 0 || index >= len(p.devs) {
		return 0, fmt.Errorf("no GPU %d", index)
	}
	d := p.devs[index]
	lo, hi, ret := d.GetPowerManagementLimitConstraints()
	if ret != nvml.SUCCESS {
		return 0, fmt.Errorf("GPU %d: reading its power range: %s", index, nvml.ErrorString(ret))
	}
	mW = max(lo, min(hi, mW))
	switch ret := d.SetPowerManagementLimit(mW); ret {
	case nvml.SUCCESS:
		return mW, nil
	case nvml.ERROR_NO_PERMISSION:
		return 0, fmt.Errorf("GPU %d: capping power needs administrator rights", index)
	case nvml.ERROR_NOT_SUPPORTED:
		return 0, fmt.Errorf("GPU %d does not support a power cap", index)
	default:
		return 0, fmt.Errorf("GPU %d: setting its power cap: %s", index, nvml.ErrorString(ret))
	}
}
