package hub_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/idlegrid/idlegrid/controlplane/servertest"
	"github.com/idlegrid/idlegrid/controlplane/store"
	"github.com/idlegrid/idlegrid/shared/hw"
	"github.com/idlegrid/idlegrid/shared/proto"
)

// device is a paired identity driven by hand, to send what a real agent
// never would.
type device struct {
	id  string
	key ed25519.PrivateKey
}

func pairDevice(t *testing.T, srv *servertest.Server, owner *servertest.Client) device {
	t.Helper()
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	code := owner.PairingCode()
	var out struct {
		DeviceID string `json:"device_id"`
	}
	st := srv.Anonymous().Do("POST", "/api/v1/agent/pair", map[string]any{
		"code": code, "public_key": []byte(key.Public().(ed25519.PublicKey)), "signature": proto.SignPairing(key, code), "name": "hand-made",
	}, &out)
	if st != http.StatusCreated {
		t.Fatalf("pairing: status %d", st)
	}
	return device{id: out.DeviceID, key: key}
}

func dial(t *testing.T, srv *servertest.Server) (*websocket.Conn, *proto.Hello) {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(strings.Replace(srv.URL, "http", "ws", 1)+"/api/v1/agent/connect", nil)
	if err != nil {
		t.Fatalf("dialing hub: %v", err)
	}
	t.Cleanup(func() { ws.Close() })
	_, data, err := ws.ReadMessage()
	if err != nil {
		t.Fatalf("reading hello: %v", err)
	}
	msg, err := proto.Decode(data)
	if err != nil {
		t.Fatalf("decoding hello: %v", err)
	}
	return ws, msg.(*proto.Hello)
}

func send(t *testing.T, ws *websocket.Conn, typ string, body any) {
	t.Helper()
	b, err := proto.Encode(typ, body)
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.WriteMessage(websocket.TextMessage, b); err != nil {
		t.Fatalf("sending %s: %v", typ, err)
	}
}

func auth(d device, nonce []byte) proto.Auth {
	return proto.Auth{Protocol: proto.Protocol, DeviceID: d.id, Signature: proto.SignAuth(d.key, nonce, d.id), AgentVersion: "hand",
		Inventory: proto.Inventory{GPUs: []hw.GPU{{Index: 0, UUID: "GPU-x", Name: "Test GPU", MemoryTotal: 8 << 30, Simulated: true}}}}
}

// expectClose reads until the server closes the link and checks the code.
func expectClose(t *testing.T, ws *websocket.Conn, code int, reasonHas string) {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err := ws.ReadMessage()
		if err == nil {
			continue // e.g. a welcome before the close
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) {
			t.Fatalf("link ended with %v, want close code %d", err, code)
		}
		if ce.Code != code || !strings.Contains(ce.Text, reasonHas) {
			t.Fatalf("closed with %d %q, want %d containing %q", ce.Code, ce.Text, code, reasonHas)
		}
		return
	}
}

func heartbeat(seq uint64) proto.Heartbeat {
	return proto.Heartbeat{Seq: seq, SentAt: time.Now(), State: proto.StateAvailable,
		GPUs: []hw.GPUSample{{Index: 0, UUID: "GPU-x", Name: "Test GPU", MemoryTotal: 8 << 30, MemoryUsed: 1 << 30, TempC: 50, PowerMW: 100000, PowerLimitMW: 200000, UtilPct: 40}}}
}

func lastSeq(t *testing.T, owner *servertest.Client, id string) uint64 {
	t.Helper()
	var out struct {
		Samples []struct{ Seq uint64 }
	}
	owner.Do("GET", "/api/v1/devices/"+id+"/telemetry?since=1h", nil, &out)
	if len(out.Samples) == 0 {
		return 0
	}
	return out.Samples[len(out.Samples)-1].Seq
}

type deviceView struct {
	State      string     `json:"state"`
	LastSeenAt *time.Time `json:"last_seen_at"`
	GPUs       []any      `json:"gpus"`
}

func samples(t *testing.T, owner *servertest.Client, id string) int {
	t.Helper()
	var out struct{ Samples []any }
	if st := owner.Do("GET", "/api/v1/devices/"+id+"/telemetry?since=1h", nil, &out); st != http.StatusOK {
		t.Fatalf("telemetry: status %d", st)
	}
	return len(out.Samples)
}

