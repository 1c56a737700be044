package api_test

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"github.com/idlegrid/idlegrid/controlplane/servertest"
)

// Every JSON body the API takes, with anything in it: a clear 4xx, never a
// 5xx, whoever sends it.
func FuzzRequestBodies(f *testing.F) {
	srv := servertest.Start(f, nil)
	owner := srv.SignUp("fuzz@example.com")
	routes := []struct{ method, path string }{
		{"POST", "/api/v1/auth/signup"}, {"POST", "/api/v1/auth/login"}, {"POST", "/api/v1/keys"},
		{"POST", "/api/v1/enrollment-tokens"}, {"POST", "/api/v1/agent/pair"}, {"POST", "/api/v1/clusters/quote"},
		{"POST", "/api/v1/clusters"}, {"POST", "/api/v1/clusters/cls_nosuchcluster1/extend"}, {"PATCH", "/api/v1/devices/dev_nosuchdevice1"},
		{"PUT", "/api/v1/me/wallet"}, {"PUT", "/api/v1/me/webhook"}, {"POST", "/api/v1/billing/faucet"},
	}
	for i, body := range []string{
		`{"email":"a@example.com","password":"correct horse battery"}`, `{"email":"fuzz@example.com","password":"x"}`, `{"name":"k"}`,
		`{"name":"rack","valid_hours":5}`, `{"code":"ABCD-EFGH","public_key":"AAAA","signature":"AAAA","name":"r"}`, `{"gpus":1,"hours":1}`,
		`{"gpus":2,"hours":3,"gpu_model":"4090","quote_id":"quo_x"}`, `{"hours":2}`, `{"name":"renamed"}`,
		`{"address":"11111111111111111111111111111111"}`, `{"url":"https://hooks.example.com/x"}`, `{}`,
	} {
		f.Add(uint8(i), []byte(body))
	}
	f.Add(uint8(6), []byte(`{"gpus":1e309,"hours":-1}`))
	f.Add(uint8(5), []byte(`{"gpus":99999999999999999999}`))
	client := &http.Client{Timeout: 10 * time.Second}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		rt := routes[int(which)%len(routes)]
		req, err := http.NewRequest(rt.method, srv.URL+rt.path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+owner.Token)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", rt.method, rt.path, err)
		}
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Fatalf("%s %s with %q: %d", rt.method, rt.path, body, resp.StatusCode)
		}
	})
}
