package agent

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/idlegrid/idlegrid/shared/proto"
)

func TestKeyIsCreatedPrivateAndReloaded(t *testing.T) {
	dir := t.TempDir()
	a, err := New(Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, keyFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("key mode %v, want 0600", fi.Mode().Perm())
	}
	b, err := New(Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if !a.PublicKey().Equal(b.PublicKey()) {
		t.Fatal("reloading the data dir gave a different device key")
	}
	if a.Paired() || a.Status().Conn != ConnUnpaired {
		t.Fatalf("fresh agent: paired=%v conn=%q, want unpaired", a.Paired(), a.Status().Conn)
	}
	if err := a.Serve(t.Context()); !errors.Is(err, ErrNotPaired) {
		t.Fatalf("Serve before pairing = %v, want ErrNotPaired", err)
	}
}

func TestKeyReadableByOthersIsRefused(t *testing.T) {
	dir := t.TempDir()
	if _, err := New(Config{DataDir: dir}); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, keyFile), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := New(Config{DataDir: dir})
	if err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("New with a world-readable key = %v, want advice to chmod 600", err)
	}
}

// A server that only speaks newer protocols: the agent stops retrying and
// says, in words, to update.
func TestOutdatedAgentSaysUpdate(t *testing.T) {
	hub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		nonce, _ := proto.NewNonce()
		b, _ := proto.Encode(proto.TypeHello, proto.Hello{MinProtocol: proto.Protocol + 1, MaxProtocol: proto.Protocol + 2, Nonce: nonce})
		_ = ws.WriteMessage(websocket.TextMessage, b)
		_, _, _ = ws.ReadMessage()
	}))
	defer hub.Close()
	dir := t.TempDir()
	if err := saveState(dir, State{DeviceID: "dev_x", ServerURL: hub.URL}); err != nil {
		t.Fatal(err)
	}
	a, err := New(Config{DataDir: dir, MinBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	err = a.Serve(t.Context())
	var ve *proto.VersionError
	if !errors.As(err, &ve) {
		t.Fatalf("Serve = %v, want a *proto.VersionError", err)
	}
	if !strings.Contains(err.Error(), "update Idlegrid") {
		t.Fatalf("message %q does not tell the user to update", err)
	}
	if st := a.Status(); st.Conn != ConnOutdated || st.LastError == "" {
		t.Fatalf("status = %+v, want outdated with the reason", st)
	}
}

func TestCloseCodesBecomeTypedErrors(t *testing.T) {
	cases := []struct {
		name  string
		code  int
		text  string
		check func(error) bool
	}{
		{"version", proto.CloseVersion, "protocol 1 unsupported: server speaks 2..3", func(err error) bool {
			var ve *proto.VersionError
			return errors.As(err, &ve) && ve.ServerMin == 2 && ve.ServerMax == 3
		}},
		{"removed", proto.CloseDeviceRemoved, "this device was removed by its owner", func(err error) bool {
			var re *RemovedError
			return errors.As(err, &re) && strings.Contains(err.Error(), "removed by its owner")
		}},
		{"unknown", proto.CloseUnknownDevice, "unknown device", func(err error) bool {
			var re *RemovedError
			return errors.As(err, &re)
		}},
		{"going away is retried", websocket.CloseGoingAway, "server shutting down", func(err error) bool {
			var ce *CloseError
			return errors.As(err, &ce) && ce.Code == websocket.CloseGoingAway
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := classify(&websocket.CloseError{Code: tc.code, Text: tc.text})
			if !tc.check(err) {
				t.Fatalf("classify(%d %q) = %T %v", tc.code, tc.text, err, err)
			}
		})
	}
}

func TestWSURL(t *testing.T) {
	cases := map[string]string{
		"http://127.0.0.1:8080":        "ws://127.0.0.1:8080/api/v1/agent/connect",
		"https://grid.example.com/":    "wss://grid.example.com/api/v1/agent/connect",
		"https://example.com/idlegrid": "wss://example.com/idlegrid/api/v1/agent/connect",
	}
	for in, want := range cases {
		got, err := wsURL(in)
		if err != nil || got != want {
			t.Errorf("wsURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := wsURL("ftp://x"); err == nil {
		t.Error("wsURL accepted ftp://")
	}
}

func TestNormalizeCodeMatchesWhatPeopleType(t *testing.T) {
	for _, in := range []string{"k7qm-3xrt", "K7QM3XRT", " k7qm 3xrt "} {
		if got := normalizeCode(in); got != "K7QM-3XRT" {
			t.Errorf("normalizeCode(%q) = %q, want K7QM-3XRT", in, got)
		}
	}
}

// A paired device follows its server to a new address and remembers it;
// nonsense is refused and an unpaired device has nothing to move.
func TestRelocate(t *testing.T) {
	dir := t.TempDir()
	a, err := New(Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Relocate("http://127.0.0.1:9"); !errors.Is(err, ErrNotPaired) {
		t.Fatalf("unpaired: %v", err)
	}
	if err := saveState(dir, State{DeviceID: "dev_x", ServerURL: "http://old:8080"}); err != nil {
		t.Fatal(err)
	}
	a, _ = New(Config{DataDir: dir})
	if err := a.Relocate("grid.example.com"); err == nil {
		t.Fatal("a URL without a scheme was taken")
	}
	if err := a.Relocate("http://new:8081/"); err != nil {
		t.Fatal(err)
	}
	again, _ := New(Config{DataDir: dir})
	if got := again.State().ServerURL; got != "http://new:8081" {
		t.Fatalf("after a restart the device points at %q", got)
	}
}
