package main

import (
	"bytes"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/idlegrid/idlegrid/controlplane/servertest"
	"github.com/idlegrid/idlegrid/controlplane/store"
)

// ctl runs the CLI once and returns its exit code, stdout and stderr.
func ctl(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(t.Context(), args, func(k string) string { return env[k] }, &out, &errb)
	return code, out.String(), errb.String()
}

// A requester's whole session with the CLI against a live control plane
// and simulated suppliers: quote, deploy with progress, list, status,
// extend, terminate.
func TestRequesterSession(t *testing.T) {
	srv := servertest.Start(t, nil)
	gamer, renter := srv.SignUp("gamer@example.com"), srv.SignUp("renter@example.com")
	for i := range 3 {
		a := srv.NewAgent(fmt.Sprintf("rig%d", i), "RTX 4090")
		if err := a.Pair(t.Context(), gamer.PairingCode()); err != nil {
			t.Fatal(err)
		}
		servertest.RunAgent(t, a)
	}
	servertest.Eventually(t, 10*time.Second, "rigs online", func() bool {
		n := 0
		for _, d := range gamer.Devices() {
			if d.State == "online" {
				n++
			}
		}
		return n == 3
	})
	var key struct{ Key string }
	if st := renter.Do("POST", "/api/v1/keys", map[string]string{"name": "cli"}, &key); st != http.StatusCreated {
		t.Fatalf("creating key: %d", st)
	}
	env := map[string]string{"IDLEGRID_SERVER": srv.URL, "IDLEGRID_API_KEY": key.Key}

	code, out, _ := ctl(t, env, "quote", "--gpus", "2", "--model", "4090", "--hours", "2")
	if code != 0 || !strings.Contains(out, "Not affordable yet") || strings.Count(out, "RTX 4090") != 2 {
		t.Fatalf("quote without credit: %d %q", code, out)
	}
	code, _, errOut := ctl(t, env, "deploy", "--gpus", "2")
	if code != 1 || !strings.Contains(errOut, "top up") {
		t.Fatalf("deploy without credit: %d %q", code, errOut)
	}
	u, _ := store.UserByEmail(t.Context(), srv.Srv.Store.Reader(), "renter@example.com")
	if _, err := srv.Srv.Ledger.TopUp(t.Context(), u.ID, 50_000_000, "seed", ""); err != nil {
		t.Fatal(err)
	}
	code, out, _ = ctl(t, env, "quote", "--gpus", "2", "--model", "4090", "--hours", "2")
	m := regexp.MustCompile(`Deploy it with: idlegridctl deploy --quote (quo_\w+)`).FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("quote with credit: %d %q", code, out)
	}
	code, out, errOut = ctl(t, env, "deploy", "--quote", m[1])
	id := strings.TrimSpace(out)
	if code != 0 || !strings.HasPrefix(id, "cls_") || !strings.Contains(errOut, "[running] 2 of 2 node(s) joined") || !strings.Contains(errOut, "ready after") {
		t.Fatalf("deploy: %d out %q err %q", code, out, errOut)
	}
	code, out, _ = ctl(t, env, "ls")
	if code != 0 || !strings.Contains(out, id) || !strings.Contains(out, "running") {
		t.Fatalf("ls: %d %q", code, out)
	}
	code, out, _ = ctl(t, env, "status", id)
	if code != 0 || strings.Count(out, "joined") < 2 || !strings.Contains(out, "head") || !strings.Contains(out, "Events:") {
		t.Fatalf("status: %d %q", code, out)
	}
	code, out, _ = ctl(t, env, "extend", id, "--hours", "3")
	if code != 0 || !strings.Contains(out, "now runs until") {
		t.Fatalf("extend: %d %q", code, out)
	}
	code, _, errOut = ctl(t, env, "forward", id, "--local", "127.0.0.1:0")
	if code != 1 || !strings.Contains(errOut, "simulated suppliers") {
		t.Fatalf("forward to a simulated cluster: %d %q", code, errOut)
	}
	code, out, _ = ctl(t, env, "terminate", id, "--wait", "20s")
	if code != 0 || !strings.Contains(out, "is terminated: every node stopped") {
		t.Fatalf("terminate: %d %q", code, out)
	}
	code, _, errOut = ctl(t, env, "forward", id)
	if code != 1 || !strings.Contains(errOut, "is terminated") {
		t.Fatalf("forward to a terminated cluster: %d %q", code, errOut)
	}
}

// Mistakes get a clear message and a usage exit code, and touch nothing.
func TestMistakesAreExplained(t *testing.T) {
	env := map[string]string{"IDLEGRID_SERVER": "http://127.0.0.1:1", "IDLEGRID_API_KEY": "igk_x"}
	for _, c := range []struct {
		env  map[string]string
		args []string
		code int
		want string
	}{
		{env, []string{"launch"}, 2, `unknown command "launch"`},
		{map[string]string{}, []string{"ls"}, 2, "IDLEGRID_SERVER"},
		{map[string]string{"IDLEGRID_SERVER": "http://x"}, []string{"ls"}, 2, "IDLEGRID_API_KEY"},
		{env, []string{"status"}, 2, "exactly one cluster id"},
		{env, []string{"forward", "cls_x", "22"}, 2, "forward 8265"},
		{env, []string{"quote", "--max-price", "1e3"}, 2, "--max-price"},
		{env, []string{"ls"}, 1, "cannot reach http://127.0.0.1:1"},
	} {
		code, _, errOut := ctl(t, c.env, c.args...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d %q, want %d and %q", c.args, code, errOut, c.code, c.want)
		}
	}
}
