package cluster_test

import (
	"database/sql"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/idlegrid/idlegrid/controlplane/cluster"
	"github.com/idlegrid/idlegrid/controlplane/servertest"
	"github.com/idlegrid/idlegrid/controlplane/store"
	simrt "github.com/idlegrid/idlegrid/shared/runtime/sim"
)

func (f *fleet) deploy(t *testing.T, gpus int) cluster.View {
	t.Helper()
	var v cluster.View
	if st := f.renter.Do("POST", "/api/v1/clusters", map[string]any{"gpus": gpus, "hours": 1}, &v); st != http.StatusCreated {
		t.Fatalf("deploy: %d", st)
	}
	return v
}

func (f *fleet) exec(t *testing.T, query string, args ...any) {
	t.Helper()
	err := f.srv.Srv.Store.Write(t.Context(), func(tx *sql.Tx) error {
		_, err := tx.ExecContext(t.Context(), query, args...)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	f.srv.Srv.Clusters.Kick()
}

func roleOf(v cluster.View, role string) string {
	for _, n := range activeNodes(v) {
		if n.Role == role {
			return n.DeviceID
		}
	}
	return ""
}

// Ray keeps a cluster's state on its head: losing the head fails the
// cluster, stops billing at the head's last heartbeat and frees every node.
func TestHeadLostFailsTheCluster(t *testing.T) {
	f := newFleet(t, "RTX 4090", "RTX 4090")
	v := f.deploy(t, 2)
	v = f.waitState(t, v.ID, "running", 10*time.Second)
	f.stops[roleOf(v, "head")]()
	v = f.waitState(t, v.ID, "failed", 10*time.Second)
	if !strings.Contains(v.Reason, "head node") || !strings.Contains(v.Reason, "lost") || v.EndedAt == nil {
		t.Fatalf("failed cluster: %q %+v", v.Reason, v)
	}
	servertest.Eventually(t, 10*time.Second, "every node released", func() bool {
		v = f.get(t, v.ID)
		return len(activeNodes(v)) == 0
	})
	checkCharges(t, f.srv, v.ID)
}

// A cluster whose nodes never come up fails with the reason, uncharged.
func TestProvisioningTimesOut(t *testing.T) {
	cfg := servertest.FastConfig(t.TempDir())
	cfg.Cluster.ProvisionTimeout = time.Second
	srv := servertest.Start(t, &cfg)
	f := &fleet{srv: srv, renter: srv.SignUp("renter@example.com")}
	gamer := srv.SignUp("gamer@example.com")
	stuck := srv.NewAgentWith("stuck", "RTX 3090", simrt.NewNetwork().Runtime(time.Hour))
	if err := stuck.Pair(t.Context(), gamer.PairingCode()); err != nil {
		t.Fatal(err)
	}
	servertest.RunAgent(t, stuck)
	servertest.Eventually(t, 10*time.Second, "the rig online", func() bool { ds := gamer.Devices(); return len(ds) == 1 && ds[0].State == "online" })
	u, _ := store.UserByEmail(t.Context(), srv.Srv.Store.Reader(), "renter@example.com")
	if _, err := srv.Srv.Ledger.TopUp(t.Context(), u.ID, 10_000_000, "seed", ""); err != nil {
		t.Fatal(err)
	}
	v := f.deploy(t, 1)
	v = f.waitState(t, v.ID, "failed", 10*time.Second)
	if !strings.Contains(v.Reason, "not ready within 1s") || !strings.Contains(v.Reason, stuck.State().DeviceID) || v.ReadyAt != nil {
		t.Fatalf("timed-out cluster: %q ready %v", v.Reason, v.ReadyAt)
	}
	servertest.Eventually(t, 10*time.Second, "the rig released", func() bool { return len(activeNodes(f.get(t, v.ID))) == 0 })
	if v = f.get(t, v.ID); v.Cost.Charged != 0 || v.Cost.BilledSeconds != 0 {
		t.Fatalf("a cluster that never ran cost %+v", v.Cost)
	}
}

// Ray dying on a worker (its process, not the machine) is repaired too.
func TestRayFailureOnAWorkerIsRepaired(t *testing.T) {
	f := newFleet(t, "RTX 4090", "RTX 4090", "RTX 4090")
	v := f.deploy(t, 2)
	v = f.waitState(t, v.ID, "running", 10*time.Second)
	worker := roleOf(v, "worker")
	for name := range 3 {
		rt := f.srv.SimRuntime("rig" + string(rune('0'+name)))
		for _, s := range rt.States() {
			if s.ClusterID == v.ID && s.Role == "worker" {
				rt.Kill(v.ID, "raylet crashed")
			}
		}
	}
	v = f.waitState(t, v.ID, "degraded", 10*time.Second)
	if !hasEvent(v, "node_lost", "raylet crashed") {
		t.Fatalf("events: %+v", v.Events)
	}
	v = f.waitState(t, v.ID, "running", 10*time.Second)
	if roleOf(v, "worker") == worker {
		t.Fatalf("the failed worker %s was not replaced", worker)
	}
}

// Clusters end when their hours are over, and when their owner's credit
// ran out more than the grace period ago; extend moves the end.
func TestExpiryCreditAndExtend(t *testing.T) {
	f := newFleet(t, "RTX 3090", "RTX 3090")
	a := f.waitState(t, f.deploy(t, 1).ID, "running", 10*time.Second)
	b := f.waitState(t, f.deploy(t, 1).ID, "running", 10*time.Second)

	var ext cluster.View
	if st := f.renter.Do("POST", "/api/v1/clusters/"+a.ID+"/extend", map[string]int{"hours": 2}, &ext); st != http.StatusOK ||
		ext.ExpiresAt.Sub(*a.ExpiresAt) != 2*time.Hour || ext.Hours != 3 {
		t.Fatalf("extend: %d %v → %v", st, a.ExpiresAt, ext.ExpiresAt)
	}
	if st := f.renter.Do("POST", "/api/v1/clusters/"+a.ID+"/extend", map[string]int{"hours": 0}, nil); st != http.StatusBadRequest {
		t.Fatalf("extend by 0 h: %d", st)
	}

	f.exec(t, `UPDATE clusters SET expires_at = ? WHERE id = ?`, time.Now().Add(-time.Second).UnixMilli(), a.ID)
	a = f.waitState(t, a.ID, "terminated", 10*time.Second)
	if !hasEvent(a, "expired", "hour(s) are over") {
		t.Fatalf("expired cluster events: %+v", a.Events)
	}
	if st := f.renter.Do("POST", "/api/v1/clusters/"+a.ID+"/extend", map[string]int{"hours": 1}, nil); st != http.StatusConflict {
		t.Fatalf("extending a terminated cluster: %d", st)
	}

	f.exec(t, `UPDATE usage_assignments SET unpaid_since = ? WHERE cluster_id = ?`, time.Now().Add(-time.Hour).UnixMilli(), b.ID)
	b = f.waitState(t, b.ID, "terminated", 10*time.Second)
	if !strings.Contains(b.Reason, "credit ran out") {
		t.Fatalf("unpaid cluster: %q", b.Reason)
	}
}

// The control plane restarting while a cluster provisions and while it
// runs changes nothing: it resumes from sqlite and what agents report.
func TestRestartMidWay(t *testing.T) {
	f := newFleet(t, "RTX 4090", "RTX 4090", "RTX 4090")
	v := f.deploy(t, 2)
	f.srv.Restart() // mid-provisioning
	v = f.waitState(t, v.ID, "running", 15*time.Second)
	nodes := activeNodes(v)
	f.srv.Restart() // while running
	servertest.Eventually(t, 10*time.Second, "every rig back", func() bool { return f.srv.Srv.Hub.ConnectedCount() == 3 })
	time.Sleep(2 * f.srv.Cfg.OfflineAfter) // past the restart's grace: a wrongly lost node would show now
	v = f.get(t, v.ID)
	if v.State != "running" || len(activeNodes(v)) != len(nodes) || hasEvent(v, "node_lost", "") {
		t.Fatalf("after a restart while running: %s %+v", v.State, v.Events)
	}
	if st := f.renter.Do("DELETE", "/api/v1/clusters/"+v.ID, nil, nil); st != http.StatusAccepted {
		t.Fatalf("terminate: %d", st)
	}
	f.waitState(t, v.ID, "terminated", 10*time.Second)
	checkCharges(t, f.srv, v.ID)
}
