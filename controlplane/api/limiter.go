package api

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// RateLimit bounds the routes where a caller could guess secrets (sign-in,
// pairing), per client address.
type RateLimit struct {
	Burst int           // tries at once
	Every time.Duration // then one per Every
}

// DefaultRateLimit allows 10 tries at once, then one every 6 seconds.
var DefaultRateLimit = RateLimit{Burst: 10, Every: 6 * time.Second}

// limiter keeps a token bucket per client address. Only failures spend
// tokens, so a farm enrolling fifty rigs from behind one address is never
// slowed down, while someone guessing codes or passwords is.
type limiter struct {
	cfg     RateLimit
	mu      sync.Mutex
	now     func() time.Time
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	lim  *rate.Limiter
	used time.Time
}

func newLimiter(cfg RateLimit, now func() time.Time) *limiter {
	if cfg.Burst <= 0 || cfg.Every <= 0 {
		cfg = DefaultRateLimit
	}
	return &limiter{cfg: cfg, now: now, buckets: map[string]*bucket{}}
}

// allow reports whether addr may try now.
func (l *limiter) allow(addr string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.bucket(addr).lim.TokensAt(l.now()) >= 1
}

// failed spends one try of addr.
func (l *limiter) failed(addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.bucket(addr).lim.AllowN(l.now(), 1)
}

func (l *limiter) bucket(addr string) *bucket {
	now := l.now()
	if now.Sub(l.swept) > time.Minute { // forget idle clients so the map stays small
		for k, b := range l.buckets {
			if now.Sub(b.used) > 10*time.Minute {
				delete(l.buckets, k)
			}
		}
		l.swept = now
	}
	b := l.buckets[addr]
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(rate.Every(l.cfg.Every), l.cfg.Burst)}
		l.buckets[addr] = b
	}
	b.used = now
	return b
}
