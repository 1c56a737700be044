package api

import (
	"crypto/rand"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/idlegrid/idlegrid/controlplane/problem"
)

// Speed-test limits: one transfer is at most 25 MB, each client address may
// move 100 MB per 10 minutes (25 MB at once), and at most 4 transfers run
// at a time, so the endpoints measure rigs without becoming a free
// bandwidth source.
const (
	speedMaxBytes     = 25_000_000
	speedDefaultBytes = 10_000_000
	speedBudget       = 100_000_000
	speedWindow       = 10 * time.Minute
	speedConcurrent   = 4
)

type speedLimiter struct {
	mu      sync.Mutex
	buckets map[string]*rate.Limiter
	slots   chan struct{}
}

func newSpeedLimiter() *speedLimiter {
	return &speedLimiter{buckets: map[string]*rate.Limiter{}, slots: make(chan struct{}, speedConcurrent)}
}

// take reserves n bytes of addr's budget and a transfer slot; release
// frees the slot.
func (l *speedLimiter) take(addr string, n int) (release func(), err error) {
	l.mu.Lock()
	b := l.buckets[addr]
	if b == nil {
		if len(l.buckets) > 10000 { // bound memory: forget everyone, rarely
			l.buckets = map[string]*rate.Limiter{}
		}
		b = rate.NewLimiter(rate.Limit(float64(speedBudget)/speedWindow.Seconds()), speedMaxBytes)
		l.buckets[addr] = b
	}
	ok := b.AllowN(time.Now(), n)
	l.mu.Unlock()
	if !ok {
		return nil, problem.New(problem.ErrRateLimited, "speedtest_budget", "this address used its speed-test allowance: try again in a few minutes")
	}
	select {
	case l.slots <- struct{}{}:
		return func() { <-l.slots }, nil
	default:
		return nil, problem.New(problem.ErrRateLimited, "speedtest_busy", "too many speed tests are running: try again in a minute")
	}
}

var noise = func() []byte {
	b := make([]byte, 1<<20)
	_, _ = rand.Read(b)
	return b
}()

func (s *Server) speedPing(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) speedDownload(w http.ResponseWriter, r *http.Request) error {
	n := speedDefaultBytes
	if v := r.URL.Query().Get("bytes"); v != "" {
		var err error
		n, err = strconv.Atoi(v)
		if err != nil || n < 1 || n > speedMaxBytes {
			return problem.Invalid("bad_bytes", "bytes must be a number from 1 to %d", speedMaxBytes)
		}
	}
	release, err := s.speed.take(clientAddr(r), n)
	if err != nil {
		return err
	}
	defer release()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(n))
	w.Header().Set("Cache-Control", "no-store")
	for left := n; left > 0; {
		chunk := noise[:min(left, len(noise))]
		if _, err := w.Write(chunk); err != nil {
			return nil // the client went away; nothing to answer
		}
		left -= len(chunk)
	}
	return nil
}

func (s *Server) speedUpload(w http.ResponseWriter, r *http.Request) error {
	n := int(r.ContentLength)
	if n < 0 || n > speedMaxBytes {
		return problem.Invalid("bad_bytes", "send a body of at most %d bytes with a Content-Length", speedMaxBytes)
	}
	release, err := s.speed.take(clientAddr(r), max(n, 1))
	if err != nil {
		return err
	}
	defer release()
	got, err := io.Copy(io.Discard, io.LimitReader(r.Body, speedMaxBytes))
	if err != nil {
		return problem.Invalid("upload_failed", "the upload broke off: %v", err)
	}
	writeJSON(w, http.StatusOK, map[string]int64{"bytes": got})
	return nil
}
