package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func build(t *testing.T, cgo string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "idlegrid-agent")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED="+cgo)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=%s go build: %v\n%s", cgo, err, out)
	}
	return bin
}

// The agent builds with cgo (NVML) and without; each says at start-up, in
// words, what it can offer, and an unpaired agent says how to pair.
func TestAgentBuildsWithAndWithoutCgoAndSaysWhatItOffers(t *testing.T) {
	cases := []struct {
		cgo, says string
	}{
		{"0", "this build has no NVIDIA support (built with CGO_ENABLED=0)"},
		{"1", "GPUs: "}, // "none offered: no NVIDIA driver found…" here, "N NVIDIA (driver …)" on a GPU rig
	}
	for _, tc := range cases {
		t.Run("CGO_ENABLED="+tc.cgo, func(t *testing.T) {
			bin := build(t, tc.cgo)
			cmd := exec.Command(bin, "--data", t.TempDir(), "--server", "http://127.0.0.1:1")
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("an unpaired agent exited 0:\n%s", out)
			}
			if tc.cgo == "1" && !strings.Contains(string(out), "no NVIDIA driver found") && !strings.Contains(string(out), " NVIDIA (driver ") {
				t.Errorf("a cgo build neither found GPUs nor said why not:\n%s", out)
			}
			for _, want := range []string{tc.says, "not paired", "--pair CODE"} {
				if !strings.Contains(string(out), want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

func TestSimulatedGPUsAreAnnounced(t *testing.T) {
	bin := build(t, "0")
	out, _ := exec.Command(bin, "--data", t.TempDir(), "--sim-gpus", "RTX 4090x2").CombinedOutput()
	if !strings.Contains(string(out), "2 simulated") || !strings.Contains(string(out), "never paid") {
		t.Fatalf("output does not announce simulated GPUs:\n%s", out)
	}
	out, err := exec.Command(bin, "--data", t.TempDir(), "--sim-gpus", "RTX 9999").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--sim-gpus") {
		t.Fatalf("a bad --sim-gpus was not refused clearly (%v):\n%s", err, out)
	}
}
