//go:build linux || windows

package bench

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// Without the driver, the GPU benchmark is a worded state: no error, no
// panic, no figure.
func TestGPUWithoutDriverIsSkipped(t *testing.T) {
	opt := quick(t)
	rep, err := Run(context.Background(), []Kind{GPU}, opt, nil)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	r := rep.Results[0]
	if want := "no NVIDIA CUDA driver (" + missingCUDALibrary + " not found)"; r.Skipped != want {
		t.Errorf("Skipped = %q, want %q", r.Skipped, want)
	}
	if len(r.GPUs) != 0 {
		t.Errorf("GPUs = %+v, want none", r.GPUs)
	}
	if rep.Tier != TierBronze {
		t.Errorf("Tier = %q, want bronze without a GPU", rep.Tier)
	}
}

// The real driver name, on whatever this machine is. Where the driver is
// missing (as on the CI machines, which have no GPU) the result says so in
// the words above; where it is present every card either has both figures
// or says why not.
func TestGPUOnThisMachine(t *testing.T) {
	opt := quick(t)
	opt.cudaLibrary = ""
	rep, err := Run(context.Background(), []Kind{GPU}, opt, nil)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	r := rep.Results[0]
	if _, loadErr := openLibrary(cudaLibrary); loadErr != nil {
		t.Logf("no CUDA driver here: %v", loadErr)
		if want := "no NVIDIA CUDA driver (" + cudaLibrary + " not found)"; r.Skipped != want {
			t.Errorf("Skipped = %q, want %q", r.Skipped, want)
		}
		if len(r.GPUs) != 0 {
			t.Errorf("GPUs = %+v without a driver", r.GPUs)
		}
		return
	}
	t.Logf("CUDA driver present: %+v", r)
	if r.Skipped == "" && len(r.GPUs) == 0 {
		t.Fatal("driver present, no GPU listed and no reason given")
	}
	for _, g := range r.GPUs {
		if g.Available != (measured(g.FP32TFLOPS) && measured(g.MemGBps)) || g.Available == (g.Reason != "") {
			t.Errorf("GPU %d: %+v: figures only when available, a reason only when not", g.Index, g)
		}
	}
}

// Every CUDA function's Go signature is one purego can call; registering an
// unsupported one panics, which this would catch without a GPU.
func TestBindCUDASignatures(t *testing.T) {
	var asked []string
	cu, err := bindCUDA(func(name string) (uintptr, error) {
		asked = append(asked, name)
		return 0x1000, nil // never called, only bound
	})
	if err != nil {
		t.Fatalf("bindCUDA: %v", err)
	}
	v := reflect.ValueOf(cu).Elem()
	for i := range v.NumField() {
		if v.Field(i).IsNil() {
			t.Errorf("%s not bound", v.Type().Field(i).Name)
		}
	}
	if v.NumField() != len(asked) {
		t.Errorf("bound %d symbols for %d functions", len(asked), v.NumField())
	}
	for _, want := range []string{"cuInit", "cuCtxCreate_v2", "cuMemAlloc_v2", "cuMemcpyDtoD_v2", "cuLaunchKernel", "cuModuleLoadData"} {
		if !strings.Contains(strings.Join(asked, " "), want) {
			t.Errorf("%s never looked up", want)
		}
	}
}

func TestBindCUDANamesMissingSymbols(t *testing.T) {
	_, err := bindCUDA(func(name string) (uintptr, error) {
		if name == "cuLaunchKernel" || name == "cuCtxCreate_v2" {
			return 0, errors.New("undefined symbol")
		}
		return 0x1000, nil
	})
	if err == nil || err.Error() != "finding cuCtxCreate_v2, cuLaunchKernel in the driver" {
		t.Fatalf("err = %v, want both missing symbols named", err)
	}
}
