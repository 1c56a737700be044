package api_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/idlegrid/idlegrid/assets"
	"github.com/idlegrid/idlegrid/controlplane/api"
	"github.com/idlegrid/idlegrid/controlplane/cluster"
	"github.com/idlegrid/idlegrid/controlplane/servertest"
	"github.com/idlegrid/idlegrid/controlplane/store"
	"github.com/idlegrid/idlegrid/shared/proto"
	"github.com/idlegrid/idlegrid/shared/wallet"
)

// fixture is what one access case works on: an owner with a device, a key
// and an enrollment token, and a stranger with an account of their own.
type fixture struct {
	srv          *servertest.Server
	owner, other *servertest.Client
	deviceID     string
	keyID        string
	tokenID      string
	clusterID    string
	ownerID      string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	cfg := servertest.FastConfig(t.TempDir())
	cfg.Cluster.Tick = time.Hour // the fixture's cluster has no nodes: keep the manager off it
	srv := servertest.Start(t, &cfg)
	f := &fixture{srv: srv, owner: srv.SignUp("owner@example.com"), other: srv.SignUp("other@example.com")}
	f.deviceID = f.pairBody(t)["__device"].(string)
	var k struct{ ID string }
	if st := f.owner.Do("POST", "/api/v1/keys", map[string]string{"name": "ci"}, &k); st != http.StatusCreated {
		t.Fatalf("creating key: %d", st)
	}
	var tok struct{ ID string }
	if st := f.owner.Do("POST", "/api/v1/enrollment-tokens", map[string]any{"name": "rack"}, &tok); st != http.StatusCreated {
		t.Fatalf("creating token: %d", st)
	}
	f.keyID, f.tokenID = k.ID, tok.ID
	f.clusterID, f.ownerID = runningCluster(t, srv, "owner@example.com")
	return f
}

// runningCluster stores a ready cluster of email's account without nodes.
func runningCluster(t *testing.T, srv *servertest.Server, email string) (clusterID, ownerID string) {
	t.Helper()
	u, err := store.UserByEmail(t.Context(), srv.Srv.Store.Reader(), email)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	c := store.Cluster{ID: cluster.NewID("cls_"), OwnerID: u.ID, Request: `{"gpus":1,"hours":1}`, Runtime: "ray", State: store.ClusterRunning, GPUs: 1, Hours: 1, PricePerHour: 300_000, CreatedAt: now}
	err = srv.Srv.Store.Write(t.Context(), func(tx *sql.Tx) error {
		if err := store.InsertCluster(t.Context(), tx, c); err != nil {
			return err
		}
		return store.SetClusterReady(t.Context(), tx, c.ID, now, now.Add(time.Hour))
	})
	if err != nil {
		t.Fatal(err)
	}
	return c.ID, u.ID
}

// pairBody returns a valid pairing request for a fresh key and code of the
// owner's; with "__device" set to the id once paired, when asked to pair.
func (f *fixture) pairBody(t *testing.T) map[string]any {
	t.Helper()
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	code := f.owner.PairingCode()
	body := map[string]any{"code": code, "public_key": []byte(key.Public().(ed25519.PublicKey)), "signature": proto.SignPairing(key, code), "name": "rig"}
	var out struct {
		DeviceID string `json:"device_id"`
	}
	if f.deviceID == "" {
		if st := f.srv.Anonymous().Do("POST", "/api/v1/agent/pair", body, &out); st != http.StatusCreated {
			t.Fatalf("pairing: %d", st)
		}
		body["__device"] = out.DeviceID
	}
	return body
}