// Every broken rule closes the link with its own code and a reason in
// words, and leaves no trace: no telemetry, no last-seen, no inventory.
func TestBadAgentsAreClosedWithAReasonAndStoreNothing(t *testing.T) {
	srv := servertest.Start(t, nil)
	owner := srv.SignUp("owner@example.com")
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)

	cases := []struct {
		name   string
		act    func(t *testing.T, ws *websocket.Conn, d device, nonce []byte)
		code   int
		reason string
	}{
		{"wrong signature", func(t *testing.T, ws *websocket.Conn, d device, nonce []byte) {
			a := auth(d, nonce)
			a.Signature = proto.SignAuth(otherKey, nonce, d.id)
			send(t, ws, proto.TypeAuth, a)
		}, proto.CloseAuthFailed, "signature"},
		{"signature over another nonce", func(t *testing.T, ws *websocket.Conn, d device, nonce []byte) {
			stale := make([]byte, proto.NonceSize)
			send(t, ws, proto.TypeAuth, auth(d, stale))
		}, proto.CloseAuthFailed, "signature"},
		{"unknown device", func(t *testing.T, ws *websocket.Conn, d device, nonce []byte) {
			ghost := device{id: "dev_doesnotexist", key: d.key}
			send(t, ws, proto.TypeAuth, auth(ghost, nonce))
		}, proto.CloseUnknownDevice, "pair it again"},
		{"protocol too new", func(t *testing.T, ws *websocket.Conn, d device, nonce []byte) {
			a := auth(d, nonce)
			a.Protocol = proto.Protocol + 7
			send(t, ws, proto.TypeAuth, a)
		}, proto.CloseVersion, "unsupported"},
		{"malformed JSON", func(t *testing.T, ws *websocket.Conn, d device, nonce []byte) {
			_ = ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"auth","body":{"protocol":1,`))
		}, proto.CloseBadMessage, "malformed"},
		{"unknown field", func(t *testing.T, ws *websocket.Conn, d device, nonce []byte) {
			_ = ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"auth","body":{"protocol":1},"extra":true}`))
		}, proto.CloseBadMessage, "malformed"},
		{"heartbeat before auth", func(t *testing.T, ws *websocket.Conn, d device, nonce []byte) {
			send(t, ws, proto.TypeHeartbeat, heartbeat(1))
		}, proto.CloseBadMessage, "expected auth"},
		{"binary frame", func(t *testing.T, ws *websocket.Conn, d device, nonce []byte) {
			_ = ws.WriteMessage(websocket.BinaryMessage, []byte{1, 2, 3})
		}, proto.CloseBadMessage, "JSON text"},
		{"oversized message", func(t *testing.T, ws *websocket.Conn, d device, nonce []byte) {
			_ = ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"auth","body":"`+strings.Repeat("x", proto.MaxMessageBytes)+`"}`))
		}, websocket.CloseMessageTooBig, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := pairDevice(t, srv, owner)
			ws, hello := dial(t, srv)
			tc.act(t, ws, d, hello.Nonce)
			expectClose(t, ws, tc.code, tc.reason)
			var v deviceView
			if st := owner.Do("GET", "/api/v1/devices/"+d.id, nil, &v); st != http.StatusOK {
				t.Fatalf("device: status %d", st)
			}
			if v.LastSeenAt != nil || v.State != "offline" || len(v.GPUs) != 0 || samples(t, owner, d.id) != 0 {
				t.Fatalf("after a refused link the device shows %+v with %d samples, want never seen, no GPUs, no samples", v, samples(t, owner, d.id))
			}
		})
	}
}

// A good link stores heartbeats; duplicates and reordered ones are dropped;
// a bad message mid-stream closes it; removing the device closes it and
// nothing more is stored.
func TestHeartbeatsStoredOnceAndRemovedDeviceIsCut(t *testing.T) {
	srv := servertest.Start(t, nil)
	owner := srv.SignUp("owner@example.com")
	d := pairDevice(t, srv, owner)

	ws, hello := dial(t, srv)
	send(t, ws, proto.TypeAuth, auth(d, hello.Nonce))
	_, data, err := ws.ReadMessage()
	if err != nil {
		t.Fatalf("reading welcome: %v", err)
	}
	msg, err := proto.Decode(data)
	if _, ok := msg.(*proto.Welcome); err != nil || !ok {
		t.Fatalf("got %T %v, want welcome", msg, err)
	}
	for _, seq := range []uint64{1, 2, 2, 1, 3, 4} { // 2 and 1 again: duplicate and reordered
		send(t, ws, proto.TypeHeartbeat, heartbeat(seq))
	}
	// Samples are stored in arrival order, so once seq 4 is in, any
	// duplicate that slipped through would be in too.
	servertest.Eventually(t, 5*time.Second, "seq 4 stored", func() bool { return lastSeq(t, owner, d.id) == 4 })
	if n := samples(t, owner, d.id); n != 4 {
		t.Fatalf("stored %d samples, want 4 (duplicates and reordered dropped)", n)
	}

	if st := owner.Do("DELETE", "/api/v1/devices/"+d.id, nil, nil); st != http.StatusNoContent {
		t.Fatalf("delete: status %d", st)
	}
	expectClose(t, ws, proto.CloseDeviceRemoved, "removed")

	// The removed device can't come back with its old key.
	ws2, hello2 := dial(t, srv)
	send(t, ws2, proto.TypeAuth, auth(d, hello2.Nonce))
	expectClose(t, ws2, proto.CloseUnknownDevice, "pair it again")
	if st := owner.Do("GET", "/api/v1/devices/"+d.id+"/telemetry", nil, nil); st != http.StatusNotFound {
		t.Fatalf("telemetry of a removed device: status %d, want 404", st)
	}
	var n int
	if err := srv.Srv.Store.Reader().QueryRowContext(t.Context(), `SELECT count(*) FROM telemetry_host WHERE device_id = ?`, d.id).Scan(&n); err != nil || n != 0 {
		t.Fatalf("telemetry rows left for the removed device: %d (%v), want 0", n, err)
	}
}

func TestBadHeartbeatMidStreamClosesLink(t *testing.T) {
	srv := servertest.Start(t, nil)
	owner := srv.SignUp("owner@example.com")
	d := pairDevice(t, srv, owner)
	ws, hello := dial(t, srv)
	send(t, ws, proto.TypeAuth, auth(d, hello.Nonce))
	if _, _, err := ws.ReadMessage(); err != nil {
		t.Fatalf("welcome: %v", err)
	}
	send(t, ws, proto.TypeHeartbeat, heartbeat(1))
	servertest.Eventually(t, 5*time.Second, "first sample stored", func() bool { return samples(t, owner, d.id) == 1 })
	hb := heartbeat(2)
	hb.GPUs[0].UtilPct = 250
	b, _ := json.Marshal(hb)
	env, _ := json.Marshal(proto.Envelope{Type: proto.TypeHeartbeat, Body: b})
	_ = ws.WriteMessage(websocket.TextMessage, env)
	expectClose(t, ws, proto.CloseBadMessage, "percentages")
	srv.Restart() // a stop stores everything still queued
	if n := samples(t, owner, d.id); n != 1 {
		t.Fatalf("stored %d samples, want only the good one", n)
	}
}

// When a link ends, the stored last_seen_at becomes its last heartbeat's
// time exactly, though a live device's is written only now and then: a lost
// cluster node is billed up to that time.
func TestLastHeartbeatIsStoredWhenTheLinkEnds(t *testing.T) {
	srv := servertest.Start(t, nil)
	owner := srv.SignUp("owner@example.com")
	d := pairDevice(t, srv, owner)
	ws, hello := dial(t, srv)
	send(t, ws, proto.TypeAuth, auth(d, hello.Nonce))
	if _, _, err := ws.ReadMessage(); err != nil { // welcome
		t.Fatal(err)
	}
	// The first heartbeat's time is written; the next four follow within
	// a third of the offline time, so theirs is not.
	send(t, ws, proto.TypeHeartbeat, heartbeat(1))
	servertest.Eventually(t, 5*time.Second, "seq 1 stored", func() bool { return lastSeq(t, owner, d.id) == 1 })
	for seq := uint64(2); seq <= 5; seq++ {
		send(t, ws, proto.TypeHeartbeat, heartbeat(seq))
	}
	servertest.Eventually(t, 5*time.Second, "seq 5 stored", func() bool { return lastSeq(t, owner, d.id) == 5 })
	live, ok := srv.Srv.Hub.Live(d.id)
	if !ok {
		t.Fatal("device not live")
	}
	ws.Close()
	servertest.Eventually(t, 5*time.Second, "last_seen_at to be the last heartbeat's time", func() bool {
		dev, err := store.DeviceByID(t.Context(), srv.Srv.Store.Reader(), d.id)
		return err == nil && dev.LastSeenAt.Equal(live.LastSeen.Truncate(time.Millisecond))
	})
}
