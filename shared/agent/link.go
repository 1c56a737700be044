package agent

import (
	"context"
	"runtime/debug"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/idlegrid/idlegrid/shared/challenge"
	"github.com/idlegrid/idlegrid/shared/proto"
)

// link serialises writes: heartbeats, challenge answers and reports come
// from different goroutines.
type link struct {
	ws *websocket.Conn
	mu sync.Mutex
}

func (l *link) send(typ string, body any) error {
	b, err := proto.Encode(typ, body)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	_ = l.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return l.ws.WriteMessage(websocket.TextMessage, b)
}

// handle answers the server's requests. Work runs off the reader so pings
// keep being answered while a challenge computes.
func (a *Agent) handle(ctx context.Context, l *link, msg any) {
	switch m := msg.(type) {
	case *proto.Challenge:
		go a.prove(ctx, l, m)
	case *proto.ChallengeOpen:
		go a.open(l, m)
	case *proto.DeviceStatus:
		a.setStatus(func(s *Status) { s.Device = *m })
	case *proto.RuntimeStart:
		if a.clusters == nil {
			a.cfg.Log.Warn("asked to run cluster work, but this agent has no runtime", "cluster", m.ClusterID)
			return
		}
		a.cfg.Log.Info("starting cluster work", "cluster", m.ClusterID, "role", m.Role)
		go a.clusters.start(m, a.cfg.Log.Warn)
	case *proto.RuntimeStop:
		if a.clusters != nil {
			a.cfg.Log.Info("stopping cluster work", "cluster", m.ClusterID, "reason", m.Reason)
			go a.clusters.stop(m, a.cfg.Log.Warn)
		}
	default:
		a.cfg.Log.Warn("unexpected message from the server", "type", proto.TypeOf(msg))
	}
}

func (a *Agent) prove(ctx context.Context, l *link, m *proto.Challenge) {
	p := challenge.Params{N: m.N}
	copy(p.Seed[:], m.Seed)
	w, err := challenge.Prove(ctx, p)
	if err != nil {
		a.cfg.Log.Warn("computing challenge", "challenge", m.ID, "err", err)
		return
	}
	a.mu.Lock()
	a.work = &challengeWork{id: m.ID, work: w}
	a.mu.Unlock()
	root := w.Tree.Root()
	if err := l.send(proto.TypeChallengeCommit, proto.ChallengeCommit{ID: m.ID, Root: root[:], ElapsedMS: w.Elapsed.Milliseconds()}); err != nil {
		a.cfg.Log.Warn("answering challenge", "err", err)
	}
	a.cfg.Log.Info("challenge computed", "challenge", m.ID, "n", m.N, "took", w.Elapsed.Round(time.Millisecond))
}

func (a *Agent) open(l *link, m *proto.ChallengeOpen) {
	a.mu.Lock()
	cw := a.work
	a.mu.Unlock()
	if cw == nil || cw.id != m.ID {
		a.cfg.Log.Warn("asked to open rows of an unknown challenge", "challenge", m.ID)
		return
	}
	for _, i := range m.Rows {
		rp, err := cw.work.Open(i)
		if err != nil {
			a.cfg.Log.Warn("opening row", "row", i, "err", err)
			return
		}
		proof := make([][]byte, len(rp.Proof))
		for j := range rp.Proof {
			proof[j] = rp.Proof[j][:]
		}
		if err := l.send(proto.TypeChallengeProof, proto.ChallengeProof{ID: m.ID, Index: i, Row: challenge.RowBytes(rp.Row), Proof: proof}); err != nil {
			a.cfg.Log.Warn("sending row", "err", err)
			return
		}
	}
	// The server opens rows once: the matrices go, and their memory goes
	// back to the system now rather than minutes later, so an idle agent
	// stays small.
	a.mu.Lock()
	if a.work == cw {
		a.work = nil
	}
	a.mu.Unlock()
	debug.FreeOSMemory()
}

type challengeWork struct {
	id   string
	work *challenge.Work
}

// SendBenchReport hands a finished benchmark run to the control plane: at
// once when connected, else on the next link. Only the newest report waits.
func (a *Agent) SendBenchReport(r proto.BenchReport) { a.queueReport(r) }

func (a *Agent) queueReport(r proto.BenchReport) {
	for {
		select {
		case a.reports <- r:
			return
		default:
		}
		select { // drop the older waiting report
		case <-a.reports:
		default:
		}
	}
}

// SendWallet offers the payout wallet chosen in the app to the control
// plane (which takes it only while the account has none); sent now or on
// the next link.
func (a *Agent) SendWallet(address string) {
	w := proto.PayoutWallet{Address: address}
	for {
		select {
		case a.wallets <- w:
			return
		default:
		}
		select {
		case <-a.wallets:
		default:
		}
	}
}
