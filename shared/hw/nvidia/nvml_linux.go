//go:build linux && cgo

package nvidia

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/NVIDIA/go-nvml/pkg/nvml"

	"github.com/idlegrid/idlegrid/shared/hw"
)

// Open loads the NVIDIA driver's management library (libnvidia-ml.so.1)
// and inventories the GPUs. It never fails: a machine without a driver gets
// a probe whose Status says so in words, because "no GPU" is a state the
// app shows, not an error it handles.
func Open() hw.GPUProbe {
	return open(nvml.New())
}

// open is Open over any nvml.Interface, so tests can hand it
// go-nvml's mock instead of a driver. It calls only Init, Shutdown,
// SystemGetDriverVersion, DeviceGetCount and DeviceGetHandleByIndex on lib,
// and on each device the getters listed in inventory and sampleDevice: a mock
// must set exactly those.
func open(lib nvml.Interface) hw.GPUProbe {
	if ret := lib.Init(); ret != nvml.SUCCESS {
		return hw.None(initFailureReason(ret))
	}

	// The driver version is only shown to the user; a driver too old to
	// report it can still be sampled.
	driver, ret := lib.SystemGetDriverVersion()
	if ret != nvml.SUCCESS {
		driver = ""
	}

	count, ret := lib.DeviceGetCount()
	if ret != nvml.SUCCESS {
		_ = lib.Shutdown() // nothing to report it to: the reason below says why
		return &nvmlProbe{status: hw.GPUStatus{
			Driver: driver,
			Reason: fmt.Sprintf("the NVIDIA driver is running but could not list its GPUs (%v)", ret),
		}}
	}
	if count == 0 {
		_ = lib.Shutdown() // no card to sample, so nothing to keep the driver for
		return &nvmlProbe{status: hw.GPUStatus{
			Driver: driver,
			Reason: "the NVIDIA driver is running but reports no GPU",
		}}
	}

	p := &nvmlProbe{lib: lib, status: hw.GPUStatus{Available: true, Driver: driver}}
	var skipped []string
	for i := range count {
		g, dev, why := inventory(lib, i, driver)
		if why != "" {
			skipped = append(skipped, why)
			continue
		}
		p.gpus = append(p.gpus, g)
		p.devs = append(p.devs, dev)
	}
	if len(p.gpus) == 0 {
		// Nothing to sample: release the driver now rather than at Close,
		// which a caller holding a None-like probe may never call.
		_ = lib.Shutdown() // the skipped reasons already say what went wrong
		p.lib = nil
		p.status.Available = false
	}
	if len(skipped) > 0 {
		// Reason is also set when some cards work, so the user learns why a
		// card they can see in nvidia-smi is not offered.
		p.status.Reason = strings.Join(skipped, "; ")
	}
	return p
}

// inventory reads the identity of card i. A card without a UUID cannot be
// offered (the UUID is how jobs and the control plane name it), so it is
// skipped with a reason; a missing name or memory size is tolerated.
func inventory(lib nvml.Interface, i int, driver string) (hw.GPU, nvml.Device, string) {
	dev, ret := lib.DeviceGetHandleByIndex(i)
	if ret != nvml.SUCCESS {
		return hw.GPU{}, nil, fmt.Sprintf("GPU %d could not be opened (%v) and is not offered", i, ret)
	}
	uuid, ret := dev.GetUUID()
	if ret != nvml.SUCCESS {
		return hw.GPU{}, nil, fmt.Sprintf("GPU %d did not report its UUID (%v) and is not offered", i, ret)
	}
	g := hw.GPU{Index: i, UUID: uuid, Name: "NVIDIA GPU", Driver: driver}
	if name, ret := dev.GetName(); ret == nvml.SUCCESS {
		g.Name = name
	}
	if mem, ret := dev.GetMemoryInfo(); ret == nvml.SUCCESS {
		g.MemoryTotal = mem.Total
	}
	return g, dev, ""
}

// initFailureReason words an Init failure for the person at the machine:
// what is wrong and what to do about it, with NVML's code for support.
func initFailureReason(ret nvml.Return) string {
	switch ret {
	case nvml.ERROR_LIBRARY_NOT_FOUND:
		return "no NVIDIA driver found (libnvidia-ml.so.1 could not be loaded): install the NVIDIA driver to offer this GPU"
	case nvml.ERROR_DRIVER_NOT_LOADED:
		return "the NVIDIA driver is installed but not running (its kernel module is not loaded): reboot, or check that nvidia-smi works"
	case nvml.ERROR_NO_PERMISSION:
		return "not allowed to use the NVIDIA driver: check that this user can open /dev/nvidia*"
	case nvml.ERROR_LIB_RM_VERSION_MISMATCH:
		return "the NVIDIA driver library and kernel module have different versions, usually after a driver update: reboot to finish the update"
	default:
		return fmt.Sprintf("the NVIDIA driver could not be started (%v)", ret)
	}
}

