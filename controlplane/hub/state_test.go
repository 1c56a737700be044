package hub

import (
	"testing"
	"time"
)

func TestStateFromLastSeen(t *testing.T) {
	c := Config{HeartbeatInterval: 5 * time.Second, OfflineAfter: 30 * time.Second}
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		ago  time.Duration
		want string
	}{
		{"just heard", 0, StateOnline},
		{"one late heartbeat", 9 * time.Second, StateOnline},
		{"three missed heartbeats", 15 * time.Second, StateOnline},
		{"past three missed", 15*time.Second + time.Millisecond, StateSuspect},
		{"almost offline", 30 * time.Second, StateSuspect},
		{"offline after 30 s", 30*time.Second + time.Millisecond, StateOffline},
	}
	for _, tc := range cases {
		if got := c.State(now.Add(-tc.ago), now); got != tc.want {
			t.Errorf("%s (%v ago): %s, want %s", tc.name, tc.ago, got, tc.want)
		}
	}
	if got := c.State(time.Time{}, now); got != StateOffline {
		t.Errorf("never seen: %s, want offline", got)
	}
}
