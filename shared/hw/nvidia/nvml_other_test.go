//go:build !(linux && cgo)

package nvidia

import (
	"context"
	"strings"
	"testing"
)

func TestOpenWithoutSupportSaysWhy(t *testing.T) {
	p := Open()
	st := p.Status()
	if st.Available || st.Reason == "" {
		t.Errorf("Status() = %+v, want unavailable with a reason", st)
	}
	if s, err := p.Sample(context.Background()); s != nil || err != nil {
		t.Errorf("Sample() = %v, %v; want nil, nil", s, err)
	}
}

func TestUnsupportedReason(t *testing.T) {
	tests := []struct {
		name, goos, want string
	}{
		{"linux built without cgo", "linux", "CGO_ENABLED=0"},
		{"windows", "windows", "Windows are not supported yet"},
		{"macOS", "darwin", "macOS has no NVIDIA driver"},
		{"other", "freebsd", "freebsd are not supported yet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := unsupportedReason(tt.goos); !strings.Contains(got, tt.want) {
				t.Errorf("unsupportedReason(%q) = %q, want it to contain %q", tt.goos, got, tt.want)
			}
		})
	}
}
