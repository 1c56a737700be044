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
	// UserPerSecond and UserBurst bound every signed-in caller's requests
	// (per account, whether by session or API key).
	UserPerSecond float64
	UserBurst     int
}

// DefaultRateLimit allows 10 tries at once, then one every 6 seconds; and
// each account 20 requests a second, 100 at once.
var DefaultRateLimit = RateLimit{Burst: 10, Every: 6 * time.Second, UserPerSecond: 20, UserBurst: 100}

// callers keeps a request bucket per account.
type callers struct {
	mu      sync.Mutex
	perSec  rate.Limit
	burst   int
	now     func() time.Time
	buckets map[string]*bucket
	swept   time.Time
}

func newCallers(cfg RateLimit, now func() time.Time) *callers {
	if cfg.UserPerSecond <= 0 || cfg.UserBurst <= 0 {
		cfg.UserPerSecond, cfg.UserBurst = DefaultRateLimit.UserPerSecond, DefaultRateLimit.UserBurst
	}
	return &callers{perSec: rate.Limit(cfg.UserPerSecond), burst: cfg.UserBurst, now: now, buckets: map[string]*bucket{}}
}

// allow spends one request of userID, or says how long until one is free.
func (c *callers) allow(userID string) (bool, time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if now.Sub(c.swept) > time.Minute {
		for k, b := range c.buckets {
			if now.Sub(b.used) > 10*time.Minute {
				delete(c.buckets, k)
			}
		}
		c.swept = now
	}
	b := c.buckets[userID]
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(c.perSec, c.burst)}
		c.buckets[userID] = b
	}
	b.used = now
	r := b.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

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
