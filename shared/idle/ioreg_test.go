package idle

import (
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestParseHIDIdleTime(t *testing.T) {
	for _, tc := range []struct {
		name      string
		fixture   string
		want      time.Duration
		wantFound bool
		wantErr   bool
	}{
		{"normal output", "ioreg-normal.txt", 1_837_275_416, true, false},
		{"several IOHIDSystem entries take the most recent input", "ioreg-two-systems.txt", 420_000_000, true, false},
		{"no HID system in this session", "ioreg-missing.txt", 0, false, false},
		{"empty output", "ioreg-empty.txt", 0, false, false},
		{"garbage", "ioreg-garbage.txt", 0, false, false},
		{"value that is not a number", "ioreg-bad-value.txt", 0, false, true},
		{"value beyond int64 saturates", "ioreg-huge.txt", math.MaxInt64, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := os.ReadFile(filepath.Join("testdata", tc.fixture))
			if err != nil {
				t.Fatal(err)
			}
			got, found, err := parseHIDIdleTime(out)
			if (err != nil) != tc.wantErr {
				t.Fatalf("error = %v, want error: %v", err, tc.wantErr)
			}
			if got != tc.want || found != tc.wantFound {
				t.Errorf("parseHIDIdleTime = %v, found %v; want %v, found %v", got, found, tc.want, tc.wantFound)
			}
		})
	}
}
