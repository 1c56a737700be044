package verify_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/idlegrid/idlegrid/controlplane/servertest"
	"github.com/idlegrid/idlegrid/shared/challenge"
	"github.com/idlegrid/idlegrid/shared/hw"
	"github.com/idlegrid/idlegrid/shared/proto"
)

// device is a hand-driven agent whose answers a test can bend.
type device struct {
	t   *testing.T
	id  string
	key ed25519.PrivateKey
	ws  *websocket.Conn
	mu  sync.Mutex

	// answer turns a challenge into (root, work to open rows from).
	answer func(m *proto.Challenge) ([32]byte, *challenge.Work)
	// tamper may change a proof before it is sent.
	tamper func(p *proto.ChallengeProof)
	// commits records what was committed, so a test can replay it.
	commits []proto.ChallengeCommit
	// statuses and challenges count what the server sent while serving.
	statuses, challenges atomic.Int64
}

func honest(m *proto.Challenge) ([32]byte, *challenge.Work) {
	p := challenge.Params{N: m.N}
	copy(p.Seed[:], m.Seed)
	w, err := challenge.Prove(context.Background(), p)
	if err != nil {
		panic(err)
	}
	return w.Tree.Root(), w
}

func connect(t *testing.T, srv *servertest.Server, owner *servertest.Client, cores int, simulated bool) *device {
	return connectGPU(t, srv, owner, cores, simulated, "")
}

func connectGPU(t *testing.T, srv *servertest.Server, owner *servertest.Client, cores int, simulated bool, uuid string) *device {
	t.Helper()
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	code := owner.PairingCode()
	var out struct {
		DeviceID string `json:"device_id"`
	}
	if st := srv.Anonymous().Do("POST", "/api/v1/agent/pair", map[string]any{
		"code": code, "public_key": []byte(key.Public().(ed25519.PublicKey)), "signature": proto.SignPairing(key, code), "name": "rig",
	}, &out); st != http.StatusCreated {
		t.Fatalf("pairing: %d", st)
	}
	d := &device{t: t, id: out.DeviceID, key: key, answer: honest}
	ws, _, err := websocket.DefaultDialer.Dial(strings.Replace(srv.URL, "http", "ws", 1)+"/api/v1/agent/connect", nil)
	if err != nil {
		t.Fatal(err)
	}
	d.ws = ws
	t.Cleanup(func() { ws.Close() })
	msg := d.read()
	hello := msg.(*proto.Hello)
	if uuid == "" {
		uuid = "GPU-" + out.DeviceID
	}
	d.send(proto.TypeAuth, proto.Auth{Protocol: proto.Protocol, DeviceID: d.id, Signature: proto.SignAuth(key, hello.Nonce, d.id), AgentVersion: "hand",
		Inventory: proto.Inventory{
			Host: hw.HostInfo{CPUCores: cores},
			GPUs: []hw.GPU{{Index: 0, UUID: uuid, Name: "NVIDIA GeForce RTX 3090", MemoryTotal: 24 << 30, Simulated: simulated}},
		}})
	if _, ok := d.read().(*proto.Welcome); !ok {
		t.Fatal("no welcome")
	}
	return d
}

func (d *device) read() any {
	d.t.Helper()
	_ = d.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, b, err := d.ws.ReadMessage()
	if err != nil {
		d.t.Fatalf("reading: %v", err)
	}
	m, err := proto.Decode(b)
	if err != nil {
		d.t.Fatalf("decoding: %v", err)
	}
	return m
}

func (d *device) send(typ string, body any) {
	b, _ := proto.Encode(typ, body)
	d.mu.Lock()
	defer d.mu.Unlock()
	_ = d.ws.WriteMessage(websocket.TextMessage, b)
}

// serve answers challenges until the link closes, heartbeating meanwhile.
func (d *device) serve() {
	stop := make(chan struct{})
	go func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for seq := uint64(1); ; seq++ {
			select {
			case <-stop:
				return
			case <-t.C:
				d.send(proto.TypeHeartbeat, proto.Heartbeat{Seq: seq, State: proto.StateAvailable})
			}
		}
	}()
	go func() {
		defer close(stop)
		var work *challenge.Work
		var id string
		for {
			_, b, err := d.ws.ReadMessage()
			if err != nil {
				return
			}
			m, err := proto.Decode(b)
			if err != nil {
				return
			}
			switch m := m.(type) {
			case *proto.DeviceStatus:
				d.statuses.Add(1)
			case *proto.Challenge:
				d.challenges.Add(1)
				var root [32]byte
				root, work = d.answer(m)
				id = m.ID
				c := proto.ChallengeCommit{ID: m.ID, Root: root[:], ElapsedMS: 1}
				d.mu.Lock()
				d.commits = append(d.commits, c)
				d.mu.Unlock()
				d.send(proto.TypeChallengeCommit, c)
			case *proto.ChallengeOpen:
				if m.ID != id || work == nil {
					continue
				}
				for _, i := range m.Rows {
					rp, _ := work.Open(i)
					p := proto.ChallengeProof{ID: m.ID, Index: i, Row: challenge.RowBytes(rp.Row)}
					for _, h := range rp.Proof {
						p.Proof = append(p.Proof, append([]byte(nil), h[:]...))
					}
					if d.tamper != nil {
						d.tamper(&p)
					}
					d.send(proto.TypeChallengeProof, p)
				}
			}
		}
	}()
}

