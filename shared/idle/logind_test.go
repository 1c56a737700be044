package idle

import (
	"math"
	"testing"
	"time"
)

func TestIdleFromLogind(t *testing.T) {
	now := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	usec := func(t time.Time) uint64 { return uint64(t.UnixMicro()) }
	for _, tc := range []struct {
		name  string
		hint  bool
		since uint64
		want  time.Duration
	}{
		{"idle for 90 s", true, usec(now.Add(-90 * time.Second)), 90 * time.Second},
		{"microseconds are kept", true, usec(now.Add(-1500 * time.Microsecond)), 1500 * time.Microsecond},
		{"idle since exactly now", true, usec(now), 0},
		{"not idle ignores a stale timestamp", false, usec(now.Add(-time.Hour)), 0},
		{"not idle and never was", false, 0, 0},
		{"idle without a timestamp counts as present", true, 0, 0},
		{"timestamp in the future after a clock step", true, usec(now.Add(time.Minute)), 0},
		{"timestamp beyond int64", true, math.MaxUint64, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := idleFromLogind(tc.hint, tc.since, now); got != tc.want {
				t.Errorf("idleFromLogind(%v, %d) = %v, want %v", tc.hint, tc.since, got, tc.want)
			}
		})
	}
}
