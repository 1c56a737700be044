package api_test

import (
	"crypto/ed25519"
	"database/sql"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/idlegrid/idlegrid/controlplane/ledger"
	"github.com/idlegrid/idlegrid/controlplane/servertest"
	"github.com/idlegrid/idlegrid/controlplane/store"
)

func faucet(c *servertest.Client, url, key string) int {
	req, _ := http.NewRequest("POST", url+"/api/v1/billing/faucet", nil)
	req.Header.Set("Authorization", "Bearer "+c.Token)
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// A requester tops up in demo mode, a supplier's device works for a few
// seconds on an assignment, and every figure lines up: credit, earnings,
// fee, the signed receipt both can verify, and the statement.
func TestBillingEndToEnd(t *testing.T) {
	cfg := servertest.FastConfig(t.TempDir())
	cfg.Demo = 1 // demo mode turns the faucet on
	srv := servertest.Start(t, &cfg)
	requester, supplier := srv.SignUp("renter@example.com"), srv.SignUp("gamer@example.com")

	if st := faucet(requester, srv.URL, ""); st != http.StatusBadRequest {
		t.Fatalf("faucet without an idempotency key: %d", st)
	}
	for i, want := range []int{http.StatusCreated, http.StatusOK} {
		if st := faucet(requester, srv.URL, "first"); st != want {
			t.Fatalf("faucet try %d: %d, want %d", i, st, want)
		}
	}
	var bill struct {
		Credit  int64             `json:"credit"`
		Display map[string]string `json:"display"`
	}
	requester.Do("GET", "/api/v1/billing", nil, &bill)
	if bill.Credit != 50_000_000 || bill.Display["credit"] != "$50.00" {
		t.Fatalf("credit after one faucet (tried twice): %+v", bill)
	}

	a := srv.NewAgent("rig", "RTX 4090")
	if err := a.Pair(t.Context(), supplier.PairingCode()); err != nil {
		t.Fatal(err)
	}
	servertest.RunAgent(t, a)
	dev := a.State().DeviceID
	var reqUser, supUser store.User
	reqUser, _ = store.UserByEmail(t.Context(), srv.Srv.Store.Reader(), "renter@example.com")
	supUser, _ = store.UserByEmail(t.Context(), srv.Srv.Store.Reader(), "gamer@example.com")
	start := time.Now()
	err := srv.Srv.Store.Write(t.Context(), func(tx *sql.Tx) error {
		as := store.Assignment{ID: "asg_1", ClusterID: "cls_demo", DeviceID: dev, RequesterID: reqUser.ID, SupplierID: supUser.ID,
			PricePerHour: 3_600_000, FeeBP: 500, CreatedAt: start}
		if err := store.InsertAssignment(t.Context(), tx, as); err != nil {
			return err
		}
		return store.SetAssignmentReady(t.Context(), tx, as.ID, start)
	})
	if err != nil {
		t.Fatal(err)
	}
	servertest.Eventually(t, 10*time.Second, "two seconds of heartbeats stored", func() bool {
		var n int
		_ = srv.Srv.Store.Reader().QueryRowContext(t.Context(), `SELECT count(*) FROM telemetry_host WHERE device_id = ? AND ts > ?`, dev, start.UnixMilli()).Scan(&n)
		return n >= 20 // 100 ms heartbeats
	})
	if err := srv.Srv.Meter.Finish(t.Context(), "asg_1", time.Now(), srv.Srv.Signer); err != nil {
		t.Fatal(err)
	}
	if err := srv.Srv.Ledger.Check(t.Context()); err != nil {
		t.Fatal(err)
	}
	asg, _ := store.AssignmentByID(t.Context(), srv.Srv.Store.Reader(), "asg_1")
	if asg.Charged <= 0 || asg.BilledMS < 1500 || asg.BilledMS > time.Since(start).Milliseconds() {
		t.Fatalf("assignment %+v: want a charge for the ~2+ s it ran", asg)
	}
	requester.Do("GET", "/api/v1/billing", nil, &bill)
	if bill.Credit != 50_000_000-asg.Charged {
		t.Fatalf("credit %d, want %d", bill.Credit, 50_000_000-asg.Charged)
	}
	var earn struct {
		Pending int64 `json:"pending"`
		Jobs    []struct {
			Earned  int64 `json:"earned"`
			Seconds int64 `json:"seconds"`
		} `json:"jobs"`
	}
	supplier.Do("GET", "/api/v1/earnings", nil, &earn)
	fee := asg.Charged * 500 / 10_000
	if earn.Pending != asg.Charged-fee || len(earn.Jobs) != 1 || earn.Jobs[0].Earned != earn.Pending {
		t.Fatalf("earnings %+v, want %d pending (charged %d less the 5 %% fee)", earn, asg.Charged-fee, asg.Charged)
	}

	// Both parties get the receipt and can verify it with the published key.
	var key struct {
		PublicKey string `json:"public_key"`
	}
	srv.Anonymous().Do("GET", "/api/v1/receipts/public-key", nil, &key)
	pub, _ := base64.StdEncoding.DecodeString(key.PublicKey)
	for _, who := range []*servertest.Client{requester, supplier} {
		var rs struct {
			Receipts []struct {
				Body      string `json:"body"`
				Signature string `json:"signature"`
			} `json:"receipts"`
		}
		who.Do("GET", "/api/v1/receipts", nil, &rs)
		if len(rs.Receipts) != 1 {
			t.Fatalf("%s sees %d receipts", who.Email, len(rs.Receipts))
		}
		sig, _ := base64.StdEncoding.DecodeString(rs.Receipts[0].Signature)
		rc, err := ledger.VerifyReceipt(ed25519.PublicKey(pub), []byte(rs.Receipts[0].Body), sig)
		if err != nil || rc.Charged != asg.Charged || rc.Earned+rc.Fee != rc.Charged || rc.Device != dev {
			t.Fatalf("%s's receipt %+v: %v", who.Email, rc, err)
		}
	}
	outsider := srv.SignUp("nosy@example.com")
	var none struct{ Receipts []any }
	outsider.Do("GET", "/api/v1/receipts", nil, &none)
	if len(none.Receipts) != 0 {
		t.Fatal("an outsider sees someone's receipt")
	}

	// The statement, in every format.
	month := time.Now().UTC().Format("2006-01")
	var st struct {
		Closing  int64 `json:"closing_balance"`
		Clusters []struct {
			Cluster string `json:"cluster"`
			Amount  int64  `json:"amount"`
		} `json:"clusters"`
	}
	requester.Do("GET", "/api/v1/billing/statement?month="+month, nil, &st)
	if st.Closing != bill.Credit || len(st.Clusters) != 1 || st.Clusters[0].Cluster != "cls_demo" || st.Clusters[0].Amount != asg.Charged {
		t.Fatalf("statement %+v", st)
	}
	for format, want := range map[string]string{"csv": "time,kind,memo,reference,amount_micro_usd,amount_usd", "html": "<h1>Statement " + month} {
		req, _ := http.NewRequest("GET", srv.URL+"/api/v1/billing/statement?format="+format, nil)
		req.Header.Set("Authorization", "Bearer "+requester.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Fatalf("%s statement: %d\n%s", format, resp.StatusCode, b)
		}
	}
	if code := requester.Do("GET", "/api/v1/billing/statement?month=November", nil, nil); code != 400 {
		t.Fatalf("a bad month: %d", code)
	}
}
