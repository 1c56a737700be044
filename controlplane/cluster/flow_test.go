package cluster_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idlegrid/idlegrid/controlplane/cluster"
	"github.com/idlegrid/idlegrid/controlplane/servertest"
	"github.com/idlegrid/idlegrid/controlplane/store"
	"github.com/idlegrid/idlegrid/shared/agent"
)

// fleet is a server with simulated suppliers and a requester with credit.
type fleet struct {
	srv    *servertest.Server
	renter *servertest.Client
	agents map[string]*agent.Agent
	stops  map[string]func()
}

func newFleet(t *testing.T, specs ...string) *fleet {
	t.Helper()
	srv := servertest.Start(t, nil)
	f := &fleet{srv: srv, renter: srv.SignUp("renter@example.com"), agents: map[string]*agent.Agent{}, stops: map[string]func(){}}
	gamer := srv.SignUp("gamer@example.com")
	for i, spec := range specs {
		name := fmt.Sprintf("rig%d", i)
		a := srv.NewAgent(name, spec)
		if err := a.Pair(t.Context(), gamer.PairingCode()); err != nil {
			t.Fatal(err)
		}
		stop, _ := servertest.RunAgent(t, a)
		f.agents[a.State().DeviceID], f.stops[a.State().DeviceID] = a, stop
	}
	servertest.Eventually(t, 10*time.Second, "every rig online", func() bool {
		n := 0
		for _, d := range gamer.Devices() {
			if d.State == "online" {
				n++
			}
		}
		return n == len(specs)
	})
	u, err := store.UserByEmail(t.Context(), srv.Srv.Store.Reader(), "renter@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Srv.Ledger.TopUp(t.Context(), u.ID, 100_000_000, "seed", ""); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fleet) get(t *testing.T, id string) cluster.View {
	t.Helper()
	var v cluster.View
	if st := f.renter.Do("GET", "/api/v1/clusters/"+id, nil, &v); st != http.StatusOK {
		t.Fatalf("GET cluster: %d", st)
	}
	return v
}

func (f *fleet) waitState(t *testing.T, id, state string, timeout time.Duration) cluster.View {
	t.Helper()
	var v cluster.View
	servertest.Eventually(t, timeout, "cluster "+state, func() bool {
		v = f.get(t, id)
		return v.State == state
	})
	return v
}

func hasEvent(v cluster.View, kind, contains string) bool {
	return slices.ContainsFunc(v.Events, func(e store.ClusterEvent) bool { return e.Kind == kind && strings.Contains(e.Message, contains) })
}

func activeNodes(v cluster.View) []cluster.NodeView {
	return slices.DeleteFunc(slices.Clone(v.Nodes), func(n cluster.NodeView) bool { return n.ReleasedAt != nil })
}

// Deploy, lose a worker, get it replaced, drain a paused one, terminate:
// every step in the event log, devices free at the end, and the charges
// exactly what the metered seconds cost.
func TestClusterLifecycleWithRepairAndDrain(t *testing.T) {
	f := newFleet(t, "RTX 4090", "RTX 4090", "RTX 4090", "RTX 4090")
	f.renter.Header = http.Header{"Idempotency-Key": {"deploy-1"}}
	var v cluster.View
	if st := f.renter.Do("POST", "/api/v1/clusters", map[string]any{"gpu_model": "4090", "gpus": 2, "hours": 1}, &v); st != http.StatusCreated {
		t.Fatalf("deploy: %d %+v", st, v)
	}
	var again cluster.View
	if st := f.renter.Do("POST", "/api/v1/clusters", map[string]any{"gpu_model": "4090", "gpus": 2, "hours": 1}, &again); st != http.StatusOK || again.ID != v.ID {
		t.Fatalf("the same Idempotency-Key deployed again: %d %s vs %s", st, again.ID, v.ID)
	}
	f.renter.Header = nil
	v = f.waitState(t, v.ID, "running", 15*time.Second)
	if len(v.Nodes) != 2 || v.ReadyAt == nil || v.ExpiresAt == nil || !hasEvent(v, "ready", "billing starts") {
		t.Fatalf("running cluster: %+v", v)
	}
	var worker, head string
	for _, n := range v.Nodes {
		if n.State != "joined" {
			t.Fatalf("node %+v not joined in a running cluster", n)
		}
		if n.Role == "worker" {
			worker = n.DeviceID
		} else {
			head = n.DeviceID
		}
	}

	// A worker's machine dies: the cluster degrades, a spare replaces it.
	f.stops[worker]()
	v = f.waitState(t, v.ID, "degraded", 10*time.Second)
	if !hasEvent(v, "node_lost", worker) {
		t.Fatalf("no node_lost event for %s: %+v", worker, v.Events)
	}
	v = f.waitState(t, v.ID, "running", 15*time.Second)
	if !hasEvent(v, "replacement", "") || len(activeNodes(v)) != 2 || slices.ContainsFunc(activeNodes(v), func(n cluster.NodeView) bool { return n.DeviceID == worker }) {
		t.Fatalf("after the repair: %+v", v)
	}

	// The replacement's supplier starts a game: the requester is told
	// before the node leaves, then it is replaced by the last spare.
	var second string
	for _, n := range activeNodes(v) {
		if n.Role == "worker" {
			second = n.DeviceID
		}
	}
	f.agents[second].SetPaused(true, "you are playing")
	servertest.Eventually(t, 10*time.Second, "a drain notice", func() bool {
		v = f.get(t, v.ID)
		return hasEvent(v, "notice", "you are playing")
	})
	servertest.Eventually(t, 15*time.Second, "the paused node replaced", func() bool {
		v = f.get(t, v.ID)
		act := activeNodes(v)
		return v.State == "running" && len(act) == 2 && !slices.ContainsFunc(act, func(n cluster.NodeView) bool { return n.DeviceID == second })
	})
	notice := slices.IndexFunc(v.Events, func(e store.ClusterEvent) bool { return e.Kind == "notice" })
	left := slices.IndexFunc(v.Events, func(e store.ClusterEvent) bool { return e.Kind == "node_lost" && strings.Contains(e.Message, second) })
	if notice < 0 || left < 0 || notice > left {
		t.Fatalf("the notice must come before the node leaves: %+v", v.Events)
	}

	if st := f.renter.Do("DELETE", "/api/v1/clusters/"+v.ID, nil, &v); st != http.StatusAccepted {
		t.Fatalf("terminate: %d", st)
	}
	v = f.waitState(t, v.ID, "terminated", 15*time.Second)
	busy, err := store.BusyDevices(t.Context(), f.srv.Srv.Store.Reader())
	if err != nil || len(busy) != 0 {
		t.Fatalf("devices still busy after termination: %v %v", busy, err)
	}
	for i := range len(f.agents) {
		for _, s := range f.srv.SimRuntime(fmt.Sprintf("rig%d", i)).States() {
			if s.State == "running" || s.State == "starting" {
				t.Errorf("rig%d still runs %+v after terminate", i, s)
			}
		}
	}
	if !hasEvent(v, "node_released", head) {
		t.Errorf("the head %s was never released: %+v", head, v.Events)
	}
	checkCharges(t, f.srv, v.ID)
}

// checkCharges: every assignment of the cluster charged exactly what its
// billed milliseconds cost, and the ledger balances.
func checkCharges(t *testing.T, srv *servertest.Server, clusterID string) {
	t.Helper()
	rows, err := srv.Srv.Store.Reader().QueryContext(t.Context(), `SELECT id, price_per_hour, billed_ms, charged, unpaid, ready_at, ended_at FROM usage_assignments WHERE cluster_id = ?`, clusterID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var id string
		var price, billed, charged, unpaid int64
		var ready, ended sql.NullInt64
		if err := rows.Scan(&id, &price, &billed, &charged, &unpaid, &ready, &ended); err != nil {
			t.Fatal(err)
		}
		n++
		if !ended.Valid {
			t.Errorf("assignment %s is still open", id)
		}
		if want := price * billed / 3_600_000; charged+unpaid != want {
			t.Errorf("assignment %s: charged %d + unpaid %d, want %d for %d ms at %d/h", id, charged, unpaid, want, billed, price)
		}
		if ready.Valid && ended.Valid && billed > ended.Int64-ready.Int64 {
			t.Errorf("assignment %s billed %d ms of %d ms ready", id, billed, ended.Int64-ready.Int64)
		}
	}
	if n == 0 {
		t.Fatal("no assignments")
	}
	if err := srv.Srv.Ledger.Check(t.Context()); err != nil {
		t.Fatalf("ledger: %v", err)
	}
}

// 100 deploys at once over 12 single-GPU devices: 12 clusters get one
// device each, the rest are told there is not enough supply, and no
// device is in two clusters.
func TestConcurrentDeploysNeverDoubleBook(t *testing.T) {
	specs := make([]string, 12)
	for i := range specs {
		specs[i] = "RTX 3090"
	}
	f := newFleet(t, specs...)
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			st := f.renter.Do("POST", "/api/v1/clusters", map[string]any{"gpus": 1, "hours": 1}, nil)
			mu.Lock()
			statuses[st]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if statuses[http.StatusCreated] != 12 || statuses[http.StatusConflict] != 88 {
		t.Fatalf("statuses %v, want 12 created and 88 conflicts", statuses)
	}
	var dup int
	err := f.srv.Srv.Store.Reader().QueryRowContext(context.Background(),
		`SELECT count(*) FROM (SELECT device_id FROM cluster_nodes WHERE released_at IS NULL GROUP BY device_id HAVING count(*) > 1)`).Scan(&dup)
	if err != nil || dup != 0 {
		t.Fatalf("devices in two clusters: %d (%v)", dup, err)
	}
}