// nvmlProbe samples the cards found by openNVML. gpus and devs are parallel
// and never change after open, so Sample needs no lock.
type nvmlProbe struct {
	lib    nvml.Interface // nil when nothing is left to shut down
	status hw.GPUStatus
	gpus   []hw.GPU
	devs   []nvml.Device

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

var _ hw.GPUProbe = (*nvmlProbe)(nil)

func (p *nvmlProbe) Status() hw.GPUStatus { return p.status }

// GPUs returns a copy so a caller cannot edit the inventory under Sample.
func (p *nvmlProbe) GPUs() []hw.GPU { return slices.Clone(p.gpus) }

// Sample reads every card. A sensor a card lacks is listed in Missing; a lost
// card fails the whole sample, because the guard must stop its jobs rather
// than keep charging for a card that is gone.
func (p *nvmlProbe) Sample(ctx context.Context) ([]hw.GPUSample, error) {
	if len(p.gpus) == 0 {
		return nil, nil
	}
	if p.closed.Load() {
		return nil, errors.New("sampling GPUs: the NVIDIA probe is closed")
	}
	out := make([]hw.GPUSample, 0, len(p.gpus))
	for i, g := range p.gpus {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("sampling GPUs: %w", err)
		}
		s, err := sampleDevice(g, p.devs[i])
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// Close shuts NVML down once; later calls return the first result.
func (p *nvmlProbe) Close() error {
	p.closeOnce.Do(func() {
		p.closed.Store(true)
		if p.lib == nil {
			return
		}
		if ret := p.lib.Shutdown(); ret != nvml.SUCCESS {
			p.closeErr = fmt.Errorf("shutting down NVML: %w", ret)
		}
	})
	return p.closeErr
}

// sampleDevice reads the live state of one card.
func sampleDevice(g hw.GPU, d nvml.Device) (hw.GPUSample, error) {
	s := hw.GPUSample{Index: g.Index, UUID: g.UUID, Name: g.Name, MemoryTotal: g.MemoryTotal}
	r := fieldReader{sample: &s}

	if v, ret := d.GetTemperature(nvml.TEMPERATURE_GPU); r.ok(hw.FieldTemp, ret) {
		s.TempC = int(v)
	}
	if v, ret := d.GetPowerUsage(); r.ok(hw.FieldPower, ret) {
		s.PowerMW = v
	}
	if v, ret := d.GetEnforcedPowerLimit(); r.ok(hw.FieldPowerLimit, ret) {
		s.PowerLimitMW = v
	}
	if v, ret := d.GetUtilizationRates(); r.ok(hw.FieldUtil, ret) {
		s.UtilPct = int(min(v.Gpu, 100))
	}
	if v, ret := d.GetMemoryInfo(); r.ok(hw.FieldMemory, ret) {
		s.MemoryUsed = v.Used
		if v.Total > 0 {
			s.MemoryTotal = v.Total
		}
	}
	if v, ret := d.GetFanSpeed(); r.ok(hw.FieldFan, ret) {
		s.FanPct = int(min(v, 100))
	}
	if v, ret := d.GetClockInfo(nvml.CLOCK_SM); r.ok(hw.FieldSMClock, ret) {
		s.SMClockMHz = int(v)
	}

	if r.fatal != nvml.SUCCESS {
		return hw.GPUSample{}, sampleError(g, r.fatal)
	}
	return s, nil
}

// fieldReader sorts NVML results field by field: success is read, a lost card
// or a dead driver is remembered as fatal, anything else (typically
// ERROR_NOT_SUPPORTED, e.g. the fan of a passively cooled card) marks the
// field Missing so 0 is never mistaken for a reading.
type fieldReader struct {
	sample *hw.GPUSample
	fatal  nvml.Return
}

func (r *fieldReader) ok(field string, ret nvml.Return) bool {
	switch ret {
	case nvml.SUCCESS:
		return true
	case nvml.ERROR_GPU_IS_LOST, nvml.ERROR_RESET_REQUIRED,
		nvml.ERROR_UNINITIALIZED, nvml.ERROR_DRIVER_NOT_LOADED:
		if r.fatal == nvml.SUCCESS {
			r.fatal = ret
		}
	default:
		r.sample.Missing = append(r.sample.Missing, field)
	}
	return false
}

// sampleError names the card so the user can find it in nvidia-smi.
func sampleError(g hw.GPU, ret nvml.Return) error {
	switch ret {
	case nvml.ERROR_GPU_IS_LOST, nvml.ERROR_RESET_REQUIRED:
		return fmt.Errorf("sampling GPU %d (%s, %s): %w: %w", g.Index, g.Name, g.UUID, hw.ErrGPULost, ret)
	default:
		return fmt.Errorf("sampling GPU %d (%s, %s): %w", g.Index, g.Name, g.UUID, ret)
	}
}
