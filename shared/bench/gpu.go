package bench

import (
	"context"
	"fmt"
	"strings"
)

// runGPU measures every NVIDIA GPU through the CUDA driver API, loaded at run
// time (gpu_cuda.go), so the agent neither links CUDA nor needs cgo. A
// machine without the driver gets a Skipped reason, never a figure.
func runGPU(ctx context.Context, opt Options, step stepFunc) (Result, error) {
	lib := opt.cudaLibrary
	if lib == "" {
		lib = cudaLibrary
	}
	step("GPU: loading the NVIDIA driver", 0)
	gpus, skipped, err := cudaBenchmark(ctx, lib, opt, step)
	if err != nil {
		return Result{}, err
	}
	if skipped != "" {
		return Result{Skipped: skipped}, nil
	}
	return Result{GPUs: gpus, Skipped: gpuSkipSummary(gpus)}, nil
}

// gpuSkipSummary is Skipped for a run that found GPUs but measured none:
// the per-card reasons, in one line for display. Empty when one measured.
func gpuSkipSummary(gpus []GPUResult) string {
	if len(gpus) == 0 {
		return "no GPU found"
	}
	var why []string
	for _, g := range gpus {
		if g.Available {
			return ""
		}
		why = append(why, fmt.Sprintf("GPU %d: %s", g.Index, g.Reason))
	}
	return "no GPU could be measured (" + strings.Join(why, "; ") + ")"
}

// libraryMissingReason words a failure to load the CUDA driver library: the
// usual cause is simply no NVIDIA driver, which deserves a plain sentence;
// anything else (wrong architecture, a broken install) keeps the loader's
// own message.
func libraryMissingReason(lib string, err error) string {
	msg := err.Error()
	if strings.Contains(msg, "No such file") || strings.Contains(msg, "not found") ||
		strings.Contains(msg, "could not be found") || strings.Contains(msg, "cannot open shared object") {
		return fmt.Sprintf("no NVIDIA CUDA driver (%s not found)", lib)
	}
	return fmt.Sprintf("the NVIDIA CUDA driver (%s) could not be loaded: %s", lib, msg)
}

// cuResult is the CUDA driver API's CUresult.
type cuResult int32

const (
	cudaSuccess          cuResult = 0
	cudaErrorOutOfMemory cuResult = 2
)

// cudaErrorWords says what the CUresult codes a benchmark can meet mean to a
// supplier, from cuda.h's CUresult; others are shown by number.
var cudaErrorWords = map[cuResult]string{
	1:   "an invalid value was passed to the driver",
	2:   "out of GPU memory",
	3:   "the CUDA driver is not initialised",
	4:   "the CUDA driver is shutting down",
	34:  "the CUDA library found is a stub, not a real NVIDIA driver",
	46:  "the GPU is busy or unavailable (exclusive or prohibited compute mode)",
	100: "no CUDA-capable GPU was detected",
	101: "the GPU number is not valid",
	102: "the GPU is not licensed for compute",
	200: "the kernel image is invalid",
	201: "there is no valid CUDA context",
	209: "the GPU cannot run the compiled kernel",
	214: "an uncorrectable ECC memory error was detected",
	216: "the GPU is in use by another process in exclusive mode",
	218: "the driver could not compile the benchmark kernel (invalid PTX)",
	221: "the driver's PTX compiler is missing",
	222: "the driver is too old for the benchmark kernel (unsupported PTX version)",
	223: "the driver's settings disable PTX compilation",
	304: "an operating system call made by the driver failed",
	400: "an invalid handle was passed to the driver",
	500: "a named symbol was not found",
	700: "the kernel accessed an illegal address",
	701: "the launch asked for more GPU resources than available",
	702: "the kernel ran too long and was stopped by the display watchdog",
	719: "the kernel failed on the GPU",
	800: "the operation is not permitted",
	801: "the operation is not supported on this GPU or platform",
	802: "the CUDA system is not ready",
	803: "the CUDA driver and kernel module versions do not match (reboot or reinstall the driver)",
	804: "this GPU is not supported by the installed CUDA compatibility package",
	999: "an unknown CUDA error occurred",
}

// words renders r for a supplier, with the code for a support request.
func (r cuResult) words() string {
	if w, ok := cudaErrorWords[r]; ok {
		return fmt.Sprintf("%s (CUDA error %d)", w, int32(r))
	}
	return fmt.Sprintf("CUDA error %d", int32(r))
}

// cudaError is a failed driver call: what was being done and what the
// driver said.
type cudaError struct {
	op   string // a gerund phrase: "allocating GPU memory"
	code cuResult
}

func (e *cudaError) Error() string { return e.op + ": " + e.code.words() }

// check turns a CUresult into nil or a *cudaError.
func check(op string, r cuResult) error {
	if r == cudaSuccess {
		return nil
	}
	return &cudaError{op: op, code: r}
}
