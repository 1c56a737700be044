//go:build linux && cgo

package nvidia

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock"

	"github.com/idlegrid/idlegrid/shared/hw"
)

const testDriver = "570.86.15"

// mockDevice is a healthy RTX 4090 under load. Every getter openNVML and
// Sample call is set, because the mock panics on an unset one.
func mockDevice(t testing.TB, uuid string) *mock.Device {
	t.Helper()
	return &mock.Device{
		GetUUIDFunc: func() (string, nvml.Return) { return uuid, nvml.SUCCESS },
		GetNameFunc: func() (string, nvml.Return) { return "NVIDIA GeForce RTX 4090", nvml.SUCCESS },
		GetMemoryInfoFunc: func() (nvml.Memory, nvml.Return) {
			return nvml.Memory{Total: 24 << 30, Used: 6 << 30, Free: 18 << 30}, nvml.SUCCESS
		},
		GetTemperatureFunc: func(s nvml.TemperatureSensors) (uint32, nvml.Return) {
			if s != nvml.TEMPERATURE_GPU {
				t.Errorf("GetTemperature(%v), want the GPU sensor", s)
			}
			return 67, nvml.SUCCESS
		},
		GetPowerUsageFunc:         func() (uint32, nvml.Return) { return 312_500, nvml.SUCCESS },
		GetEnforcedPowerLimitFunc: func() (uint32, nvml.Return) { return 450_000, nvml.SUCCESS },
		GetUtilizationRatesFunc: func() (nvml.Utilization, nvml.Return) {
			return nvml.Utilization{Gpu: 93, Memory: 40}, nvml.SUCCESS
		},
		GetFanSpeedFunc: func() (uint32, nvml.Return) { return 71, nvml.SUCCESS },
		GetClockInfoFunc: func(c nvml.ClockType) (uint32, nvml.Return) {
			if c != nvml.CLOCK_SM {
				t.Errorf("GetClockInfo(%v), want the SM clock", c)
			}
			return 2520, nvml.SUCCESS
		},
	}
}

// mockLib is a driver that initialises and serves devs by index.
func mockLib(devs ...*mock.Device) *mock.Interface {
	return &mock.Interface{
		InitFunc:                   func() nvml.Return { return nvml.SUCCESS },
		ShutdownFunc:               func() nvml.Return { return nvml.SUCCESS },
		SystemGetDriverVersionFunc: func() (string, nvml.Return) { return testDriver, nvml.SUCCESS },
		DeviceGetCountFunc:         func() (int, nvml.Return) { return len(devs), nvml.SUCCESS },
		DeviceGetHandleByIndexFunc: func(i int) (nvml.Device, nvml.Return) {
			if i < 0 || i >= len(devs) {
				return nil, nvml.ERROR_INVALID_ARGUMENT
			}
			return devs[i], nvml.SUCCESS
		},
	}
}

func TestNVMLReadsEveryField(t *testing.T) {
	lib := mockLib(mockDevice(t, "GPU-aaaa"), mockDevice(t, "GPU-bbbb"))
	p := open(lib)

	if got, want := p.Status(), (hw.GPUStatus{Available: true, Driver: testDriver}); got != want {
		t.Errorf("Status() = %+v, want %+v", got, want)
	}
	wantGPUs := []hw.GPU{
		{Index: 0, UUID: "GPU-aaaa", Name: "NVIDIA GeForce RTX 4090", MemoryTotal: 24 << 30, Driver: testDriver},
		{Index: 1, UUID: "GPU-bbbb", Name: "NVIDIA GeForce RTX 4090", MemoryTotal: 24 << 30, Driver: testDriver},
	}
	if got := p.GPUs(); !reflect.DeepEqual(got, wantGPUs) {
		t.Errorf("GPUs() = %+v, want %+v", got, wantGPUs)
	}

	got, err := p.Sample(context.Background())
	if err != nil {
		t.Fatalf("Sample: %v", err)
	}
	want := []hw.GPUSample{
		{Index: 0, UUID: "GPU-aaaa", Name: "NVIDIA GeForce RTX 4090", MemoryTotal: 24 << 30, MemoryUsed: 6 << 30,
			TempC: 67, PowerMW: 312_500, PowerLimitMW: 450_000, UtilPct: 93, FanPct: 71, SMClockMHz: 2520},
		{Index: 1, UUID: "GPU-bbbb", Name: "NVIDIA GeForce RTX 4090", MemoryTotal: 24 << 30, MemoryUsed: 6 << 30,
			TempC: 67, PowerMW: 312_500, PowerLimitMW: 450_000, UtilPct: 93, FanPct: 71, SMClockMHz: 2520},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Sample() =\n%+v\nwant\n%+v", got, want)
	}

	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if n := len(lib.ShutdownCalls()); n != 1 {
		t.Errorf("Shutdown called %d times, want once", n)
	}
	if _, err := p.Sample(context.Background()); err == nil {
		t.Error("Sample after Close succeeded, want an error")
	}
}

