//go:build linux && cgo

package nvidia

import (
	"os"
	"strings"
	"testing"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

func TestGPUProcessesListsGamesAndComputeOnce(t *testing.T) {
	d := mockDevice(t, "GPU-aaaa")
	self := uint32(os.Getpid())
	d.GetComputeRunningProcessesFunc = func() ([]nvml.ProcessInfo, nvml.Return) {
		return []nvml.ProcessInfo{{Pid: self, UsedGpuMemory: 1 << 30}}, nvml.SUCCESS
	}
	d.GetGraphicsRunningProcessesFunc = func() ([]nvml.ProcessInfo, nvml.Return) {
		return []nvml.ProcessInfo{{Pid: self, UsedGpuMemory: 1 << 30}, {Pid: 999999999, UsedGpuMemory: 2 << 30}}, nvml.SUCCESS
	}
	p := open(mockLib(d)).(*nvmlProbe)
	procs, err := p.GPUProcesses(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(procs) != 2 {
		t.Fatalf("got %d processes %+v, want 2 (one PID listed twice counts once)", len(procs), procs)
	}
	if procs[0].PID != int(self) || procs[0].Name == "" || strings.HasPrefix(procs[0].Name, "pid ") {
		t.Errorf("our own process is %+v, want its command name", procs[0])
	}
	if procs[1].Name != "pid 999999999" || procs[1].MemoryUsed != 2<<30 {
		t.Errorf("an unreadable process is %+v, want it named by PID with its memory", procs[1])
	}
}

func TestSetPowerLimitClampsAndExplainsPermission(t *testing.T) {
	cases := []struct {
		name    string
		ask     uint32
		ret     nvml.Return
		want    uint32
		errHave string
	}{
		{"within range", 300_000, nvml.SUCCESS, 300_000, ""},
		{"below the card's minimum", 10_000, nvml.SUCCESS, 150_000, ""},
		{"above the card's maximum", 900_000, nvml.SUCCESS, 600_000, ""},
		{"not root", 300_000, nvml.ERROR_NO_PERMISSION, 0, "administrator rights"},
		{"not supported", 300_000, nvml.ERROR_NOT_SUPPORTED, 0, "does not support"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := mockDevice(t, "GPU-aaaa")
			var set uint32
			d.GetPowerManagementLimitConstraintsFunc = func() (uint32, uint32, nvml.Return) { return 150_000, 600_000, nvml.SUCCESS }
			d.SetPowerManagementLimitFunc = func(mW uint32) nvml.Return { set = mW; return tc.ret }
			p := open(mockLib(d)).(*nvmlProbe)
			got, err := p.SetPowerLimit(0, tc.ask)
			if tc.errHave != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errHave) {
					t.Fatalf("err = %v, want it to say %q", err, tc.errHave)
				}
				return
			}
			if err != nil || got != tc.want || set != tc.want {
				t.Fatalf("SetPowerLimit(%d) = %d, %v (driver got %d); want %d", tc.ask, got, err, set, tc.want)
			}
		})
	}
}
