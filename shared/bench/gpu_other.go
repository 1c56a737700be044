//go:build !linux && !windows

package bench

import (
	"context"
	"runtime"
)

// cudaLibrary names no library: NVIDIA ships no CUDA driver for this system
// (macOS lost it with CUDA 10.2), so there is nothing to load.
const cudaLibrary = ""

// cudaBenchmark reports the GPU test as skipped, in words.
func cudaBenchmark(ctx context.Context, lib string, opt Options, step stepFunc) ([]GPUResult, string, error) {
	return nil, "the GPU benchmark needs the NVIDIA CUDA driver, which exists only for Linux and Windows, not " + runtime.GOOS, nil
}
