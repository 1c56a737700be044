package bench

import (
	"strings"
	"testing"
)

func TestDescribe(t *testing.T) {
	cases := map[string]Result{
		"18.0 GFLOPS on all cores, 9.0 on one":    {Kind: CPU, CPUGFLOPS: 18, CPUSingleGFLOPS: 9},
		"read 1400 MB/s, write 243 MB/s (cached)": {Kind: Disk, DiskReadMBps: 1400, DiskWriteMBps: 243, Note: "cached"},
		"not measured: no NVIDIA CUDA driver":     {Kind: GPU, Skipped: "no NVIDIA CUDA driver"},
		"GPU 0 RTX: 82.6 TFLOPS FP32, 1008 GB/s; GPU 1: lost": {Kind: GPU, GPUs: []GPUResult{
			{Index: 0, Name: "RTX", FP32TFLOPS: 82.58, MemGBps: 1008, Available: true}, {Index: 1, Reason: "lost"}}},
	}
	for want, r := range cases {
		if got := Describe(r); !strings.Contains(got, want) {
			t.Errorf("Describe(%+v) = %q, want %q", r, got, want)
		}
	}
}
