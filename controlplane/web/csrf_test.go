package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/idlegrid/idlegrid/controlplane/api"
	"github.com/idlegrid/idlegrid/controlplane/servertest"
	"github.com/idlegrid/idlegrid/controlplane/store"
)

// A signed-in user's browser tricked by another site into posting a form
// or calling the API with the session cookie: refused, nothing changes.
func TestCrossSiteRequestsWithASessionAreRefused(t *testing.T) {
	srv := servertest.Start(t, nil)
	renter := srv.SignUp("renter@example.com")
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, c := range []struct{ path, ctype, body string }{
		{"/deploy", "application/x-www-form-urlencoded", url.Values{"gpus": {"1"}, "hours": {"1"}}.Encode()},
		{"/keys", "application/x-www-form-urlencoded", url.Values{"name": {"stolen"}}.Encode()},
		{"/api/v1/keys", "application/json", `{"name":"stolen"}`},
		{"/api/v1/clusters", "text/plain", `{"gpus":1,"hours":1}`},
	} {
		req, _ := http.NewRequest("POST", srv.URL+c.path, strings.NewReader(c.body))
		req.Header.Set("Content-Type", c.ctype)
		req.Header.Set("Origin", "https://evil.example")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		req.AddCookie(&http.Cookie{Name: api.SessionCookie, Value: renter.Token})
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("cross-site POST %s: %d, want 403", c.path, resp.StatusCode)
		}
	}
	u, _ := store.UserByEmail(t.Context(), srv.Srv.Store.Reader(), "renter@example.com")
	keys, err := store.ListAPIKeys(t.Context(), srv.Srv.Store.Reader(), u.ID)
	if err != nil || len(keys) != 0 {
		t.Fatalf("a cross-site request created keys: %v %v", keys, err)
	}
	// The same form from the console itself goes through.
	req, _ := http.NewRequest("POST", srv.URL+"/keys", strings.NewReader(url.Values{"name": {"mine"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", srv.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.AddCookie(&http.Cookie{Name: api.SessionCookie, Value: renter.Token})
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("same-origin key form: %d", resp.StatusCode)
	}
}