type verification struct {
	Verified bool   `json:"verified"`
	Status   string `json:"status"`
	Reason   string `json:"reason"`
	Passed   int    `json:"challenges_passed"`
	Failed   int    `json:"challenges_failed"`
}

func state(t *testing.T, owner *servertest.Client, id string) verification {
	var d struct {
		Verification verification `json:"verification"`
	}
	if st := owner.Do("GET", "/api/v1/devices/"+id, nil, &d); st != http.StatusOK {
		t.Fatalf("device: %d", st)
	}
	return d.Verification
}

func waitFor(t *testing.T, owner *servertest.Client, id string, want func(verification) bool) verification {
	t.Helper()
	var v verification
	servertest.Eventually(t, 10*time.Second, "the challenge to finish", func() bool {
		v = state(t, owner, id)
		return want(v)
	})
	return v
}

func TestHonestDeviceIsVerified(t *testing.T) {
	srv := servertest.Start(t, nil)
	owner := srv.SignUp("owner@example.com")
	d := connect(t, srv, owner, 8, false)
	d.serve()
	v := waitFor(t, owner, d.id, func(v verification) bool { return v.Passed == 1 })
	if !v.Verified || v.Status != "verified" || v.Failed != 0 {
		t.Fatalf("after an honest answer: %+v", v)
	}
	var stats struct {
		VerifiedDevices   int `json:"verified_devices"`
		VerifiedSuppliers int `json:"verified_suppliers"`
	}
	srv.Anonymous().Do("GET", "/api/v1/explorer/stats", nil, &stats)
	if stats.VerifiedDevices != 1 || stats.VerifiedSuppliers != 1 {
		t.Fatalf("explorer counts %+v, want 1 verified device and supplier", stats)
	}
}

// The minute sweep re-sends statuses to a tenth of the idle devices in
// turn (every device hears within ten minutes), and does not challenge a
// verified device again before it is due.
func TestSweepSpreadsStatusUpdates(t *testing.T) {
	srv := servertest.Start(t, nil)
	owner := srv.SignUp("owner@example.com")
	var ds []*device
	for range 8 {
		d := connect(t, srv, owner, 8, false)
		d.serve()
		ds = append(ds, d)
	}
	for _, d := range ds {
		waitFor(t, owner, d.id, func(v verification) bool { return v.Passed == 1 })
	}
	// Each has heard its status twice: on connecting and on passing.
	hasHeard := func(want int64) {
		t.Helper()
		servertest.Eventually(t, 10*time.Second, fmt.Sprintf("every device to have heard %d statuses", want), func() bool {
			for _, d := range ds {
				if d.statuses.Load() != want {
					return false
				}
			}
			return true
		})
	}
	hasHeard(2)
	for range 10 { // ten minutes of sweeps
		srv.Srv.Verify.Sweep(t.Context())
	}
	hasHeard(3)
	// One more status each, sent after the sweeps: it arrives after
	// anything they sent, so a device told twice would now stand at 5.
	for _, d := range ds {
		srv.Srv.Verify.Tell(t.Context(), d.id)
	}
	hasHeard(4)
	for _, d := range ds {
		if n := d.challenges.Load(); n != 1 {
			t.Errorf("device %s was challenged %d times; verified a minute ago, it is not due again for an hour", d.id, n)
		}
	}
}

func TestSimulatedDeviceIsNeverVerified(t *testing.T) {
	srv := servertest.Start(t, nil)
	owner := srv.SignUp("owner@example.com")
	d := connect(t, srv, owner, 8, true)
	d.serve()
	v := waitFor(t, owner, d.id, func(v verification) bool { return v.Passed == 1 })
	if v.Verified || v.Status != "simulated" {
		t.Fatalf("a simulated device after passing: %+v", v)
	}
}

