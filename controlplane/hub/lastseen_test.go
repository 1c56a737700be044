package hub

import (
	"testing"
	"time"

	"github.com/idlegrid/idlegrid/controlplane/store"
)

// A heartbeating device's last_seen_at is written at most every `every`,
// an ended link's at once, and everything on the final flush.
func TestLastSeenIsWrittenSparingly(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	l := &lastSeen{every: time.Second, written: map[string]time.Time{}, due: map[string]time.Time{}}
	beat := func(id string, at time.Duration) store.TelemetryRow {
		return store.TelemetryRow{DeviceID: id, At: t0.Add(at)}
	}
	step := func(rows []store.TelemetryRow, final bool, want map[string]time.Duration) {
		t.Helper()
		got := l.plan(rows, final)
		if len(got) != len(want) {
			t.Fatalf("writes %v, want %v", got, want)
		}
		for id, at := range want {
			if !got[id].Equal(t0.Add(at)) {
				t.Fatalf("writes %s at %v, want %v", id, got[id], t0.Add(at))
			}
		}
		l.wrote(got)
	}
	step([]store.TelemetryRow{beat("a", 0), beat("b", 100*time.Millisecond)}, false, map[string]time.Duration{"a": 0, "b": 100 * time.Millisecond})
	// Half a second later neither is due.
	step([]store.TelemetryRow{beat("a", 500*time.Millisecond), beat("b", 600*time.Millisecond)}, false, nil)
	// A second after its last write, a is; the latest heartbeat counts.
	step([]store.TelemetryRow{beat("a", 900*time.Millisecond), beat("a", time.Second), beat("b", time.Second)}, false, map[string]time.Duration{"a": time.Second})
	// b's link ends: its last heartbeat is written at once.
	l.due["b"] = t0.Add(1200 * time.Millisecond)
	step(nil, false, map[string]time.Duration{"b": 1200 * time.Millisecond})
	if _, ok := l.written["b"]; ok {
		t.Fatal("an ended link's device is still tracked")
	}
	// The final flush writes whatever it has.
	step([]store.TelemetryRow{beat("a", 1100*time.Millisecond)}, true, map[string]time.Duration{"a": 1100 * time.Millisecond})
}
