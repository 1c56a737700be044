// Package backoff computes jittered exponential retry delays and waits them
// out bound to a context, so reconnecting agents spread out instead of
// stampeding a restarted server.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff yields growing delays: Min, 2·Min, 4·Min … capped at Max, each
// drawn uniformly from [d/2, d] ("equal jitter"). The zero value is not
// usable; fill Min and Max.
type Backoff struct {
	Min, Max time.Duration
	// Rand returns a float in [0, 1); nil means math/rand.
	Rand func() float64

	attempt int
}

// Next returns the delay before the next try and advances.
func (b *Backoff) Next() time.Duration {
	d := b.Min
	for i := 0; i < b.attempt && d < b.Max; i++ {
		d *= 2
	}
	if d > b.Max {
		d = b.Max
	}
	b.attempt++
	r := rand.Float64
	if b.Rand != nil {
		r = b.Rand
	}
	half := d / 2
	return half + time.Duration(r()*float64(d-half))
}

// Reset starts over from Min, after a success.
func (b *Backoff) Reset() { b.attempt = 0 }

// Wait blocks for d or until ctx ends, returning ctx's error then.
func Wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
