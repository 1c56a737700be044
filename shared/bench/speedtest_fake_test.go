package bench

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
)

// fakeSpeedTest is the control plane's speed-test contract on httptest:
// ping → 204, download?bytes=N → exactly N bytes (N ≤ 25,000,000), upload
// of N bytes → 200 {"bytes": N}. It records what it served, so tests can
// check the byte counts. status, when set, is answered to every request
// instead (429, 404, 500 …).
type fakeSpeedTest struct {
	srv *httptest.Server

	mu          sync.Mutex
	status      int
	pings       int
	downloads   []int64 // bytes asked for, per request
	uploads     []int64 // bytes received, per request
	uploadTypes []string
	conns       int // TCP connections accepted
	shortBy     int64
}

func newFakeSpeedTest(tb testing.TB) *fakeSpeedTest {
	tb.Helper()
	f := &fakeSpeedTest{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/speedtest/ping", func(w http.ResponseWriter, r *http.Request) {
		if f.refuse(w) {
			return
		}
		f.mu.Lock()
		f.pings++
		f.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /api/v1/speedtest/download", func(w http.ResponseWriter, r *http.Request) {
		if f.refuse(w) {
			return
		}
		n, err := strconv.ParseInt(r.URL.Query().Get("bytes"), 10, 64)
		if err != nil || n < 0 || n > MaxNetBytes {
			http.Error(w, "bytes must be 0..25000000", http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.downloads = append(f.downloads, n)
		short := f.shortBy
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/octet-stream")
		if _, err := io.CopyN(w, noise{}, n-short); err != nil {
			return // client went away
		}
	})
	mux.HandleFunc("POST /api/v1/speedtest/upload", func(w http.ResponseWriter, r *http.Request) {
		if f.refuse(w) {
			return
		}
		n, err := io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, MaxNetBytes))
		if err != nil {
			http.Error(w, "too large", http.StatusRequestEntityTooLarge)
			return
		}
		f.mu.Lock()
		f.uploads = append(f.uploads, n)
		f.uploadTypes = append(f.uploadTypes, r.Header.Get("Content-Type"))
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]int64{"bytes": n})
	})
	f.srv = httptest.NewUnstartedServer(mux)
	f.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			f.mu.Lock()
			f.conns++
			f.mu.Unlock()
		}
	}
	f.srv.Start()
	tb.Cleanup(f.srv.Close)
	return f
}

func (f *fakeSpeedTest) refuse(w http.ResponseWriter) bool {
	f.mu.Lock()
	status := f.status
	f.mu.Unlock()
	if status == 0 {
		return false
	}
	http.Error(w, http.StatusText(status), status)
	return true
}

func (f *fakeSpeedTest) setStatus(s int) {
	f.mu.Lock()
	f.status = s
	f.mu.Unlock()
}
