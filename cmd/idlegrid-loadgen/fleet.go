package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/idlegrid/idlegrid/shared/hw"
	"github.com/idlegrid/idlegrid/shared/proto"
)

// The agents run in worker processes, this same binary started with
// workerEnv set: a process may hold only so many open files (20,000 on
// the build machine), and the server under test needs one per agent too.
const workerEnv = "IDLEGRID_LOADGEN_WORKER"

// agentsPerWorker keeps each worker well inside a 20,000 open-file limit.
const agentsPerWorker = 9000

// job is what the parent asks of one worker, as one JSON line on stdin;
// closing stdin stops the worker.
type job struct {
	Base     string        `json:"base"`
	Token    string        `json:"token"`
	First    int           `json:"first"` // the fleet index of its first agent
	Count    int           `json:"count"`
	Probes   int           `json:"probes"` // its first Probes agents are timed
	GPUs     int           `json:"gpus"`
	Interval time.Duration `json:"interval"`
	Ramp     time.Duration `json:"ramp"`
}

// workerLine is one JSON line a worker writes on stdout: a failure, its
// agents enrolled, its counters, or a probe heartbeat sent.
type workerLine struct {
	Err      string     `json:"err,omitempty"`
	Enrolled bool       `json:"enrolled,omitempty"`
	Online   int64      `json:"online"`
	Sent     int64      `json:"sent"`
	Lost     int64      `json:"lost"`
	Probe    *probeSend `json:"probe,omitempty"`
}

// worker runs one job until stdin closes or ctx ends.
func worker(ctx context.Context, stdin io.Reader, stdout io.Writer) int {
	in := bufio.NewReader(stdin)
	line, err := in.ReadBytes('\n')
	var j job
	if err == nil {
		err = json.Unmarshal(line, &j)
	}
	enc := json.NewEncoder(stdout)
	if err != nil {
		_ = enc.Encode(workerLine{Err: fmt.Sprintf("reading the job: %v", err)})
		return 2
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	http.DefaultTransport.(*http.Transport).MaxIdleConnsPerHost = 16
	f := &fleet{base: j.Base, interval: j.Interval, gpus: j.GPUs, probes: map[string]bool{}, sends: make(chan probeSend, 1024)}
	agents := make([]*simAgent, j.Count)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	var enrollErr atomic.Value
	for i := range agents {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			a, err := f.enroll(ctx, j.Token, j.First+i)
			if err != nil {
				enrollErr.Store(err)
				return
			}
			agents[i] = a
		})
	}
	wg.Wait()
	if err, _ := enrollErr.Load().(error); err != nil {
		_ = enc.Encode(workerLine{Err: err.Error()})
		return 1
	}
	for _, a := range agents[:min(j.Probes, len(agents))] {
		f.probes[a.id] = true
	}
	if err := enc.Encode(workerLine{Enrolled: true}); err != nil {
		return 1
	}
	// Connect on the parent's word, so every worker's ramp starts together.
	if _, err := in.ReadBytes('\n'); err != nil {
		return 0
	}
	go func() { _, _ = io.Copy(io.Discard, in); cancel() }() // stdin closed: stop
	for i, a := range agents {
		go f.live(ctx, a, time.Duration(int64(j.Ramp)*int64(i)/int64(len(agents))))
	}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		var l workerLine
		select {
		case <-ctx.Done():
			return 0
		case p := <-f.sends:
			l.Probe = &p
		case <-tick.C:
		}
		l.Online, l.Sent, l.Lost = f.online.Load(), f.sent.Load(), f.lost.Load()
		if enc.Encode(l) != nil {
			return 0 // the parent is gone
		}
	}
}

// fleet is one worker process's share of the simulated agents.
type fleet struct {
	base     string
	interval time.Duration
	gpus     int
	sent     atomic.Int64 // heartbeats sent
	lost     atomic.Int64 // links that ended other than by stopping
	online   atomic.Int64
	probes   map[string]bool // agents whose heartbeats are timed
	sends    chan probeSend
}

// probeSend is a probe agent's heartbeat, to be timed until stored.
type probeSend struct {
	Device string    `json:"device"`
	Seq    uint64    `json:"seq"`
	At     time.Time `json:"at"`
}

type simAgent struct {
	id  string
	key ed25519.PrivateKey
	sim *hw.Sim
}