func TestNVMLUnreadableSensorIsMissing(t *testing.T) {
	tests := []struct {
		name  string
		spoil func(d *mock.Device)
		field string
	}{
		{"passive card has no fan", func(d *mock.Device) {
			d.GetFanSpeedFunc = func() (uint32, nvml.Return) { return 0, nvml.ERROR_NOT_SUPPORTED }
		}, hw.FieldFan},
		{"no power sensor", func(d *mock.Device) {
			d.GetPowerUsageFunc = func() (uint32, nvml.Return) { return 0, nvml.ERROR_NOT_SUPPORTED }
		}, hw.FieldPower},
		{"power limit not allowed", func(d *mock.Device) {
			d.GetEnforcedPowerLimitFunc = func() (uint32, nvml.Return) { return 0, nvml.ERROR_NO_PERMISSION }
		}, hw.FieldPowerLimit},
		{"temperature unknown", func(d *mock.Device) {
			d.GetTemperatureFunc = func(nvml.TemperatureSensors) (uint32, nvml.Return) { return 0, nvml.ERROR_UNKNOWN }
		}, hw.FieldTemp},
		{"utilisation not supported", func(d *mock.Device) {
			d.GetUtilizationRatesFunc = func() (nvml.Utilization, nvml.Return) { return nvml.Utilization{}, nvml.ERROR_NOT_SUPPORTED }
		}, hw.FieldUtil},
		{"clock not supported", func(d *mock.Device) {
			d.GetClockInfoFunc = func(nvml.ClockType) (uint32, nvml.Return) { return 0, nvml.ERROR_NOT_SUPPORTED }
		}, hw.FieldSMClock},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := mockDevice(t, "GPU-aaaa")
			tt.spoil(d)
			p := open(mockLib(d))
			defer p.Close()

			got, err := p.Sample(context.Background())
			if err != nil {
				t.Fatalf("Sample: %v, want a sample with %q missing", err, tt.field)
			}
			if len(got) != 1 {
				t.Fatalf("Sample returned %d GPUs, want 1", len(got))
			}
			if want := []string{tt.field}; !reflect.DeepEqual(got[0].Missing, want) {
				t.Errorf("Missing = %q, want %q", got[0].Missing, want)
			}
			// The other fields are still read.
			if tt.field != hw.FieldTemp && got[0].TempC != 67 {
				t.Errorf("TempC = %d, want 67", got[0].TempC)
			}
			if tt.field != hw.FieldSMClock && got[0].SMClockMHz != 2520 {
				t.Errorf("SMClockMHz = %d, want 2520", got[0].SMClockMHz)
			}
		})
	}
}

func TestNVMLInitFailureIsAState(t *testing.T) {
	tests := []struct {
		name       string
		ret        nvml.Return
		wantReason []string
	}{
		{"no driver", nvml.ERROR_LIBRARY_NOT_FOUND, []string{"no NVIDIA driver found", "libnvidia-ml.so.1", "install the NVIDIA driver"}},
		{"kernel module not loaded", nvml.ERROR_DRIVER_NOT_LOADED, []string{"not running", "reboot"}},
		{"no permission", nvml.ERROR_NO_PERMISSION, []string{"not allowed", "/dev/nvidia"}},
		{"half-updated driver", nvml.ERROR_LIB_RM_VERSION_MISMATCH, []string{"different versions", "reboot"}},
		{"anything else", nvml.ERROR_UNKNOWN, []string{"could not be started", "ERROR_UNKNOWN"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lib := mockLib()
			lib.InitFunc = func() nvml.Return { return tt.ret }
			p := open(lib)

			st := p.Status()
			if st.Available {
				t.Errorf("Status().Available = true after Init returned %v", tt.ret)
			}
			for _, w := range tt.wantReason {
				if !strings.Contains(st.Reason, w) {
					t.Errorf("Reason = %q, want it to contain %q", st.Reason, w)
				}
			}
			if g := p.GPUs(); len(g) != 0 {
				t.Errorf("GPUs() = %v, want none", g)
			}
			if s, err := p.Sample(context.Background()); s != nil || err != nil {
				t.Errorf("Sample() = %v, %v; want nil, nil", s, err)
			}
			if err := p.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			if n := len(lib.ShutdownCalls()); n != 0 {
				t.Errorf("Shutdown called %d times after a failed Init, want 0", n)
			}
		})
	}
}

