package web_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/idlegrid/idlegrid/controlplane/api"
	"github.com/idlegrid/idlegrid/controlplane/cluster"
	"github.com/idlegrid/idlegrid/controlplane/servertest"
	"github.com/idlegrid/idlegrid/controlplane/store"
	"github.com/idlegrid/idlegrid/controlplane/web"
	"github.com/idlegrid/idlegrid/shared/wallet"
)

// pageFixture: an owner with a device, an API key, an enrollment token
// and a cluster; a stranger with an account of their own.
type pageFixture struct {
	srv                                  *servertest.Server
	owner, other                         string // session tokens
	device, key, token, cluster, ownerID string
}

func newPageFixture(t *testing.T) *pageFixture {
	t.Helper()
	cfg := servertest.FastConfig(t.TempDir())
	cfg.Cluster.Tick = time.Hour // the fixture's cluster has no nodes: keep the manager off it
	srv := servertest.Start(t, &cfg)
	owner, other := srv.SignUp("owner@example.com"), srv.SignUp("other@example.com")
	f := &pageFixture{srv: srv, owner: owner.Token, other: other.Token}
	a := srv.NewAgent("rig", "RTX 4090")
	if err := a.Pair(t.Context(), owner.PairingCode()); err != nil {
		t.Fatal(err)
	}
	f.device = a.State().DeviceID
	var k struct{ ID string }
	if st := owner.Do("POST", "/api/v1/keys", map[string]string{"name": "ci"}, &k); st != http.StatusCreated {
		t.Fatalf("key: %d", st)
	}
	var tok struct{ ID string }
	if st := owner.Do("POST", "/api/v1/enrollment-tokens", map[string]any{"name": "rack"}, &tok); st != http.StatusCreated {
		t.Fatalf("token: %d", st)
	}
	f.key, f.token = k.ID, tok.ID
	u, _ := store.UserByEmail(t.Context(), srv.Srv.Store.Reader(), "owner@example.com")
	f.ownerID = u.ID
	now := time.Now()
	c := store.Cluster{ID: cluster.NewID("cls_"), OwnerID: u.ID, Request: `{"gpus":1,"hours":1}`, Runtime: "ray", State: store.ClusterRunning, GPUs: 1, Hours: 1, PricePerHour: 300_000, CreatedAt: now}
	err := srv.Srv.Store.Write(t.Context(), func(tx *sql.Tx) error {
		if err := store.InsertCluster(t.Context(), tx, c); err != nil {
			return err
		}
		return store.SetClusterReady(t.Context(), tx, c.ID, now, now.Add(time.Hour))
	})
	if err != nil {
		t.Fatal(err)
	}
	f.cluster = c.ID
	return f
}

// do sends a console request as the holder of session (none: anonymous),
// from the console's own origin, and returns the status without following
// redirects. Streams are closed once their status is known.
func (f *pageFixture) do(t *testing.T, session, method, path string, form url.Values) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, method, f.srv.URL+path, strings.NewReader(form.Encode()))
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", f.srv.URL)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	if session != "" {
		req.AddCookie(&http.Cookie{Name: api.SessionCookie, Value: session})
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	resp.Body.Close()
	if session == "" && resp.StatusCode == http.StatusSeeOther && !strings.HasPrefix(resp.Header.Get("Location"), "/login") &&
		!strings.HasPrefix(path, "/explorer") && path != "/" && path != "/login" && path != "/signup" {
		t.Errorf("%s %s sent an anonymous visitor to %s, not to sign in", method, path, resp.Header.Get("Location"))
	}
	return resp.StatusCode
}

