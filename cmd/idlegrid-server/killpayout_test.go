package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gagliardetto/solana-go"

	"github.com/idlegrid/idlegrid/controlplane/ledger"
	"github.com/idlegrid/idlegrid/controlplane/payout"
	"github.com/idlegrid/idlegrid/controlplane/payout/svmtest"
	"github.com/idlegrid/idlegrid/controlplane/server"
	"github.com/idlegrid/idlegrid/controlplane/store"
	"github.com/idlegrid/idlegrid/shared/money"
)

// payoutSuppliers is how many suppliers are owed: enough that one batch
// cannot hold them all (most need a token account created, 9 such legs fit
// one transaction), so a kill can land between two batches.
const payoutSuppliers = 12

// The real idlegrid-server, paying on a real SVM, killed with SIGKILL at
// each step of a payout (IDLEGRID_FAILPOINT) and restarted on the same
// data without it: every supplier ends up paid exactly what was owed,
// once, on chain and in the database, and the ledger balances.
func TestKilledMidPayout(t *testing.T) {
	bin := buildServer(t)
	svm := svmtest.Start(t)
	for _, point := range payout.CrashPoints {
		t.Run(point, func(t *testing.T) { killMidPayout(t, bin, svm, point) })
	}
}

// payWorld is one run's chain and suppliers: its own mint and treasury on
// the shared SVM, so runs cannot see each other's money.
type payWorld struct {
	t         *testing.T
	svm       *svmtest.SVM
	mint      string
	treasury  string
	keyPath   string
	treasury0 uint64 // treasury tokens before any payout
	sups      []payee
}

type payee struct {
	email, token, wallet, userID string
	owed                         int64  // micro-USD; USD stablecoin, 6 decimals: one micro-USD is one base unit
	before                       uint64 // tokens held before any payout
}

func newPayWorld(t *testing.T, svm *svmtest.SVM) *payWorld {
	t.Helper()
	w := &payWorld{t: t, svm: svm}
	key := solana.NewWallet().PrivateKey
	raw := make([]int, len(key))
	for i, b := range key {
		raw[i] = int(b)
	}
	js, _ := json.Marshal(raw) // the solana-keygen file format
	w.keyPath = filepath.Join(t.TempDir(), "treasury.json")
	if err := os.WriteFile(w.keyPath, js, 0o600); err != nil {
		t.Fatal(err)
	}
	w.treasury = key.PublicKey().String()
	svm.Airdrop(t, w.treasury, 100_000_000_000) // fees and the rent of new token accounts
	w.mint = svm.CreateMint(t, 6, solana.NewWallet().PublicKey().String())
	svm.MintTo(t, w.mint, w.treasury, 1_000_000_000) // $1,000
	w.treasury0 = svm.TokenBalance(t, w.mint, w.treasury)
	return w
}

// serverFlags run the server paying on chain from this world's treasury,
// checking for payable balances every round (the service polls every 2 s).
func (w *payWorld) serverFlags() []string {
	return []string{"--payout-mode", "onchain", "--payout-rpc", w.svm.URL(), "--payout-mint", w.mint, "--payout-treasury-key", w.keyPath,
		"--payout-threshold", "1", "--payout-every", "1s", "--log-level", "info"}
}

func killMidPayout(t *testing.T, bin string, svm *svmtest.SVM, point string) {
	w := newPayWorld(t, svm)
	logPath := filepath.Join(t.TempDir(), "server.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	logs := func() string {
		b, _ := os.ReadFile(logPath)
		return string(b)
	}
	s := &liveServer{t: t, bin: bin, dir: t.TempDir(), args: w.serverFlags(), stderr: logf,
		env: []string{server.FailPointEnv + "=payout:" + point}}
	s.start()
	defer func() { s.kill() }()
	if !strings.Contains(logs(), "test fail point set") {
		t.Fatalf("the server did not warn that a fail point is set; its log:\n%s", logs())
	}

	// Suppliers sign up and set their wallets as they would in the console.
	for i := range payoutSuppliers {
		p := payee{email: fmt.Sprintf("gamer%02d@example.com", i), wallet: solana.NewWallet().PublicKey().String(), owed: int64(2_000_000 + i*1_000_003)}
		var sess struct {
			SessionToken string `json:"session_token"`
		}
		if st := s.do("POST", "/api/v1/auth/signup", "", map[string]string{"email": p.email, "password": "correct horse battery"}, &sess); st != http.StatusCreated {
			t.Fatalf("sign up %s: %d", p.email, st)
		}
		p.token = sess.SessionToken
		if st := s.do("PUT", "/api/v1/me/wallet", p.token, map[string]string{"address": p.wallet}, nil); st != http.StatusOK {
			t.Fatalf("set wallet of %s: %d", p.email, st)
		}
		if i%4 == 0 { // some already hold the token: no account to create for them
			svm.MintTo(t, w.mint, p.wallet, 1)
		}
		p.before = svm.TokenBalance(t, w.mint, p.wallet)
		w.sups = append(w.sups, p)
	}
	w.seedEarnings(s.dir)

	// The next payout round reaches the fail point and the process dies.
	state := waitForExit(t, s, 15*time.Second, logs)
	ws, ok := state.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("the server ended with %v, want killed by SIGKILL at payout:%s; its log:\n%s", state, point, logs())
	}
	if !reachedFailPoint(logs(), point) {
		t.Fatalf("the server died, but its log does not say it reached fail point payout:%s:\n%s", point, logs())
	}
	w.checkKilledAt(s.dir, point)

	// Restarted without the fail point, on the same data, it finishes the
	// payout by itself.
	s.env = nil
	s.start()
	// Polled gently: each supplier's API calls are rate limited.
	deadline := time.Now().Add(30 * time.Second)
	for !w.allPaid(s, logs) {
		if time.Now().After(deadline) {
			t.Fatalf("30 s after the restart not every supplier's payout is paid; the server's log:\n%s", logs())
		}
		time.Sleep(250 * time.Millisecond)
	}
	for _, p := range w.sups {
		ps := w.payoutsSeenBy(s, p)
		if len(ps.Payouts) != 1 || ps.Payouts[0].Amount != p.owed || ps.Payouts[0].Signature == "" || ps.Payable != 0 {
			t.Fatalf("%s sees %+v, want one paid payout of %d with its signature and nothing payable", p.email, ps, p.owed)
		}
	}
	s.kill()
	w.checkPaidOnce(s.dir, bin, logs)
}

