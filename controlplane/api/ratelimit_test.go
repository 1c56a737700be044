package api_test

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/idlegrid/idlegrid/controlplane/api"
	"github.com/idlegrid/idlegrid/controlplane/servertest"
)

// Each account gets its own request budget: past it, 429 with a
// Retry-After that says when to come back; other accounts go on.
func TestPerAccountRateLimit(t *testing.T) {
	cfg := servertest.FastConfig(t.TempDir())
	cfg.RateLimit = api.RateLimit{Burst: 10000, Every: 1, UserPerSecond: 0.2, UserBurst: 3}
	srv := servertest.Start(t, &cfg)
	busy, calm := srv.SignUp("busy@example.com"), srv.SignUp("calm@example.com")
	var key struct{ Key string }
	if st := busy.Do("POST", "/api/v1/keys", map[string]string{"name": "ci"}, &key); st != http.StatusCreated {
		t.Fatalf("key: %d", st)
	}
	viaKey := srv.Anonymous()
	viaKey.Token = key.Key // the same account by API key shares its budget
	for i := range 2 {
		if st := viaKey.Do("GET", "/api/v1/me", nil, nil); st != http.StatusOK {
			t.Fatalf("request %d within the burst: %d", i+2, st)
		}
	}
	req, _ := http.NewRequest("GET", srv.URL+"/api/v1/me", nil)
	req.Header.Set("Authorization", "Bearer "+busy.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	wait, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	if resp.StatusCode != http.StatusTooManyRequests || wait < 1 || wait > 5 {
		t.Fatalf("past the burst: %d, Retry-After %q (want 429 and 1..5 s at 0.2 requests/s)", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if st := calm.Do("GET", "/api/v1/me", nil, nil); st != http.StatusOK {
		t.Fatalf("another account was slowed down too: %d", st)
	}
	if st := srv.Anonymous().Do("GET", "/api/v1/explorer/stats", nil, nil); st != http.StatusOK {
		t.Fatalf("public routes were slowed down: %d", st)
	}
}
