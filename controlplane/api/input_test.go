package api_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/idlegrid/idlegrid/controlplane/servertest"
)

func rawPost(t *testing.T, url, token, contentType, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Bad bodies get a 400 with a stable code and words, and create nothing.
func TestBadBodiesAreRefusedClearly(t *testing.T) {
	srv := servertest.Start(t, nil)
	owner := srv.SignUp("owner@example.com")
	cases := []struct {
		name, ctype, body, code string
	}{
		{"malformed JSON", "application/json", `{"name": `, "bad_json"},
		{"unknown field", "application/json", `{"name": "k", "admin": true}`, "bad_json"},
		{"two values", "application/json", `{"name": "a"} {"name": "b"}`, "bad_json"},
		{"wrong type", "application/json", `{"name": 7}`, "bad_json"},
		{"not JSON content type", "text/plain", `{"name": "k"}`, "bad_content_type"},
		{"empty body", "application/json", ``, "bad_json"},
		{"too large", "application/json", `{"name": "` + strings.Repeat("x", 70<<10) + `"}`, "body_too_large"},
		{"name with control characters", "application/json", `{"name": "a\u0007b"}`, "bad_name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, body := rawPost(t, srv.URL+"/api/v1/keys", owner.Token, tc.ctype, tc.body)
			if st != http.StatusBadRequest || !strings.Contains(body, `"code":"`+tc.code+`"`) || !strings.Contains(body, `"message":"`) {
				t.Fatalf("status %d body %s, want 400 with code %s and a message", st, body, tc.code)
			}
		})
	}
	var keys struct{ Keys []any }
	owner.Do("GET", "/api/v1/keys", nil, &keys)
	if len(keys.Keys) != 0 {
		t.Fatalf("%d keys exist after only bad requests, want 0", len(keys.Keys))
	}
}

// JSON has one number type: 24.0 and 2.4e1 are the integer 24 (the OpenAPI
// document says so too), while 1.5 is no integer.
func TestWholeNumbersAreIntegers(t *testing.T) {
	srv := servertest.Start(t, nil)
	owner := srv.SignUp("owner@example.com")
	for body, want := range map[string]string{
		`{"valid_hours": 24.0}`:   `"uses":0`,
		`{"valid_hours": 2.4e1}`:  `"uses":0`,
		`{"valid_hours": 1.5}`:    `"code":"bad_json"`,
		`{"valid_hours": 1e400}`:  `"code":"bad_json"`,
		`{"valid_hours": 9999.0}`: `"code":"bad_ttl"`,
	} {
		st, got := rawPost(t, srv.URL+"/api/v1/enrollment-tokens", owner.Token, "application/json", body)
		if !strings.Contains(got, want) {
			t.Errorf("%s: status %d body %s, want %s", body, st, got, want)
		}
	}
	var toks struct {
		Tokens []struct {
			CreatedAt time.Time `json:"created_at"`
			ExpiresAt time.Time `json:"expires_at"`
		}
	}
	owner.Do("GET", "/api/v1/enrollment-tokens", nil, &toks)
	if len(toks.Tokens) != 2 {
		t.Fatalf("%d tokens, want the 2 of the whole-number bodies", len(toks.Tokens))
	}
	for _, tok := range toks.Tokens {
		if d := tok.ExpiresAt.Sub(tok.CreatedAt); d != 24*time.Hour {
			t.Errorf("token valid for %v, want 24h", d)
		}
	}
}

func TestTelemetryQueryValidation(t *testing.T) {
	srv := servertest.Start(t, nil)
	owner := srv.SignUp("owner@example.com")
	a := srv.NewAgent("rig", "RTX 3060")
	if err := a.Pair(t.Context(), owner.PairingCode()); err != nil {
		t.Fatal(err)
	}
	id := a.State().DeviceID
	for q, want := range map[string]int{
		"?since=yesterday":            400,
		"?since=-5m":                  400,
		"?limit=0":                    400,
		"?limit=99999":                400,
		"?since=2026-01-02T03:04:05Z": 200,
		"?since=15m&limit=10":         200,
	} {
		if st := owner.Do("GET", "/api/v1/devices/"+id+"/telemetry"+q, nil, nil); st != want {
			t.Errorf("telemetry%s: status %d, want %d", q, st, want)
		}
	}
}

// Guessing pairing codes or passwords from one address is slowed down.
func TestSecretGuessingIsRateLimited(t *testing.T) {
	cfg := servertest.FastConfig(t.TempDir())
	cfg.RateLimit.Burst, cfg.RateLimit.Every = 5, 1<<62
	srv := servertest.Start(t, &cfg)
	c := srv.Anonymous()
	// Successes cost nothing: a farm enrolls many rigs from one address.
	owner := srv.SignUp("farm@example.com")
	for range 8 {
		a := srv.NewAgent("rig", "RTX 3060")
		if err := a.Pair(t.Context(), owner.PairingCode()); err != nil {
			t.Fatalf("pairing rig: %v", err)
		}
	}
	var last int
	for range 6 {
		last = c.Do("POST", "/api/v1/auth/login", map[string]string{"email": "x@example.com", "password": "wrong password"}, nil)
	}
	if last != http.StatusTooManyRequests {
		t.Fatalf("6th sign-in try: status %d, want 429", last)
	}
	if st := c.Do("POST", "/api/v1/agent/pair", map[string]string{"code": "ABCD-EFGH"}, nil); st != http.StatusTooManyRequests {
		t.Fatalf("pairing from the same address: status %d, want 429", st)
	}
	if st := c.Do("GET", "/api/v1/explorer/stats", nil, nil); st != http.StatusOK {
		t.Fatalf("unlimited route: status %d, want 200", st)
	}
}

func TestSpeedTestEndpointsAreBounded(t *testing.T) {
	srv := servertest.Start(t, nil)
	resp, err := http.Get(srv.URL + "/api/v1/speedtest/download?bytes=3000000")
	if err != nil {
		t.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || n != 3_000_000 {
		t.Fatalf("download: status %d, %d bytes, want 200 and 3000000", resp.StatusCode, n)
	}
	for q, want := range map[string]int{"?bytes=0": 400, "?bytes=25000001": 400, "?bytes=lots": 400} {
		resp, _ := http.Get(srv.URL + "/api/v1/speedtest/download" + q)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("download%s: %d, want %d", q, resp.StatusCode, want)
		}
	}
	st, body := rawPost(t, srv.URL+"/api/v1/speedtest/upload", "", "application/octet-stream", strings.Repeat("x", 1_000_000))
	if st != 200 || !strings.Contains(body, `"bytes":1000000`) {
		t.Fatalf("upload: %d %s", st, body)
	}
	// The per-address budget: 100 MB per 10 minutes, 25 MB at once.
	statuses := map[int]int{}
	for range 6 {
		resp, err := http.Get(srv.URL + "/api/v1/speedtest/download?bytes=25000000")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		statuses[resp.StatusCode]++
		if resp.StatusCode == 429 && resp.Header.Get("Retry-After") == "" {
			t.Fatal("429 without Retry-After")
		}
	}
	if statuses[429] == 0 {
		t.Fatalf("six 25 MB downloads in a row were all served: %v", statuses)
	}
}
