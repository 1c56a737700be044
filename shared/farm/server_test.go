package farm

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestNeedsToken(t *testing.T) {
	tests := []struct {
		addr string
		want bool
	}{
		{"127.0.0.1:9400", false},
		{"127.0.0.2:9400", false}, // all of 127/8 is loopback on Linux
		{"[::1]:9400", false},
		{"localhost:9400", false},
		{"LocalHost:9400", false},
		{":9400", true},
		{"0.0.0.0:9400", true},
		{"[::]:9400", true},
		{"192.168.1.20:9400", true},
		{"[fe80::1%eth0]:9400", true},
		{"rig-07.lan:9400", true},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			got, err := NeedsToken(tt.addr)
			if err != nil || got != tt.want {
				t.Errorf("NeedsToken(%q) = %v, %v; want %v", tt.addr, got, err, tt.want)
			}
		})
	}
	if need, err := NeedsToken("9400"); err == nil || !need {
		t.Errorf("NeedsToken without a host:port = %v, %v; want an error and true", need, err)
	}
}

func TestServeRefusesTheNetworkWithoutAToken(t *testing.T) {
	for _, listen := range []string{"0.0.0.0:0", ":0", "[::]:0"} {
		t.Run(listen, func(t *testing.T) {
			s := &Server{Listen: listen, Source: func() Snapshot { return Snapshot{} }}
			err := s.Serve(context.Background()) // returns before listening
			if !errors.Is(err, ErrTokenRequired) || !strings.Contains(err.Error(), "--farm-token") {
				t.Fatalf("Serve on %s without a token = %v; want ErrTokenRequired naming --farm-token", listen, err)
			}
		})
	}
	s := &Server{Listen: "0.0.0.0:0", Token: "short"}
	if err := s.Serve(context.Background()); err == nil || !strings.Contains(err.Error(), "at least 16") {
		t.Errorf("Serve with a 5-character token = %v; want it refused", err)
	}
}

// get does one request and returns its status and body.
func get(tb testing.TB, method, url, auth string) (int, string) {
	tb.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		tb.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestLoopbackNeedsNoToken(t *testing.T) {
	addr := startServer(t, &Server{Source: func() Snapshot { return Snapshot{DeviceID: "dev_1"} }})
	for _, path := range []string{"/metrics", "/status"} {
		if code, body := get(t, http.MethodGet, "http://"+addr+path, ""); code != http.StatusOK {
			t.Errorf("GET %s without a token on loopback = %d %s; want 200", path, code, body)
		}
	}
}

func TestTokenIsRequiredOnEveryRequest(t *testing.T) {
	const token = "s3cret-farm-token-0123"
	addr := startServer(t, &Server{Token: token, Source: func() Snapshot { return Snapshot{DeviceID: "dev_1"} }})
	tests := []struct {
		name, method, path, auth string
		want                     int
	}{
		{"no token", http.MethodGet, "/metrics", "", http.StatusUnauthorized},
		{"no token status", http.MethodGet, "/status", "", http.StatusUnauthorized},
		{"wrong token", http.MethodGet, "/metrics", "Bearer s3cret-farm-token-0124", http.StatusUnauthorized},
		{"prefix of the token", http.MethodGet, "/metrics", "Bearer s3cret", http.StatusUnauthorized},
		{"not bearer", http.MethodGet, "/metrics", "Basic " + token, http.StatusUnauthorized},
		{"token alone", http.MethodGet, "/metrics", token, http.StatusUnauthorized},
		{"right token", http.MethodGet, "/metrics", "Bearer " + token, http.StatusOK},
		{"right token status", http.MethodGet, "/status", "Bearer " + token, http.StatusOK},
		{"scheme in any case", http.MethodGet, "/status", "bearer " + token, http.StatusOK},
		{"head", http.MethodHead, "/status", "Bearer " + token, http.StatusOK},
		{"post", http.MethodPost, "/status", "Bearer " + token, http.StatusMethodNotAllowed},
		{"put", http.MethodPut, "/metrics", "Bearer " + token, http.StatusMethodNotAllowed},
		{"delete", http.MethodDelete, "/metrics", "Bearer " + token, http.StatusMethodNotAllowed},
		{"post without token", http.MethodPost, "/status", "", http.StatusUnauthorized},
		{"other path", http.MethodGet, "/debug/pprof/", "Bearer " + token, http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := get(t, tt.method, "http://"+addr+tt.path, tt.auth)
			if code != tt.want {
				t.Errorf("%s %s = %d %s; want %d", tt.method, tt.path, code, body, tt.want)
			}
			if code == http.StatusUnauthorized && strings.Contains(body, token) {
				t.Error("a 401 echoes the token")
			}
		})
	}
}

func TestStatusJSON(t *testing.T) {
	snap := simSnapshot(t)
	at := time.Date(2026, 11, 22, 12, 3, 0, 0, time.UTC)
	addr := startServer(t, &Server{Host: "rig-07", Source: func() Snapshot { return snap }, Now: func() time.Time { return at }})
	code, body := get(t, http.MethodGet, "http://"+addr+"/status", "")
	if code != http.StatusOK {
		t.Fatalf("GET /status = %d %s", code, body)
	}
	// The wire names, as a script with jq would read them.
	var raw map[string]any
	if err := json.Unmarshal([]byte(body), &raw); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]any{
		"host": "rig-07", "device_id": "dev_0123456789ab", "version": "1.4.0", "state": "online",
		"connected": true, "paused": true, "pause_reason": "you are playing",
		"earns_per_hour": 312500.0, "verified": true, "verification": "verified", "tier": "gold",
		"at": "2026-11-22T12:03:00Z",
	} {
		if raw[key] != want {
			t.Errorf("status %q = %v, want %v", key, raw[key], want)
		}
	}
	var st Status
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.GPUs) != 2 || len(st.Samples) != 2 || st.Samples[0].TempC != snap.Samples[0].TempC || st.Samples[1].UUID != snap.Samples[1].UUID {
		t.Errorf("status GPUs = %+v / %+v, want the snapshot's", st.GPUs, st.Samples)
	}
	if len(st.Runtimes) != 4 || st.Runtimes[3].State != "failed" {
		t.Errorf("status runtimes = %+v", st.Runtimes)
	}
	if !st.SampledAt.Equal(snap.SampledAt) {
		t.Errorf("sampled_at = %v, want %v", st.SampledAt, snap.SampledAt)
	}
}

func TestStatusListsAreNeverNull(t *testing.T) {
	addr := startServer(t, &Server{Host: "rig-00", Source: func() Snapshot { return Snapshot{State: "unpaired"} }})
	_, body := get(t, http.MethodGet, "http://"+addr+"/status", "")
	for _, key := range []string{`"gpus": []`, `"samples": []`, `"runtimes": []`} {
		if !strings.Contains(body, key) {
			t.Errorf("status lacks %s:\n%s", key, body)
		}
	}
}

func TestNewToken(t *testing.T) {
	a, b := NewToken(), NewToken()
	if len(a) < MinTokenLen || a == b {
		t.Errorf("NewToken() = %q, %q; want two different tokens of at least %d characters", a, b, MinTokenLen)
	}
	if need, _ := NeedsToken("0.0.0.0:0"); !need {
		t.Fatal("0.0.0.0 should need a token")
	}
	s := &Server{Listen: "0.0.0.0:0", Token: a}
	if err := s.check(s.Listen); err != nil {
		t.Errorf("a NewToken token is refused: %v", err)
	}
}