// seedEarnings makes each supplier's owed amount payable. Earnings reach
// payable only through the meter (rented devices, billed per second,
// released on a one-minute tick after the hold), which this test is not
// about: it writes the balances the way the payout package's tests do, in
// one transaction, while the server runs, as a release would.
func (w *payWorld) seedEarnings(dir string) {
	t := w.t
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	err = st.Write(ctx, func(tx *sql.Tx) error {
		for i := range w.sups {
			p := &w.sups[i]
			u, err := store.UserByEmail(ctx, tx, p.email)
			if err != nil {
				return fmt.Errorf("%s: %w", p.email, err)
			}
			p.userID = u.ID
			if _, _, err := ledger.Post(ctx, tx, ledger.Txn{Kind: "test_earnings", Key: "test-earnings:" + u.ID, Memo: "earnings seeded by TestKilledMidPayout",
				Postings: []ledger.Posting{{Account: ledger.External, Amount: -p.owed}, {Account: ledger.SupplierPayable(u.ID), Amount: p.owed}}}, time.Now()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("seeding earnings: %v", err)
	}
}

// reachedFailPoint reports whether the log has the server's last words at
// fail point payout:point.
func reachedFailPoint(log, point string) bool {
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "fail point reached") && strings.Contains(line, "failpoint=payout:"+point) {
			return true
		}
	}
	return false
}

// waitForExit waits for the server to end by itself; past within it kills
// it and fails: the fail point was never reached.
func waitForExit(t *testing.T, s *liveServer, within time.Duration, logs func() string) *os.ProcessState {
	t.Helper()
	done := make(chan struct{})
	go func() {
		_ = s.cmd.Wait()
		close(done)
	}()
	timer := time.NewTimer(within)
	defer timer.Stop()
	select {
	case <-done:
		return s.cmd.ProcessState
	case <-timer.C:
		_ = s.cmd.Process.Kill()
		<-done
		t.Fatalf("the server still ran %v after the suppliers' earnings became payable: the fail point was not reached; its log:\n%s", within, logs())
		return nil
	}
}

// checkKilledAt checks the database and the chain as the kill left them,
// so the test knows the process died at the point and not elsewhere.
func (w *payWorld) checkKilledAt(dir, point string) {
	t := w.t
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var planned, paidInDB int
	for _, p := range w.sups {
		ps, err := store.PayoutsOf(ctx, st.Reader(), p.userID)
		if err != nil {
			t.Fatal(err)
		}
		planned += len(ps)
		for _, po := range ps {
			if po.State == "paid" {
				paidInDB++
			}
		}
	}
	batches, err := store.BatchesInState(ctx, st.Reader(), "sent", "finalized", "expired", "failed")
	if err != nil {
		t.Fatal(err)
	}
	landed := 0 // suppliers whose tokens arrived
	for _, p := range w.sups {
		if w.svm.TokenBalance(t, w.mint, p.wallet) != p.before {
			landed++
		}
	}
	legs := 0
	for _, b := range batches {
		legs += b.Legs
		if b.State != "sent" {
			t.Errorf("batch %s is %s at the kill, want sent", b.ID, b.State)
		}
	}
	n := len(w.sups)
	var want struct{ planned, batches, landed int }
	switch point {
	case "planned": // the first payout recorded, the kill before the next
		want.planned, want.batches, want.landed = 1, 0, 0
	case "signed": // all planned, a batch signed but not recorded: never sent
		want.planned, want.batches, want.landed = n, 0, 0
	case "recorded": // the first batch recorded, not sent
		want.planned, want.batches, want.landed = n, 1, 0
	case "sent": // the first batch sent and landed; the rest not built
		want.planned, want.batches, want.landed = n, 1, legs
	case "confirming": // every batch landed, none yet marked paid
		want.planned, want.batches, want.landed = n, len(batches), n
	default:
		t.Fatalf("no expectations for crash point %q: add them", point)
	}
	if planned != want.planned || len(batches) != want.batches || landed != want.landed || paidInDB != 0 {
		t.Fatalf("killed at %s: %d payouts planned, %d batches (%d legs), %d suppliers paid on chain, %d paid in the database; want %d planned, %d batches, %d paid on chain, none in the database",
			point, planned, len(batches), legs, landed, paidInDB, want.planned, want.batches, want.landed)
	}
	if (point == "sent" && legs >= n) || (point == "confirming" && len(batches) < 2) {
		t.Fatalf("killed at %s with %d batches of %d legs for %d suppliers: the test needs the payout to take more than one batch", point, len(batches), legs, n)
	}
}

// payoutsView is GET /api/v1/payouts as a supplier reads it.
type payoutsView struct {
	Payable int64 `json:"payable"`
	Payouts []struct {
		Amount    int64  `json:"amount"`
		State     string `json:"state"`
		Reason    string `json:"reason"`
		Signature string `json:"signature"`
	} `json:"payouts"`
}

// allPaid reports whether every supplier sees payouts, all paid; a parked
// one fails the test at once, since nothing would unpark it.
func (w *payWorld) allPaid(s *liveServer, logs func() string) bool {
	for _, p := range w.sups {
		ps := w.payoutsSeenBy(s, p)
		if len(ps.Payouts) == 0 {
			return false
		}
		for _, po := range ps.Payouts {
			if po.State == "parked" {
				w.t.Fatalf("%s's payout is parked after the restart: %s; the server's log:\n%s", p.email, po.Reason, logs())
			}
			if po.State != "paid" {
				return false
			}
		}
	}
	return true
}

func (w *payWorld) payoutsSeenBy(s *liveServer, p payee) payoutsView {
	var v payoutsView
	if st := s.do("GET", "/api/v1/payouts", p.token, nil, &v); st != http.StatusOK {
		w.t.Fatalf("%s's payouts: %d", p.email, st)
	}
	return v
}

// checkPaidOnce checks the chain, the database and the operator's view
// once the server is down: exactly what was owed moved, once.
func (w *payWorld) checkPaidOnce(dir, bin string, logs func() string) {
	t := w.t
	t.Helper()
	var total uint64
	for _, p := range w.sups {
		got := w.svm.TokenBalance(t, w.mint, p.wallet) - p.before
		if got != uint64(p.owed) {
			t.Errorf("%s received %d base units on chain, owed %d", p.email, got, p.owed)
		}
		total += uint64(p.owed)
	}
	if left := w.svm.TokenBalance(t, w.mint, w.treasury); left != w.treasury0-total {
		t.Errorf("the treasury holds %d, want %d less %d paid out", left, w.treasury0, total)
	}

	ctx := context.Background()
	st, err := store.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := (&ledger.Ledger{Store: st, Now: time.Now}).Check(ctx); err != nil {
		t.Error(err)
	}
	if bal, err := store.LedgerBalance(ctx, st.Reader(), ledger.PayoutsClearing); err != nil || bal != 0 {
		t.Errorf("payouts clearing holds %d (%v), want 0: a payout is neither paid nor undone", bal, err)
	}
	finalized, err := store.BatchesInState(ctx, st.Reader(), "finalized")
	if err != nil {
		t.Fatal(err)
	}
	sigs := map[string]bool{}
	legs := 0
	for _, b := range finalized {
		sigs[b.Signature] = true
		legs += b.Legs
	}
	if legs != len(w.sups) {
		t.Errorf("finalized batches carry %d legs, want one per supplier (%d)", legs, len(w.sups))
	}
	if inFlight, _ := store.BatchesInState(ctx, st.Reader(), "sent"); len(inFlight) != 0 {
		t.Errorf("%d batches still in flight", len(inFlight))
	}
	for _, p := range w.sups {
		ps, err := store.PayoutsOf(ctx, st.Reader(), p.userID)
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) != 1 || ps[0].State != "paid" || ps[0].Amount != p.owed || ps[0].TokenAmount != p.owed || !sigs[ps[0].Signature] {
			t.Errorf("%s's payouts in the database: %+v; want one paid, of %d, in a finalized batch", p.email, ps, p.owed)
		}
	}

	// The operator's view agrees: nothing queued, in flight or parked.
	out, err := exec.Command(bin, append([]string{"payouts", "status", "--data", dir}, w.serverFlags()...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("idlegrid-server payouts status: %v\n%s", err, out)
	}
	treasury := money.Token{Base: w.treasury0 - total, Decimals: 6}.String()
	for _, want := range []string{"queued: 0", "sent: 0", "parked: 0", treasury + " tokens"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("payouts status lacks %q:\n%s", want, out)
		}
	}
	if t.Failed() {
		t.Logf("the server's log:\n%s", logs())
	}
}
