package hw

import (
	"context"
	"errors"
)

// Names used in GPUSample.Missing. They are constants so the UI and the
// guard can test for a specific sensor without matching free text.
const (
	FieldTemp       = "temp"
	FieldPower      = "power"
	FieldPowerLimit = "power_limit"
	FieldUtil       = "util"
	FieldMemory     = "memory"
	FieldFan        = "fan"
	FieldSMClock    = "sm_clock"
)

// ErrGPULost is wrapped by Sample when a card stopped answering (NVML's
// "GPU is lost"): jobs on it are gone and only a reset or reboot brings it
// back, so callers must treat it differently from a sensor that is missing.
// It lives here, not in the NVML file, so callers on every platform can test
// for it with errors.Is.
var ErrGPULost = errors.New("GPU is lost (it stopped answering the driver; a reset or reboot is needed)")

// None returns a probe that has no GPUs and says why in reason. It is what a
// machine without a usable NVIDIA driver gets: "no GPU" is a state to show,
// not an error to handle.
func None(reason string) GPUProbe {
	return noneProbe{reason: reason}
}

type noneProbe struct {
	reason string
}

func (p noneProbe) Status() GPUStatus {
	return GPUStatus{Available: false, Reason: p.reason}
}

func (noneProbe) GPUs() []GPU { return nil }

func (noneProbe) Sample(context.Context) ([]GPUSample, error) { return nil, nil }

func (noneProbe) Close() error { return nil }