// Every route × {anonymous, another account, the owner}: who gets in, and
// someone else's objects look like they don't exist.
func TestEveryRouteByWhoAsks(t *testing.T) {
	type want struct{ anon, other, owner int }
	public := func(s int) want { return want{s, s, s} }
	mine := func(s int) want { return want{401, s, s} }
	owned := func(s int) want { return want{401, 404, s} }

	cases := map[string]struct {
		path  string
		body  func(f *fixture, t *testing.T) any
		want  want
		token bool // Public, but guarded by a token of its own
	}{
		"GET /healthz":             {want: public(200)},
		"GET /api/v1/openapi.json": {want: public(200)},
		"POST /api/v1/auth/signup": {body: func(f *fixture, t *testing.T) any {
			return map[string]string{"email": fmt.Sprintf("new%d@example.com", nextID()), "password": "correct horse battery"}
		}, want: public(201)},
		"POST /api/v1/auth/login": {body: func(f *fixture, t *testing.T) any {
			return map[string]string{"email": "owner@example.com", "password": "correct horse battery"}
		}, want: public(200)},
		"POST /api/v1/auth/logout":              {want: mine(204)},
		"GET /api/v1/me":                        {want: mine(200)},
		"GET /api/v1/keys":                      {want: mine(200)},
		"POST /api/v1/keys":                     {body: func(*fixture, *testing.T) any { return map[string]string{"name": "k"} }, want: mine(201)},
		"DELETE /api/v1/keys/{id}":              {path: "/api/v1/keys/KEY", want: owned(204)},
		"POST /api/v1/pairing-codes":            {want: mine(201)},
		"GET /api/v1/enrollment-tokens":         {want: mine(200)},
		"POST /api/v1/enrollment-tokens":        {body: func(*fixture, *testing.T) any { return map[string]any{"name": "t", "valid_hours": 5} }, want: mine(201)},
		"DELETE /api/v1/enrollment-tokens/{id}": {path: "/api/v1/enrollment-tokens/TOKEN", want: owned(204)},
		"POST /api/v1/agent/pair":               {body: func(f *fixture, t *testing.T) any { return f.pairBody(t) }, want: public(201)},
		"GET /api/v1/agent/connect":             {want: public(400)}, // not a websocket upgrade
		"GET /api/v1/devices":                   {want: mine(200)},
		"GET /api/v1/devices/{id}":              {path: "/api/v1/devices/DEVICE", want: owned(200)},
		"PATCH /api/v1/devices/{id}":            {path: "/api/v1/devices/DEVICE", body: func(*fixture, *testing.T) any { return map[string]string{"name": "renamed"} }, want: owned(200)},
		"DELETE /api/v1/devices/{id}":           {path: "/api/v1/devices/DEVICE", want: owned(204)},
		"GET /api/v1/devices/{id}/telemetry":    {path: "/api/v1/devices/DEVICE/telemetry", want: owned(200)},
		"GET /api/v1/devices/{id}/benchmarks":   {path: "/api/v1/devices/DEVICE/benchmarks", want: owned(200)},
		"POST /api/v1/devices/{id}/verify":      {path: "/api/v1/devices/DEVICE/verify", want: owned(409)}, // the fixture device is not connected
		"GET /api/v1/explorer/stats":            {want: public(200)},
		"POST /api/v1/clusters/quote":           {body: func(*fixture, *testing.T) any { return map[string]int{"gpus": 1, "hours": 1} }, want: want{401, 409, 409}}, // the fixture device is offline: no supply
		"POST /api/v1/clusters":                 {body: func(*fixture, *testing.T) any { return map[string]int{"gpus": 1, "hours": 1} }, want: want{401, 409, 409}}, // no supply
		"GET /api/v1/clusters":                  {want: mine(200)},
		"GET /api/v1/clusters/{id}":             {path: "/api/v1/clusters/CLUSTER", want: owned(200)},
		"POST /api/v1/clusters/{id}/extend":     {path: "/api/v1/clusters/CLUSTER/extend", body: func(*fixture, *testing.T) any { return map[string]int{"hours": 1} }, want: owned(402)}, // no credit
		"DELETE /api/v1/clusters/{id}":          {path: "/api/v1/clusters/CLUSTER", want: owned(202)},
		"GET /api/v1/clusters/{id}/tunnel":      {path: "/api/v1/clusters/CLUSTER/tunnel?port=client", want: owned(400)}, // not a websocket upgrade
		"GET /ray/{token}/{path...}":            {path: "/ray/DASHBOARD/", want: public(502), token: true},               // the link is the credential; this head has no tunnel
		"POST /ray/{token}/{path...}":           {path: "/ray/DASHBOARD/api/jobs/", body: func(*fixture, *testing.T) any { return map[string]string{"entrypoint": "true"} }, want: public(502), token: true},
		"GET /api/v1/agent/tunnel":              {want: public(401), token: true}, // a head's tunnel token, not an account
		"GET /api/v1/billing":                   {want: mine(200)},
		"POST /api/v1/billing/faucet":           {want: mine(404)}, // not a demo server: no faucet
		"GET /api/v1/billing/statement":         {path: "/api/v1/billing/statement?month=2026-11", want: mine(200)},
		"GET /api/v1/earnings":                  {want: mine(200)},
		"GET /api/v1/payouts":                   {want: mine(200)},
		"PUT /api/v1/me/wallet": {body: func(*fixture, *testing.T) any {
			pub, _, _ := ed25519.GenerateKey(rand.Reader)
			return map[string]string{"address": wallet.EncodeBase58(pub)}
		}, want: mine(200)},
		"PUT /api/v1/me/webhook":          {body: func(*fixture, *testing.T) any { return map[string]string{"url": "https://hooks.example.com/x"} }, want: mine(200)},
		"GET /api/v1/me/webhook":          {want: mine(404)}, // none set in the fixture
		"DELETE /api/v1/me/webhook":       {want: mine(404)},
		"GET /api/v1/receipts":            {want: mine(200)},
		"GET /api/v1/receipts/public-key": {want: public(200)},
		"GET /api/v1/speedtest/ping":      {want: public(204)},
		"GET /api/v1/speedtest/download":  {path: "/api/v1/speedtest/download?bytes=1000", want: public(200)},
		"POST /api/v1/speedtest/upload":   {body: func(*fixture, *testing.T) any { return map[string]string{"pad": "x"} }, want: public(200)},
	}
	for _, rt := range api.Routes() {
		name := rt.Method + " " + rt.Path
		tc, ok := cases[name]
		if !ok {
			t.Errorf("route %s has no access case: add one", name)
			continue
		}
		delete(cases, name)
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			path := tc.path
			if path == "" {
				path = rt.Path
			}
			path = strings.NewReplacer("DEVICE", f.deviceID, "KEY", f.keyID, "TOKEN", f.tokenID, "CLUSTER", f.clusterID, "DASHBOARD", f.srv.Srv.Clusters.DashboardToken(f.clusterID, f.ownerID)).Replace(path)
			// Fresh sessions, so a sign-out case can't sign out the fixture.
			other, owner := *f.other, *f.owner
			other.Token = signIn(t, f, "other@example.com")
			owner.Token = signIn(t, f, "owner@example.com")
			for _, who := range []struct {
				label string
				c     *servertest.Client
				want  int
			}{{"anonymous", f.srv.Anonymous(), tc.want.anon}, {"another account", &other, tc.want.other}, {"owner", &owner, tc.want.owner}} {
				var body any
				if tc.body != nil {
					body = tc.body(f, t)
				}
				if got := who.c.Do(rt.Method, path, body, nil); got != who.want {
					t.Errorf("%s: status %d, want %d", who.label, got, who.want)
				}
			}
			if rt.Access == api.Public && tc.want.anon == 401 && !tc.token {
				t.Errorf("route is Public but the case expects 401 for anonymous")
			}
		})
	}
	for name := range cases {
		t.Errorf("access case %q matches no route", name)
	}
}

