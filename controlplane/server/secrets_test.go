package server_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/idlegrid/idlegrid/controlplane/servertest"
	"github.com/idlegrid/idlegrid/controlplane/store"
)

// A whole scenario — sign-up, API key, pairing, a farm token, a webhook, a
// cluster deployed and ended — then every log line (debug level up) and
// every answer of the API read back afterwards is searched for each secret
// in every encoding it could appear in.
func TestNoSecretInLogsOrAnswers(t *testing.T) {
	srv := servertest.Start(t, nil)
	const password = "correct horse battery" // servertest's
	owner := srv.SignUp("secret-owner@example.com")
	var key struct{ Key string }
	if st := owner.Do("POST", "/api/v1/keys", map[string]string{"name": "ci"}, &key); st != http.StatusCreated {
		t.Fatalf("key: %d", st)
	}
	var enroll struct{ Token string }
	if st := owner.Do("POST", "/api/v1/enrollment-tokens", map[string]any{"name": "rack"}, &enroll); st != http.StatusCreated || enroll.Token == "" {
		t.Fatalf("enrollment token: %d", st)
	}
	var hook struct{ Secret string }
	if st := owner.Do("PUT", "/api/v1/me/webhook", map[string]string{"url": "https://hooks.example.com/x"}, &hook); st != http.StatusOK {
		t.Fatalf("webhook: %d", st)
	}
	code := owner.PairingCode()
	a := srv.NewAgent("rig", "RTX 4090")
	if err := a.Pair(t.Context(), code); err != nil {
		t.Fatal(err)
	}
	stop, _ := servertest.RunAgent(t, a)
	defer stop()
	servertest.Eventually(t, 10*time.Second, "the rig online", func() bool { ds := owner.Devices(); return len(ds) == 1 && ds[0].State == "online" })
	// The device's private key, as the agent keeps it on disk (a hex seed
	// in device.key, in its own temp dir beside the server's).
	var devKey []byte
	_ = filepath.WalkDir(filepath.Dir(srv.Cfg.DataDir), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Base(p) == "device.key" {
			devKey, _ = os.ReadFile(p)
		}
		return nil
	})
	u, _ := store.UserByEmail(t.Context(), srv.Srv.Store.Reader(), "secret-owner@example.com")
	if _, err := srv.Srv.Ledger.TopUp(t.Context(), u.ID, 10_000_000, "seed", ""); err != nil {
		t.Fatal(err)
	}
	var c struct{ ID string }
	if st := owner.Do("POST", "/api/v1/clusters", map[string]any{"gpus": 1, "hours": 1}, &c); st != http.StatusCreated {
		t.Fatalf("deploy: %d", st)
	}
	servertest.Eventually(t, 10*time.Second, "cluster running", func() bool {
		var v struct{ State string }
		owner.Do("GET", "/api/v1/clusters/"+c.ID, nil, &v)
		return v.State == "running"
	})
	owner.Do("DELETE", "/api/v1/clusters/"+c.ID, nil, nil)

	// Everything a client can read back now.
	var answers strings.Builder
	for _, path := range []string{"/api/v1/me", "/api/v1/keys", "/api/v1/enrollment-tokens", "/api/v1/devices", "/api/v1/me/webhook",
		"/api/v1/clusters", "/api/v1/clusters/" + c.ID, "/api/v1/billing", "/api/v1/earnings", "/api/v1/payouts", "/api/v1/receipts", "/api/v1/explorer/stats"} {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+owner.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Fprintf(&answers, "%s %s\n", path, b)
	}
	secrets := map[string]string{
		"password": password, "session token": owner.Token, "API key": key.Key, "enrollment token": enroll.Token,
		"pairing code": code, "pairing code without dash": strings.ReplaceAll(code, "-", ""), "webhook secret": hook.Secret,
	}
	if len(devKey) == 0 {
		t.Fatal("the device key file was not found; the test must look for it where the agent keeps it")
	}
	seedHex := strings.TrimSpace(string(devKey))
	seed, err := hex.DecodeString(seedHex)
	if err != nil || len(seed) != ed25519.SeedSize {
		t.Fatalf("device.key is not a hex seed: %v", err)
	}
	secrets["device key (hex)"] = seedHex
	secrets["device key (base64)"] = base64.StdEncoding.EncodeToString(seed)
	secrets["device private key (base64)"] = base64.StdEncoding.EncodeToString(ed25519.NewKeyFromSeed(seed))
	if raw, err := hex.DecodeString(hook.Secret); err == nil {
		secrets["webhook secret (base64)"] = base64.StdEncoding.EncodeToString(raw)
	}
	logs := srv.Logs()
	if len(logs) < 1000 {
		t.Fatalf("only %d bytes of logs: the test is not reading them", len(logs))
	}
	for what, s := range secrets {
		if s == "" {
			t.Fatalf("%s is empty: the scenario did not make it", what)
		}
		if strings.Contains(logs, s) {
			t.Errorf("the %s appears in the logs", what)
		}
		if strings.Contains(answers.String(), s) {
			t.Errorf("the %s appears in an API answer read back later", what)
		}
	}
}
