package bench

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
)

func TestNetworkMeasuresAgainstTheSpeedTestContract(t *testing.T) {
	fake := newFakeSpeedTest(t)
	const n = 300_000
	rep, err := Run(context.Background(), []Kind{Network}, Options{ServerURL: fake.srv.URL + "/", NetBytes: n}, nil)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	r := rep.Results[0]
	if r.Skipped != "" {
		t.Fatalf("skipped: %s", r.Skipped)
	}
	for name, v := range map[string]float64{"latency": r.NetLatencyMS, "down": r.NetDownMbps, "up": r.NetUpMbps} {
		if !(v > 0) || !measured(v) {
			t.Errorf("%s = %v, want a positive figure", name, v)
		}
	}

	fake.mu.Lock()
	defer fake.mu.Unlock()
	if fake.pings != pings+1 {
		t.Errorf("server saw %d pings, want %d timed + 1 to open the connection", fake.pings, pings)
	}
	if !slices.Equal(fake.downloads, []int64{n}) {
		t.Errorf("downloads asked for %v bytes, want [%d]", fake.downloads, n)
	}
	if !slices.Equal(fake.uploads, []int64{n}) {
		t.Errorf("uploads carried %v bytes, want [%d]", fake.uploads, n)
	}
	if !slices.Equal(fake.uploadTypes, []string{"application/octet-stream"}) {
		t.Errorf("upload content types %v, want application/octet-stream", fake.uploadTypes)
	}
	// Latency is meant over a kept-alive connection: one connection for
	// all eleven pings and the transfers.
	if fake.conns != 1 {
		t.Errorf("client opened %d connections, want 1 kept alive", fake.conns)
	}
}

func TestNetworkBytesAreCappedAtTheServersLimit(t *testing.T) {
	fake := newFakeSpeedTest(t)
	if _, err := Run(context.Background(), []Kind{Network}, Options{ServerURL: fake.srv.URL, NetBytes: 40_000_000}, nil); err != nil {
		t.Fatalf("Run: %v", err)
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if !slices.Equal(fake.downloads, []int64{MaxNetBytes}) || !slices.Equal(fake.uploads, []int64{MaxNetBytes}) {
		t.Errorf("downloads %v, uploads %v; want both [%d]", fake.downloads, fake.uploads, MaxNetBytes)
	}
}

func TestNetworkStatesAndFailures(t *testing.T) {
	cases := []struct {
		name        string
		status      int
		serverURL   func(base string) string
		wantSkipped string // exact
		wantErr     string // substring; empty means no error
	}{
		{name: "rate limited", status: http.StatusTooManyRequests, wantSkipped: SkippedRateLimited},
		{name: "older server", status: http.StatusNotFound, wantSkipped: "the server does not offer the speed test yet (HTTP 404)"},
		{name: "server error", status: http.StatusInternalServerError, wantErr: "500 Internal Server Error"},
		{name: "no server configured", serverURL: func(string) string { return "" }, wantSkipped: SkippedNoServer},
		{name: "relative address", serverURL: func(string) string { return "grid.example" }, wantErr: "not an absolute URL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake := newFakeSpeedTest(t)
			fake.setStatus(tc.status)
			url := fake.srv.URL
			if tc.serverURL != nil {
				url = tc.serverURL(url)
			}
			rep, err := Run(context.Background(), []Kind{Network}, Options{ServerURL: url, NetBytes: 1000}, nil)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				if !strings.HasPrefix(err.Error(), "running the network benchmark: ") {
					t.Errorf("err = %q, want it to say which benchmark failed", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			r := rep.Results[0]
			if r.Skipped != tc.wantSkipped {
				t.Errorf("Skipped = %q, want %q", r.Skipped, tc.wantSkipped)
			}
			if r.NetLatencyMS != 0 || r.NetDownMbps != 0 || r.NetUpMbps != 0 {
				t.Errorf("skipped result carries figures: %+v", r)
			}
		})
	}
}

func TestNetworkShortDownloadIsAnError(t *testing.T) {
	fake := newFakeSpeedTest(t)
	fake.shortBy = 10
	_, err := Run(context.Background(), []Kind{Network}, Options{ServerURL: fake.srv.URL, NetBytes: 5000}, nil)
	if err == nil || !strings.Contains(err.Error(), "the server sent 4990 bytes, 5000 were asked for") {
		t.Fatalf("err = %v, want a byte-count mismatch", err)
	}
}

func TestNetworkRateLimitMidRunSkipsTheWholeKind(t *testing.T) {
	// A 429 arriving after latency was measured still skips the kind as a
	// whole: Skipped means no figures at all, not a partial set.
	fake := newFakeSpeedTest(t)
	rep, err := Run(context.Background(), []Kind{Network}, Options{ServerURL: fake.srv.URL, NetBytes: 1000}, func(p Progress) {
		if strings.HasPrefix(p.Step, "Network: downloading") {
			fake.setStatus(http.StatusTooManyRequests)
		}
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := rep.Results[0]; got.Skipped != SkippedRateLimited || got.NetLatencyMS != 0 || got.NetDownMbps != 0 {
		t.Errorf("result = %+v, want skipped as rate limited with no figures", got)
	}
}
