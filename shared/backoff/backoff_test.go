package backoff

import (
	"context"
	"testing"
	"time"
)

func TestNextGrowsWithinJitterAndCaps(t *testing.T) {
	for _, tc := range []struct {
		name string
		rand float64
	}{{"low jitter", 0}, {"high jitter", 0.999}, {"mid jitter", 0.5}} {
		t.Run(tc.name, func(t *testing.T) {
			b := &Backoff{Min: time.Second, Max: 10 * time.Second, Rand: func() float64 { return tc.rand }}
			base := []time.Duration{1, 2, 4, 8, 10, 10}
			for i, want := range base {
				want *= time.Second
				got := b.Next()
				if got < want/2 || got > want {
					t.Fatalf("try %d: delay %v outside [%v, %v]", i, got, want/2, want)
				}
			}
			b.Reset()
			if got := b.Next(); got > time.Second {
				t.Fatalf("after Reset the delay is %v, want ≤ 1s", got)
			}
		})
	}
}

func TestWaitReturnsWhenContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Wait(ctx, time.Hour); err != context.Canceled {
		t.Fatalf("Wait on a cancelled context = %v, want context.Canceled", err)
	}
	if err := Wait(context.Background(), time.Millisecond); err != nil {
		t.Fatalf("Wait(1ms) = %v", err)
	}
}
