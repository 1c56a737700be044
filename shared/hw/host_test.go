package hw

import (
	"context"
	"path/filepath"
	"runtime"
	"testing"
)

func TestHostInfo(t *testing.T) {
	info, err := NewHost(t.TempDir()).Info(context.Background())
	if err != nil {
		t.Fatalf("Info: %v", err)
	}
	if info.Hostname == "" {
		t.Error("Hostname is empty")
	}
	if info.OS != runtime.GOOS {
		t.Errorf("OS = %q, want %q", info.OS, runtime.GOOS)
	}
	if info.Arch != runtime.GOARCH {
		t.Errorf("Arch = %q, want %q", info.Arch, runtime.GOARCH)
	}
	if info.CPUCores <= 0 {
		t.Errorf("CPUCores = %d, want > 0", info.CPUCores)
	}
	if info.MemTotal == 0 {
		t.Error("MemTotal = 0")
	}
	t.Logf("%+v", info)
}

func TestHostSample(t *testing.T) {
	h := NewHost(t.TempDir())
	// Twice: the second CPU reading is relative to the first.
	for range 2 {
		s, err := h.Sample(context.Background())
		if err != nil {
			t.Fatalf("Sample: %v", err)
		}
		if s.CPUPct < 0 || s.CPUPct > 100 {
			t.Errorf("CPUPct = %v, want 0..100", s.CPUPct)
		}
		if s.MemTotal == 0 || s.MemUsed > s.MemTotal {
			t.Errorf("memory used %d of %d, want a total > 0 and used <= total", s.MemUsed, s.MemTotal)
		}
		if s.DiskTotal == 0 || s.DiskUsed > s.DiskTotal {
			t.Errorf("disk used %d of %d, want a total > 0 and used <= total", s.DiskUsed, s.DiskTotal)
		}
		if s.UptimeS == 0 {
			t.Error("UptimeS = 0")
		}
	}
}

func TestHostSampleDataDirNotCreatedYet(t *testing.T) {
	dir := t.TempDir()
	s, err := NewHost(filepath.Join(dir, "not", "yet")).Sample(context.Background())
	if err != nil {
		t.Fatalf("Sample: %v", err)
	}
	if s.DiskTotal == 0 {
		t.Error("DiskTotal = 0, want the figures of the nearest existing parent")
	}
}

func TestHostSampleWithoutDataDir(t *testing.T) {
	s, err := NewHost("").Sample(context.Background())
	if err != nil {
		t.Fatalf("Sample: %v", err)
	}
	if s.DiskTotal != 0 || s.MemTotal == 0 {
		t.Errorf("Sample() = %+v, want no disk figures but memory", s)
	}
}

func TestIsLoopback(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"lo", true},
		{"lo0", true},
		{"lo12", true},
		{"eth0", false},
		{"lowpan0", false},
		{"wlo1", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := isLoopback(tt.name); got != tt.want {
				t.Errorf("isLoopback(%q) = %v, want %v", tt.name, got, tt.want)
			}
		})
	}
}
