package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/idlegrid/idlegrid/controlplane/store"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

type world struct {
	t     *testing.T
	st    *store.Store
	clk   *clock
	l     *Ledger
	m     *Meter
	users []string
	devs  []string
}

func newWorld(t *testing.T, users, devices int) *world {
	t.Helper()
	st, err := store.Open(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	w := &world{t: t, st: st, clk: &clock{t: time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)}}
	w.l = &Ledger{Store: st, Now: w.clk.now}
	w.m = &Meter{Ledger: w.l, MaxGap: 15 * time.Second}
	err = st.Write(t.Context(), func(tx *sql.Tx) error {
		for i := range users {
			id := fmt.Sprintf("usr_%d", i)
			if err := store.InsertUser(t.Context(), tx, store.User{ID: id, Email: id + "@example.com", PasswordHash: "x", CreatedAt: w.clk.t}); err != nil {
				return err
			}
			w.users = append(w.users, id)
		}
		for i := range devices {
			id := fmt.Sprintf("dev_%d", i)
			pk := make([]byte, 32)
			pk[0], pk[1] = byte(i), 1
			if err := store.InsertDevice(t.Context(), tx, store.Device{ID: id, UserID: w.users[i%users], Name: id, PublicKey: pk, CreatedAt: w.clk.t}); err != nil {
				return err
			}
			w.devs = append(w.devs, id)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// heartbeat stores a heartbeat of dev at the current server time.
func (w *world) heartbeat(dev string) {
	err := w.st.Write(context.Background(), func(tx *sql.Tx) error {
		_, err := store.InsertTelemetry(context.Background(), tx, []store.TelemetryRow{{DeviceID: dev, At: w.clk.t, Seq: 1, State: "available"}})
		return err
	})
	if err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) check() {
	w.t.Helper()
	if err := w.l.Check(context.Background()); err != nil {
		w.t.Fatal(err)
	}
}

func TestBillableMS(t *testing.T) {
	cases := []struct {
		name     string
		hbs      []int64
		from, to int64
		want     int64
	}{
		{"steady", []int64{0, 5000, 10000, 15000}, 0, 15000, 15000},
		{"window cuts both ends", []int64{0, 5000, 10000, 15000}, 2000, 12000, 10000},
		{"heartbeat before the window counts from the window", []int64{-3000, 2000}, 0, 10000, 2000},
		{"nothing after the last heartbeat", []int64{0, 5000}, 0, 60000, 5000},
		{"a lost device's gap is free", []int64{0, 5000, 65000, 70000}, 0, 70000, 10000},
		{"gap exactly max is billed", []int64{0, 15000}, 0, 15000, 15000},
		{"one heartbeat proves no time", []int64{1000}, 0, 10000, 0},
		{"duplicates add nothing", []int64{0, 0, 5000, 5000}, 0, 5000, 5000},
	}
	for _, tc := range cases {
		if got := BillableMS(tc.hbs, tc.from, tc.to, 15000); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestChargesAddUpAcrossWindows(t *testing.T) {
	// $0.37/h for 1,000 windows of 7,777 ms: the sum of window charges is
	// the charge of the total, to the micro-dollar.
	const price = 370_000
	var billed, charged int64
	for range 1000 {
		billed += 7777
		due, err := chargeFor(price, billed)
		if err != nil {
			t.Fatal(err)
		}
		charged += due - charged
	}
	want := new(big.Int).Div(new(big.Int).Mul(big.NewInt(price), big.NewInt(billed)), big.NewInt(3_600_000)).Int64()
	if charged != want {
		t.Fatalf("windows charged %d, the total costs %d", charged, want)
	}
	if _, err := chargeFor(1<<62, 1<<40); err == nil {
		t.Fatal("an overflowing charge was accepted")
	}
	for _, amount := range []int64{0, 1, 19, 20, 999_999, 123_456_789} {
		s, f, err := splitFee(amount, 500)
		if err != nil || s+f != amount || f != amount*500/10000 {
			t.Fatalf("split %d: %d + %d", amount, s, f)
		}
	}
}

func TestPostRefusesBadTransactionsAndBooksOnce(t *testing.T) {
	w := newWorld(t, 1, 0)
	ctx := t.Context()
	u := w.users[0]
	post := func(tx Txn) (bool, error) {
		var dup bool
		err := w.st.Write(ctx, func(sqlTx *sql.Tx) error {
			_, d, err := Post(ctx, sqlTx, tx, w.clk.t)
			dup = d
			return err
		})
		return dup, err
	}
	if _, err := post(Txn{Kind: "x", Key: "k1", Postings: []Posting{{External, -5}, {Requester(u), 4}}}); !errors.Is(err, ErrUnbalanced) {
		t.Fatalf("unbalanced: %v", err)
	}
	if _, err := post(Txn{Kind: "x", Key: "k2", Postings: []Posting{{External, 0}, {Requester(u), 0}}}); !errors.Is(err, ErrUnbalanced) {
		t.Fatalf("zero postings: %v", err)
	}
	if _, err := post(Txn{Kind: "x", Key: "k3", Postings: []Posting{{Requester(u), -1}, {PlatformFees, 1}}}); !errors.Is(err, store.ErrInsufficientFunds) {
		t.Fatalf("overdraft: %v", err)
	}
	for i := range 3 {
		dup, err := w.l.TopUp(ctx, u, 5_000_000, "ticket-42", "operator credit")
		if err != nil || dup != (i > 0) {
			t.Fatalf("top-up try %d: dup %v, %v", i, dup, err)
		}
	}
	b, _ := w.l.BalancesOf(ctx, u)
	if b.Credit != 5_000_000 {
		t.Fatalf("credit %d after three tries of one top-up, want 5000000", b.Credit)
	}
	if _, err := w.l.TopUp(ctx, u, -1, "t2", ""); err == nil {
		t.Fatal("a negative top-up was accepted")
	}
	w.check()
}

// Random sequences of top-ups, deploys, heartbeats (with devices lost and
// back), metering windows, terminations, releases and payouts never break
// conservation: every transaction balances, cached balances match, no
// requester goes below zero, and every charged second has its earning and
// fee.
func TestConservationUnderRandomOperations(t *testing.T) {
	for seed := uint64(1); seed <= 8; seed++ {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) { randomRun(t, seed) })
	}
}

func randomRun(t *testing.T, seed uint64) {
	ctx := t.Context()
	rng := rand.New(rand.NewPCG(seed, 99))
	w := newWorld(t, 4, 6)
	signer, err := LoadSigner(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	type live struct {
		id, dev string
		lost    bool
	}
	var open []*live
	nextID := 0
	alive := map[string]bool{}
	for step := 0; step < 300; step++ {
		switch op := rng.IntN(10); {
		case op == 0: // top-up
			u := w.users[rng.IntN(len(w.users))]
			if _, err := w.l.TopUp(ctx, u, int64(rng.IntN(3_000_000)+1), fmt.Sprint("t", step), ""); err != nil {
				t.Fatal(err)
			}
		case op == 1 && len(open) < 5: // deploy a device for a requester
			dev := w.devs[rng.IntN(len(w.devs))]
			a := store.Assignment{ID: fmt.Sprintf("asg_%d", nextID), ClusterID: "cls_x", DeviceID: dev, RequesterID: w.users[rng.IntN(len(w.users))],
				SupplierID: w.users[(nextID+1)%len(w.users)], PricePerHour: int64(rng.IntN(900_000) + 1000), FeeBP: 500, CreatedAt: w.clk.t}
			nextID++
			err := w.st.Write(ctx, func(tx *sql.Tx) error {
				if err := store.InsertAssignment(ctx, tx, a); err != nil {
					return err
				}
				return store.SetAssignmentReady(ctx, tx, a.ID, w.clk.t.Add(time.Duration(rng.IntN(20))*time.Second))
			})
			if err != nil {
				t.Fatal(err)
			}
			open = append(open, &live{id: a.ID, dev: dev})
			alive[dev] = true
		case op == 2 && len(open) > 0: // a device is lost, or comes back
			l := open[rng.IntN(len(open))]
			l.lost = !l.lost
		case op == 3 && len(open) > 0: // terminate
			i := rng.IntN(len(open))
			if err := w.m.Finish(ctx, open[i].id, w.clk.t, signer); err != nil {
				t.Fatal(err)
			}
			open = append(open[:i], open[i+1:]...)
		case op == 4:
			if err := w.m.Settle(ctx); err != nil {
				t.Fatal(err)
			}
		case op == 5:
			if _, err := w.l.Release(ctx, 30*time.Second); err != nil {
				t.Fatal(err)
			}
		case op == 6: // pay out what a supplier has payable, then settle it
			u := w.users[rng.IntN(len(w.users))]
			b, _ := w.l.BalancesOf(ctx, u)
			if b.Payable > 0 {
				key := fmt.Sprint("p", step)
				err := w.st.Write(ctx, func(tx *sql.Tx) error {
					if err := StartPayout(ctx, tx, w.l, u, b.Payable, key); err != nil {
						return err
					}
					return SettlePayout(ctx, tx, w.l, b.Payable, key)
				})
				if err != nil {
					t.Fatal(err)
				}
			}
		default: // time passes; live devices heartbeat every 5 s
			for range rng.IntN(6) + 1 {
				w.clk.t = w.clk.t.Add(5 * time.Second)
				seen := map[string]bool{}
				for _, l := range open {
					if !l.lost && !seen[l.dev] {
						w.heartbeat(l.dev)
						seen[l.dev] = true
					}
				}
			}
		}
		w.check()
	}
	for _, l := range open {
		if err := w.m.Finish(ctx, l.id, w.clk.t, signer); err != nil {
			t.Fatal(err)
		}
	}
	w.check()
	// Every charged micro-dollar is an earning plus a fee, and every
	// assignment charged exactly what its billed time costs (minus what
	// could not be charged for lack of credit).
	for i := range nextID {
		id := fmt.Sprintf("asg_%d", i)
		a, err := store.AssignmentByID(ctx, w.st.Reader(), id)
		if err != nil {
			t.Fatal(err)
		}
		sup, fee, err := store.ChargeTotals(ctx, w.st.Reader(), id)
		if err != nil {
			t.Fatal(err)
		}
		due, _ := chargeFor(a.PricePerHour, a.BilledMS)
		if sup+fee != a.Charged || a.Charged+a.Unpaid != due {
			t.Fatalf("%s: earned %d + fee %d vs charged %d; charged %d + unpaid %d vs due %d", id, sup, fee, a.Charged, a.Charged, a.Unpaid, due)
		}
	}
	rs, err := store.ReceiptsOf(ctx, w.st.Reader(), w.users[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		rec, err := VerifyReceipt(signer.PublicKey(), []byte(r.Body), r.Signature)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Earned+rec.Fee != rec.Charged {
			t.Fatalf("receipt %s: %d + %d != %d", rec.ID, rec.Earned, rec.Fee, rec.Charged)
		}
	}
}

func TestReceiptsVerifyAndForgeriesFail(t *testing.T) {
	dir := t.TempDir()
	s, err := LoadSigner(dir)
	if err != nil {
		t.Fatal(err)
	}
	again, err := LoadSigner(dir)
	if err != nil || !again.PublicKey().Equal(s.PublicKey()) {
		t.Fatalf("reloading the key: %v", err)
	}
	body, sig, err := s.Sign(Receipt{ID: "rcp_1", Seconds: 3600, Charged: 370_000, Earned: 351_500, Fee: 18_500})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := VerifyReceipt(s.PublicKey(), body, sig); err != nil || r.Charged != 370_000 {
		t.Fatalf("genuine receipt: %+v, %v", r, err)
	}
	forged := []byte(string(body[:len(body)-2]) + "9}")
	if _, err := VerifyReceipt(s.PublicKey(), forged, sig); err == nil {
		t.Fatal("an edited receipt verified")
	}
}

// A requester who runs out of credit is not charged below zero; the
// shortfall is recorded, and after the grace period the cluster shows up as
// one to stop.
func TestOutOfCreditIsRecordedNotOverdrawn(t *testing.T) {
	w := newWorld(t, 2, 1)
	ctx := t.Context()
	renter, gamer := w.users[0], w.users[1]
	if _, err := w.l.TopUp(ctx, renter, 1000, "small", ""); err != nil { // $0.001
		t.Fatal(err)
	}
	err := w.st.Write(ctx, func(tx *sql.Tx) error {
		a := store.Assignment{ID: "asg_x", ClusterID: "cls_broke", DeviceID: w.devs[0], RequesterID: renter, SupplierID: gamer, PricePerHour: 3_600_000, FeeBP: 500, CreatedAt: w.clk.t}
		if err := store.InsertAssignment(ctx, tx, a); err != nil {
			return err
		}
		return store.SetAssignmentReady(ctx, tx, a.ID, w.clk.t)
	})
	if err != nil {
		t.Fatal(err)
	}
	for range 10 { // ten seconds at $1 per 1000 s … costs $0.01, credit is $0.001
		w.heartbeat(w.devs[0])
		w.clk.t = w.clk.t.Add(time.Second)
	}
	w.heartbeat(w.devs[0])
	if err := w.m.Settle(ctx); err != nil {
		t.Fatal(err)
	}
	w.check()
	a, _ := store.AssignmentByID(ctx, w.st.Reader(), "asg_x")
	if a.Charged != 1000 || a.Unpaid != 9000 {
		t.Fatalf("charged %d unpaid %d, want 1000 and 9000", a.Charged, a.Unpaid)
	}
	if b, _ := w.l.BalancesOf(ctx, renter); b.Credit != 0 {
		t.Fatalf("credit %d, want 0", b.Credit)
	}
	if ids, _ := store.OutOfCredit(ctx, w.st.Reader(), w.clk.t.Add(-5*time.Minute)); len(ids) != 0 {
		t.Fatalf("stopped within the grace period: %v", ids)
	}
	if ids, _ := store.OutOfCredit(ctx, w.st.Reader(), w.clk.t); len(ids) != 1 || ids[0] != "cls_broke" {
		t.Fatalf("after the grace period: %v", ids)
	}
	if err := w.l.CheckDeposit(ctx, renter, 3_600_000, 1); err == nil || !strings.Contains(err.Error(), "top up $3.60") {
		t.Fatalf("deposit check: %v", err)
	}
}
