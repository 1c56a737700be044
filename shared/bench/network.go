package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The control plane's speed-test endpoints, relative to Options.ServerURL:
//
//	GET  /api/v1/speedtest/ping            → 204
//	GET  /api/v1/speedtest/download?bytes=N → 200, exactly N bytes (N ≤ 25,000,000)
//	POST /api/v1/speedtest/upload, N bytes of application/octet-stream
//	                                        → 200 {"bytes": N}
//
// Any of them may answer 429 when the server is rate limiting speed tests.
const (
	pathPing     = "/api/v1/speedtest/ping"
	pathDownload = "/api/v1/speedtest/download"
	pathUpload   = "/api/v1/speedtest/upload"
	// pings timed for the latency figure; the median of ten shrugs off a
	// stray slow one without many round trips.
	pings = 10
)

// Skipped reasons of the network test, stable so the app can match them.
const (
	SkippedNoServer    = "no control plane address configured to test the network against"
	SkippedRateLimited = "rate limited by the server, try later"
)

// errRateLimited is a 429 from any endpoint: a state, reported as Skipped.
var errRateLimited = errors.New("rate limited")

// errNoEndpoint is a 404: a server older than the speed test, a state too.
var errNoEndpoint = errors.New("no speed-test endpoint")

// runNetwork measures latency, download and upload against the control
// plane.
func runNetwork(ctx context.Context, opt Options, step stepFunc) (Result, error) {
	if opt.ServerURL == "" {
		return Result{Skipped: SkippedNoServer}, nil
	}
	base, err := url.Parse(strings.TrimRight(opt.ServerURL, "/"))
	if err != nil || base.Scheme == "" || base.Host == "" {
		return Result{}, fmt.Errorf("parsing the server address %q: not an absolute URL", opt.ServerURL)
	}
	st := speedTest{client: opt.HTTPClient, base: base.String()}

	res, err := st.measure(ctx, opt.NetBytes, step)
	switch {
	case errors.Is(err, errRateLimited):
		return Result{Skipped: SkippedRateLimited}, nil
	case errors.Is(err, errNoEndpoint):
		return Result{Skipped: "the server does not offer the speed test yet (HTTP 404)"}, nil
	case err != nil:
		return Result{}, err
	}
	return res, nil
}

type speedTest struct {
	client *http.Client
	base   string
}

func (st speedTest) measure(ctx context.Context, n int64, step stepFunc) (Result, error) {
	step("Network: latency", 0)
	latency, err := st.latency(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("measuring latency: %w", err)
	}
	words := fmt.Sprintf("%.0f MB", float64(n)/1e6)
	step("Network: downloading "+words, 0.2)
	down, err := st.download(ctx, n)
	if err != nil {
		return Result{}, fmt.Errorf("measuring download speed: %w", err)
	}
	step("Network: uploading "+words, 0.6)
	up, err := st.upload(ctx, n)
	if err != nil {
		return Result{}, fmt.Errorf("measuring upload speed: %w", err)
	}
	return Result{
		NetLatencyMS: float64(latency.Microseconds()) / 1000,
		NetDownMbps:  mbps(n, down),
		NetUpMbps:    mbps(n, up),
	}, nil
}

// latency returns the median of pings round trips. An untimed first ping
// opens the connection (TCP and TLS handshakes), so the timed ones measure
// the path rather than the set-up; each body is drained so the connection
// is kept alive for the next.
func (st speedTest) latency(ctx context.Context) (time.Duration, error) {
	times := make([]time.Duration, 0, pings)
	for i := range pings + 1 {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, st.base+pathPing, nil)
		if err != nil {
			return 0, fmt.Errorf("building the request: %w", err)
		}
		start := time.Now()
		if _, err := st.do(req, http.StatusNoContent); err != nil {
			return 0, err
		}
		if i > 0 {
			times = append(times, time.Since(start))
		}
	}
	slices.Sort(times)
	return (times[pings/2-1] + times[pings/2]) / 2, nil
}

// download fetches n bytes and times it from the request to the last byte.
func (st speedTest) download(ctx context.Context, n int64) (time.Duration, error) {
	u := st.base + pathDownload + "?bytes=" + strconv.FormatInt(n, 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, fmt.Errorf("building the request: %w", err)
	}
	start := time.Now()
	got, err := st.do(req, http.StatusOK)
	if err != nil {
		return 0, err
	}
	elapsed := time.Since(start)
	if got != n {
		return 0, fmt.Errorf("the server sent %d bytes, %d were asked for", got, n)
	}
	return elapsed, nil
}

// upload sends n bytes and times it until the server's answer, which
// confirms how many it received.
func (st speedTest) upload(ctx context.Context, n int64) (time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, st.base+pathUpload, io.LimitReader(noise{}, n))
	if err != nil {
		return 0, fmt.Errorf("building the request: %w", err)
	}
	req.ContentLength = n // a known length, not chunked encoding the server may refuse
	req.Header.Set("Content-Type", "application/octet-stream")

	start := time.Now()
	resp, err := st.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("sending: %w", err)
	}
	defer resp.Body.Close()
	if err := statusError(resp, http.StatusOK); err != nil {
		return 0, err
	}
	var ack struct {
		Bytes int64 `json:"bytes"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<10)).Decode(&ack); err != nil {
		return 0, fmt.Errorf("decoding the server's answer: %w", err)
	}
	elapsed := time.Since(start)
	if ack.Bytes != n {
		return 0, fmt.Errorf("the server received %d bytes, %d were sent", ack.Bytes, n)
	}
	return elapsed, nil
}

// do sends req, checks the status and drains the body, returning its length.
func (st speedTest) do(req *http.Request, want int) (int64, error) {
	resp, err := st.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("sending: %w", err)
	}
	defer resp.Body.Close()
	if err := statusError(resp, want); err != nil {
		return 0, err
	}
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		return n, fmt.Errorf("receiving: %w", err)
	}
	return n, nil
}

// statusError turns an unexpected status into an error, 429 and 404 into
// the states runNetwork reports as Skipped.
func statusError(resp *http.Response, want int) error {
	switch resp.StatusCode {
	case want:
		return nil
	case http.StatusTooManyRequests:
		return errRateLimited
	case http.StatusNotFound:
		return errNoEndpoint
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 200)) // best effort: only decorates the error
	msg := strings.TrimSpace(string(body))
	if msg != "" {
		msg = ": " + msg
	}
	return fmt.Errorf("%s %s answered %s%s", resp.Request.Method, resp.Request.URL.Path, resp.Status, msg)
}

// mbps is n bytes over d in 10^6 bits per second.
func mbps(n int64, d time.Duration) float64 {
	return float64(n) * 8 / d.Seconds() / 1e6
}

// noise is an endless stream of varied bytes for the upload body: cheap to
// produce, and not all zeros, which a compressing proxy would shrink.
type noise struct{}

func (noise) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(i*131 + i>>8)
	}
	return len(p), nil
}
