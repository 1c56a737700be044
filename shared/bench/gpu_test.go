package bench

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestPTXIsWellFormed(t *testing.T) {
	src := ptxSource
	for _, want := range []string{
		".version 6.0\n", ".target sm_50\n", ".address_size 64\n",
		".visible .entry " + ptxEntry + "(",
		".param .u64 fma_loop_out", ".param .u32 fma_loop_iters",
		"[fma_loop_out]", "[fma_loop_iters]",
		"st.global.f32", "ret;",
	} {
		if !strings.Contains(src, want) {
			t.Errorf("PTX lacks %q", want)
		}
	}
	if strings.Count(src, "{") != 1 || strings.Count(src, "}") != 1 || strings.Index(src, "{") > strings.Index(src, "}") {
		t.Error("PTX body braces are unbalanced")
	}

	// Every instruction line ends with a semicolon; every label branched
	// to is defined once.
	labels := map[string]int{}
	for i, line := range strings.Split(src, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "//") || strings.HasPrefix(line, ".") || line == "{" || line == "}" || line == ")" {
			continue
		}
		if strings.HasSuffix(line, ":") {
			labels[strings.TrimSuffix(line, ":")]++
			continue
		}
		if !strings.HasSuffix(line, ";") && !strings.HasSuffix(line, ",") {
			t.Errorf("line %d %q does not end an instruction", i+1, line)
		}
	}
	for _, m := range regexp.MustCompile(`bra\s+(\$\w+);`).FindAllStringSubmatch(src, -1) {
		if labels[m[1]] != 1 {
			t.Errorf("branch to %s, defined %d times", m[1], labels[m[1]])
		}
	}

	// Every register used is within its declared range (%f<10> is %f0–%f9).
	decl := map[string]int{}
	for _, m := range regexp.MustCompile(`\.reg \.\w+\s+%(\w+)<(\d+)>;`).FindAllStringSubmatch(src, -1) {
		n, _ := strconv.Atoi(m[2])
		decl[m[1]] = n
	}
	for _, m := range regexp.MustCompile(`%(p|rd|r|f)(\d+)\b`).FindAllStringSubmatch(src, -1) {
		n, _ := strconv.Atoi(m[2])
		if max, ok := decl[m[1]]; !ok || n >= max {
			t.Errorf("register %%%s%d used but declared %%%s<%d>", m[1], n, m[1], max)
		}
	}

	// The FLOP count of a launch rests on this: FMAs per iteration, spread
	// evenly over the eight chains.
	body := src[strings.Index(src, "$Lloop:"):strings.Index(src, "$Ldone:")]
	if got := strings.Count(body, "fma.rn.f32"); got != ptxFMAsPerIteration {
		t.Errorf("loop body has %d FMAs, ptxFMAsPerIteration says %d", got, ptxFMAsPerIteration)
	}
	for c := 1; c <= 8; c++ {
		if got := strings.Count(body, fmt.Sprintf("fma.rn.f32\t%%f%d, %%f%d,", c, c)); got != ptxFMAsPerIteration/8 {
			t.Errorf("chain %%f%d advances %d times per iteration, want %d", c, got, ptxFMAsPerIteration/8)
		}
	}
}

func TestCUDAErrorWords(t *testing.T) {
	cases := []struct {
		code cuResult
		want string
	}{
		{2, "out of GPU memory (CUDA error 2)"},
		{100, "no CUDA-capable GPU was detected (CUDA error 100)"},
		{222, "the driver is too old for the benchmark kernel (unsupported PTX version) (CUDA error 222)"},
		{803, "the CUDA driver and kernel module versions do not match (reboot or reinstall the driver) (CUDA error 803)"},
		{12345, "CUDA error 12345"},
	}
	for _, tc := range cases {
		if got := tc.code.words(); got != tc.want {
			t.Errorf("cuResult(%d).words() = %q, want %q", tc.code, got, tc.want)
		}
	}
	for code, w := range cudaErrorWords {
		if code == cudaSuccess || w == "" || strings.HasSuffix(w, ".") || w != strings.ToLower(w[:1])+w[1:] {
			t.Errorf("code %d: %q should be a lower-case phrase without a full stop", code, w)
		}
	}

	if err := check("allocating GPU memory", cudaSuccess); err != nil {
		t.Errorf("check(success) = %v", err)
	}
	err := check("allocating GPU memory", 2)
	var ce *cudaError
	if !errors.As(err, &ce) || ce.code != cudaErrorOutOfMemory {
		t.Fatalf("check(2) = %#v, want a *cudaError", err)
	}
	if want := "allocating GPU memory: out of GPU memory (CUDA error 2)"; err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
}

func TestLibraryMissingReason(t *testing.T) {
	cases := []struct {
		err  string
		want string
	}{
		{"libcuda.so.1: cannot open shared object file: No such file or directory", "no NVIDIA CUDA driver (libcuda.so.1 not found)"},
		{"The specified module could not be found.", "no NVIDIA CUDA driver (libcuda.so.1 not found)"},
		{"libcuda.so.1: wrong ELF class: ELFCLASS32", "the NVIDIA CUDA driver (libcuda.so.1) could not be loaded: libcuda.so.1: wrong ELF class: ELFCLASS32"},
	}
	for _, tc := range cases {
		if got := libraryMissingReason("libcuda.so.1", errors.New(tc.err)); got != tc.want {
			t.Errorf("libraryMissingReason(%q) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

func TestGPUSkipSummary(t *testing.T) {
	gpus := []GPUResult{
		{Index: 0, Name: "A", Reason: "creating a CUDA context: out of GPU memory (CUDA error 2)"},
		{Index: 1, Name: "B", Reason: "opening the GPU: the GPU number is not valid (CUDA error 101)"},
	}
	want := "no GPU could be measured (GPU 0: creating a CUDA context: out of GPU memory (CUDA error 2); " +
		"GPU 1: opening the GPU: the GPU number is not valid (CUDA error 101))"
	if got := gpuSkipSummary(gpus); got != want {
		t.Errorf("gpuSkipSummary = %q, want %q", got, want)
	}
	gpus[1].Available, gpus[1].Reason = true, ""
	if got := gpuSkipSummary(gpus); got != "" {
		t.Errorf("with one card measured, gpuSkipSummary = %q, want none", got)
	}
}