func TestCheatersFail(t *testing.T) {
	wrongProduct := func(m *proto.Challenge) ([32]byte, *challenge.Work) {
		_, w := honest(m)
		for _, r := range w.Rows {
			r[0]++ // a different "product", committed to consistently
		}
		w.Tree = challenge.BuildTree(w.Rows)
		return w.Tree.Root(), w
	}
	staleSeed := func(m *proto.Challenge) ([32]byte, *challenge.Work) {
		old := *m
		old.Seed = make([]byte, 32) // the answer to some earlier seed
		return honest(&old)
	}
	cases := []struct {
		name   string
		answer func(m *proto.Challenge) ([32]byte, *challenge.Work)
		tamper func(p *proto.ChallengeProof)
		reason string
	}{
		{"wrong rows", wrongProduct, nil, "does not match the product"},
		{"forged proof", honest, func(p *proto.ChallengeProof) { p.Proof[0][0] ^= 0xff }, "Merkle proof"},
		{"stale seed", staleSeed, nil, "does not match the product"},
		{"row not asked for", honest, func(p *proto.ChallengeProof) { p.Index = (p.Index + 1) % 64 }, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := servertest.Start(t, nil)
			owner := srv.SignUp("owner@example.com")
			d := connect(t, srv, owner, 8, false)
			d.answer, d.tamper = tc.answer, tc.tamper
			d.serve()
			v := waitFor(t, owner, d.id, func(v verification) bool { return v.Failed == 1 })
			if v.Verified || v.Status != "failed" || v.Passed != 0 || !strings.Contains(v.Reason, tc.reason) {
				t.Fatalf("verification %+v, want failed saying %q", v, tc.reason)
			}
		})
	}
}

// A device that replays its answer to an earlier challenge fails the new one.
func TestReplayedAnswerFails(t *testing.T) {
	srv := servertest.Start(t, nil)
	owner := srv.SignUp("owner@example.com")
	d := connect(t, srv, owner, 8, false)
	d.serve()
	waitFor(t, owner, d.id, func(v verification) bool { return v.Passed == 1 })
	d.mu.Lock()
	old := d.commits[0]
	d.mu.Unlock()
	d.answer = func(m *proto.Challenge) ([32]byte, *challenge.Work) {
		d.send(proto.TypeChallengeCommit, old) // the old answer, before any new work
		return honest(m)
	}
	if _, err := srv.Srv.Verify.Challenge(t.Context(), d.id); err != nil {
		t.Fatal(err)
	}
	v := waitFor(t, owner, d.id, func(v verification) bool { return v.Failed == 1 })
	if v.Verified || !strings.Contains(v.Reason, "stale or replayed") {
		t.Fatalf("after a replay: %+v", v)
	}
}

// Finishing n=4096 on one core takes seconds; an instant answer is a lie.
func TestImplausiblyFastAnswerFails(t *testing.T) {
	cfg := servertest.FastConfig(t.TempDir())
	cfg.ChallengeSize = challenge.MaxN
	srv := servertest.Start(t, &cfg)
	owner := srv.SignUp("owner@example.com")
	d := connect(t, srv, owner, 1, false)
	d.answer = func(*proto.Challenge) ([32]byte, *challenge.Work) { return [32]byte{1}, nil }
	d.serve()
	v := waitFor(t, owner, d.id, func(v verification) bool { return v.Failed == 1 })
	if !strings.Contains(v.Reason, "faster than 1 CPU cores can") {
		t.Fatalf("an instant answer: %+v", v)
	}
}

// The real agent answers challenges by itself.
func TestRealAgentPassesChallenges(t *testing.T) {
	srv := servertest.Start(t, nil)
	owner := srv.SignUp("owner@example.com")
	a := srv.NewAgent("rig", "RTX 4090")
	if err := a.Pair(t.Context(), owner.PairingCode()); err != nil {
		t.Fatal(err)
	}
	servertest.RunAgent(t, a)
	id := a.State().DeviceID
	waitFor(t, owner, id, func(v verification) bool { return v.Passed == 1 })
	if _, err := srv.Srv.Verify.Challenge(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	v := waitFor(t, owner, id, func(v verification) bool { return v.Passed == 2 })
	if v.Failed != 0 || v.Status != "simulated" {
		t.Fatalf("a real agent: %+v", v)
	}
}

// One physical GPU can't be on two accounts: the second is flagged.
func TestGPUOnTwoAccountsIsFlagged(t *testing.T) {
	srv := servertest.Start(t, nil)
	alice, mallory := srv.SignUp("alice@example.com"), srv.SignUp("mallory@example.com")
	a := connectGPU(t, srv, alice, 8, false, "GPU-1234-same")
	a.serve()
	waitFor(t, alice, a.id, func(v verification) bool { return v.Passed == 1 })
	m := connectGPU(t, srv, mallory, 8, false, "GPU-1234-same")
	m.serve()
	v := waitFor(t, mallory, m.id, func(v verification) bool { return v.Status == "flagged" })
	if v.Verified || !strings.Contains(v.Reason, "GPU-1234-same") || !strings.Contains(v.Reason, "another account") {
		t.Fatalf("the copy: %+v", v)
	}
	if v := state(t, alice, a.id); !v.Verified {
		t.Fatalf("the first owner lost verification: %+v", v)
	}
}