func (f *fleet) enroll(ctx context.Context, token string, i int) (*simAgent, error) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	body, _ := json.Marshal(map[string]any{"enroll_token": token, "public_key": []byte(key.Public().(ed25519.PublicKey)),
		"signature": proto.SignPairing(key, token), "name": fmt.Sprintf("load-%05d", i), "simulated": true})
	req, _ := http.NewRequestWithContext(ctx, "POST", f.base+"/api/v1/agent/pair", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out struct {
		DeviceID string `json:"device_id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusCreated {
		return nil, fmt.Errorf("enrolling: %s %v", resp.Status, err)
	}
	models, _ := hw.ParseSimSpec(fmt.Sprintf("RTX 4090x%d", f.gpus))
	return &simAgent{id: out.DeviceID, key: key, sim: hw.NewSim(models, int64(i), nil)}, nil
}

// live keeps one agent connected, reconnecting with jittered backoff, until
// ctx ends.
func (f *fleet) live(ctx context.Context, a *simAgent, delay time.Duration) {
	endpoint := "ws" + strings.TrimPrefix(f.base, "http") + "/api/v1/agent/connect"
	wait := delay
	var seq uint64
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		start := time.Now()
		err := f.session(ctx, endpoint, a, &seq)
		if ctx.Err() != nil {
			return
		}
		f.lost.Add(1)
		_ = err
		// Like the real agent: 1 s doubling to 30 s, jittered, reset after a
		// link that held.
		if time.Since(start) > 30*time.Second || wait < time.Second {
			wait = time.Second
		} else {
			wait = min(2*wait, 30*time.Second)
		}
		wait = time.Duration(float64(wait) * (0.5 + mrand.Float64()))
	}
}

func (f *fleet) session(ctx context.Context, endpoint string, a *simAgent, seq *uint64) error {
	d := websocket.Dialer{HandshakeTimeout: 30 * time.Second, ReadBufferSize: 512, WriteBufferSize: 1024}
	ws, _, err := d.DialContext(ctx, endpoint, nil)
	if err != nil {
		return err
	}
	defer ws.Close()
	stop := context.AfterFunc(ctx, func() { ws.Close() })
	defer stop()
	_ = ws.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, data, err := ws.ReadMessage()
	if err != nil {
		return err
	}
	msg, err := proto.Decode(data)
	if err != nil {
		return err
	}
	hello, ok := msg.(*proto.Hello)
	if !ok {
		return errors.New("no hello")
	}
	auth, _ := proto.Encode(proto.TypeAuth, proto.Auth{Protocol: proto.Protocol, DeviceID: a.id, Signature: proto.SignAuth(a.key, hello.Nonce, a.id),
		AgentVersion: "loadgen", Inventory: proto.Inventory{GPUs: a.sim.GPUs(), GPUStatus: a.sim.Status()}})
	if err := ws.WriteMessage(websocket.TextMessage, auth); err != nil {
		return err
	}
	if _, _, err := ws.ReadMessage(); err != nil { // welcome
		return err
	}
	f.online.Add(1)
	defer f.online.Add(-1)
	readErr := make(chan error, 1)
	go func() {
		ws.SetPingHandler(func(p string) error {
			_ = ws.SetReadDeadline(time.Now().Add(10 * f.interval))
			return ws.WriteControl(websocket.PongMessage, []byte(p), time.Now().Add(5*time.Second))
		})
		for {
			_ = ws.SetReadDeadline(time.Now().Add(10 * f.interval))
			if _, _, err := ws.ReadMessage(); err != nil {
				readErr <- err
				return
			}
		}
	}()
	// The first heartbeat at a random point of the interval, so the fleet
	// does not beat in step.
	t := time.NewTimer(time.Duration(mrand.Int64N(int64(f.interval))))
	defer t.Stop()
	var mu sync.Mutex
	for {
		select {
		case err := <-readErr:
			return err
		case <-t.C:
		}
		t.Reset(f.interval)
		samples, _ := a.sim.Sample(ctx)
		*seq++
		hb := proto.Heartbeat{Seq: *seq, SentAt: time.Now().UTC(), State: proto.StateAvailable, GPUs: samples}
		b, _ := proto.Encode(proto.TypeHeartbeat, hb)
		mu.Lock()
		_ = ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
		err := ws.WriteMessage(websocket.TextMessage, b)
		mu.Unlock()
		if err != nil {
			return err
		}
		f.sent.Add(1)
		if f.probes[a.id] {
			select {
			case f.sends <- probeSend{Device: a.id, Seq: *seq, At: time.Now()}:
			default:
			}
		}
	}
}