var idSeq int

func nextID() int { idSeq++; return idSeq }

func signIn(t *testing.T, f *fixture, email string) string {
	tok, _, err := f.srv.Srv.Accounts.SignIn(t.Context(), email, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// A stranger's attempts change nothing.
func TestOtherAccountCannotTouchMyDevice(t *testing.T) {
	f := newFixture(t)
	f.other.Do("PATCH", "/api/v1/devices/"+f.deviceID, map[string]string{"name": "stolen"}, nil)
	f.other.Do("DELETE", "/api/v1/devices/"+f.deviceID, nil, nil)
	var d struct{ Name string }
	if st := f.owner.Do("GET", "/api/v1/devices/"+f.deviceID, nil, &d); st != http.StatusOK || d.Name != "rig" {
		t.Fatalf("after a stranger's rename and delete: status %d name %q, want 200 and unchanged", st, d.Name)
	}
	if ds := f.other.Devices(); len(ds) != 0 {
		t.Fatalf("the stranger lists %d devices, want 0", len(ds))
	}
}

// The OpenAPI document lists exactly the routes the server serves.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(assets.OpenAPI, &doc); err != nil {
		t.Fatalf("openapi.json is not valid JSON: %v", err)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			switch method {
			case "get", "post", "put", "patch", "delete":
				documented[strings.ToUpper(method)+" "+path] = true
			}
		}
	}
	served := map[string]bool{}
	for _, rt := range api.Routes() {
		// OpenAPI writes a trailing wildcard {path...} as {path}.
		served[rt.Method+" "+strings.ReplaceAll(rt.Path, "...}", "}")] = true
	}
	var missing, extra []string
	for r := range served {
		if !documented[r] {
			missing = append(missing, r)
		}
	}
	for r := range documented {
		if !served[r] {
			extra = append(extra, r)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Fatalf("openapi.json out of date:\n  served but not documented: %v\n  documented but not served: %v", missing, extra)
	}
}