func TestNVMLNoCardsIsAState(t *testing.T) {
	lib := mockLib()
	p := open(lib)
	st := p.Status()
	if st.Available || st.Driver != testDriver || !strings.Contains(st.Reason, "no GPU") {
		t.Errorf("Status() = %+v, want unavailable, driver %s, a reason saying no GPU", st, testDriver)
	}
	if err := p.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if n := len(lib.ShutdownCalls()); n != 1 {
		t.Errorf("Shutdown called %d times, want once (at open)", n)
	}
}

func TestNVMLSkipsCardItCannotOpen(t *testing.T) {
	lib := mockLib(mockDevice(t, "GPU-aaaa"), mockDevice(t, "GPU-bbbb"))
	lib.DeviceGetHandleByIndexFunc = func(i int) (nvml.Device, nvml.Return) {
		if i == 0 {
			return nil, nvml.ERROR_NO_PERMISSION
		}
		return mockDevice(t, "GPU-bbbb"), nvml.SUCCESS
	}
	p := open(lib)
	defer p.Close()

	st := p.Status()
	if !st.Available || !strings.Contains(st.Reason, "GPU 0") {
		t.Errorf("Status() = %+v, want available with a reason naming GPU 0", st)
	}
	g := p.GPUs()
	if len(g) != 1 || g[0].Index != 1 || g[0].UUID != "GPU-bbbb" {
		t.Fatalf("GPUs() = %+v, want only GPU 1", g)
	}
	s, err := p.Sample(context.Background())
	if err != nil || len(s) != 1 || s[0].Index != 1 {
		t.Errorf("Sample() = %+v, %v; want one sample of GPU 1", s, err)
	}
}

func TestNVMLLostCardFailsTheSample(t *testing.T) {
	lost := mockDevice(t, "GPU-bbbb")
	lost.GetTemperatureFunc = func(nvml.TemperatureSensors) (uint32, nvml.Return) { return 0, nvml.ERROR_GPU_IS_LOST }
	lost.GetPowerUsageFunc = func() (uint32, nvml.Return) { return 0, nvml.ERROR_GPU_IS_LOST }
	p := open(mockLib(mockDevice(t, "GPU-aaaa"), lost))
	defer p.Close()

	s, err := p.Sample(context.Background())
	if err == nil {
		t.Fatalf("Sample() = %+v, nil; want an error for the lost GPU", s)
	}
	if !errors.Is(err, hw.ErrGPULost) || !errors.Is(err, nvml.ERROR_GPU_IS_LOST) {
		t.Errorf("error %q is not ErrGPULost and ERROR_GPU_IS_LOST", err)
	}
	for _, w := range []string{"GPU 1", "GPU-bbbb", "NVIDIA GeForce RTX 4090"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not name the card (%q)", err, w)
		}
	}
}

func TestNVMLSampleHonoursContext(t *testing.T) {
	p := open(mockLib(mockDevice(t, "GPU-aaaa")))
	defer p.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.Sample(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Sample(cancelled ctx) error = %v, want context.Canceled", err)
	}
}

// TestOpenOnThisMachine loads the real library. On a machine without a
// driver (CI, this container) it must report that in words, not crash; on
// one with a driver it must list and read the cards.
func TestOpenOnThisMachine(t *testing.T) {
	p := Open()
	defer func() {
		if err := p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()
	st := p.Status()
	if !st.Available {
		if st.Reason == "" {
			t.Error("Status() is unavailable with no reason")
		}
		if g := p.GPUs(); len(g) != 0 {
			t.Errorf("GPUs() = %v while unavailable", g)
		}
		if s, err := p.Sample(context.Background()); s != nil || err != nil {
			t.Errorf("Sample() = %v, %v; want nil, nil", s, err)
		}
		t.Logf("no NVIDIA GPU here: %s", st.Reason)
		return
	}
	if len(p.GPUs()) == 0 {
		t.Fatal("Status() is available but GPUs() is empty")
	}
	s, err := p.Sample(context.Background())
	if err != nil || len(s) != len(p.GPUs()) {
		t.Fatalf("Sample() = %d samples, %v; want one per GPU", len(s), err)
	}
}