// Every console page and form × {anonymous, another account, the owner}:
// anonymous visitors are sent to sign in, others' objects don't exist.
func TestEveryPageByWhoAsks(t *testing.T) {
	type want struct{ anon, other, owner int }
	const see, ok, nf = http.StatusSeeOther, http.StatusOK, http.StatusNotFound
	public := func(s int) want { return want{s, s, s} }
	mine := func(s int) want { return want{see, s, s} }
	owned := func(s int) want { return want{see, nf, s} }
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	cases := map[string]struct {
		path string
		form url.Values
		want want
	}{
		"GET /{$}":                        {path: "/", want: public(see)},
		"GET /login":                      {want: want{ok, see, see}},
		"POST /login":                     {form: url.Values{"email": {"owner@example.com"}, "password": {"correct horse battery"}}, want: public(see)},
		"POST /signup":                    {form: url.Values{"password": {"correct horse battery"}}, want: public(see)},
		"POST /logout":                    {want: mine(see)},
		"GET /keys":                       {want: mine(ok)},
		"POST /keys":                      {form: url.Values{"name": {"k"}}, want: mine(ok)},
		"POST /keys/{id}/revoke":          {path: "/keys/KEY/revoke", want: owned(see)},
		"GET /deploy":                     {want: mine(ok)},
		"POST /deploy":                    {form: url.Values{"gpus": {"1"}, "hours": {"1"}}, want: mine(http.StatusConflict)}, // the rig is offline: no supply
		"GET /clusters":                   {want: mine(ok)},
		"GET /clusters/{id}":              {path: "/clusters/CLUSTER", want: owned(ok)},
		"GET /clusters/{id}/live":         {path: "/clusters/CLUSTER/live", want: owned(ok)},
		"POST /clusters/{id}/extend":      {path: "/clusters/CLUSTER/extend", form: url.Values{"hours": {"1"}}, want: owned(see)},
		"POST /clusters/{id}/terminate":   {path: "/clusters/CLUSTER/terminate", want: owned(see)},
		"GET /billing":                    {want: mine(ok)},
		"POST /billing/faucet":            {want: mine(see)}, // not a demo server: refused, with the reason shown
		"GET /devices":                    {want: mine(ok)},
		"GET /devices/live":               {want: mine(ok)},
		"POST /devices/pairing-code":      {want: mine(ok)},
		"POST /devices/enrollment-tokens": {form: url.Values{"name": {"rack 2"}, "days": {"7"}}, want: mine(ok)},
		"POST /devices/enrollment-tokens/{id}/revoke": {path: "/devices/enrollment-tokens/TOKEN/revoke", want: owned(see)},
		"GET /devices/{id}":                           {path: "/devices/DEVICE", want: owned(ok)},
		"GET /devices/{id}/live":                      {path: "/devices/DEVICE/live", want: owned(ok)},
		"POST /devices/{id}/rename":                   {path: "/devices/DEVICE/rename", form: url.Values{"name": {"renamed"}}, want: owned(see)},
		"POST /devices/{id}/remove":                   {path: "/devices/DEVICE/remove", form: url.Values{"confirm": {"on"}}, want: owned(see)},
		"GET /earnings":                               {want: mine(ok)},
		"POST /earnings/wallet":                       {form: url.Values{"address": {wallet.EncodeBase58(pub)}}, want: mine(see)},
		"GET /explorer":                               {want: public(ok)},
		"GET /explorer/live":                          {want: public(ok)},
		"GET /explorer/clusters":                      {want: public(ok)},
		"GET /explorer/devices/{id}":                  {path: "/explorer/devices/DEVICE", want: public(ok)},
		"GET /explorer/payouts":                       {want: public(ok)},
	}
	n := 0
	for _, rt := range web.Routes() {
		name := rt.Method + " " + rt.Path
		tc, found := cases[name]
		if !found {
			t.Errorf("page %s has no access case: add one", name)
			continue
		}
		delete(cases, name)
		t.Run(name, func(t *testing.T) {
			f := newPageFixture(t)
			path := tc.path
			if path == "" {
				path = rt.Path
			}
			path = strings.NewReplacer("DEVICE", f.device, "KEY", f.key, "TOKEN", f.token, "CLUSTER", f.cluster).Replace(path)
			for _, who := range []struct {
				label   string
				session string
				want    int
			}{{"anonymous", "", tc.want.anon}, {"another account", f.other, tc.want.other}, {"owner", f.owner, tc.want.owner}} {
				form := tc.form
				if rt.Path == "/signup" {
					n++
					form = url.Values{"email": {fmt.Sprintf("new%d@example.com", n)}, "password": {"correct horse battery"}}
				}
				if got := f.do(t, who.session, rt.Method, path, form); got != who.want {
					t.Errorf("%s: status %d, want %d", who.label, got, who.want)
				}
			}
		})
	}
	for name := range cases {
		t.Errorf("access case %q matches no page", name)
	}
}
