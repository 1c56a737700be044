package idle

import (
	"math"
	"testing"
	"time"
)

func TestIdleFromTicks(t *testing.T) {
	for _, tc := range []struct {
		name           string
		now, lastInput uint32
		want           time.Duration
	}{
		{"input just now", 5000, 5000, 0},
		{"idle for a minute", 120_000, 60_000, time.Minute},
		{"across the 49.7-day wrap", 1_000, math.MaxUint32 - 1_999, 3 * time.Second},
		{"input right before the wrap", 0, math.MaxUint32, time.Millisecond},
		{"longest trusted gap", math.MaxInt32, 0, math.MaxInt32 * time.Millisecond},
		{"input read after now counts as present", 1_000, 1_001, 0},
		{"input after now across the wrap", math.MaxUint32, 5, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := idleFromTicks(tc.now, tc.lastInput); got != tc.want {
				t.Errorf("idleFromTicks(%d, %d) = %v, want %v", tc.now, tc.lastInput, got, tc.want)
			}
		})
	}
}

func TestFullScreenFromNotificationState(t *testing.T) {
	for _, tc := range []struct {
		name  string
		state int32
		want  bool
	}{
		{"not present (locked or screen saver)", 1, false},
		{"busy: a full-screen app", 2, true},
		{"Direct3D full-screen game", 3, true},
		{"presentation mode", 4, true},
		{"accepts notifications", 5, false},
		{"quiet time", 6, false},
		{"store app", 7, false},
		{"unknown value", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := fullScreenFromNotificationState(tc.state); got != tc.want {
				t.Errorf("fullScreenFromNotificationState(%d) = %v, want %v", tc.state, got, tc.want)
			}
		})
	}
}
