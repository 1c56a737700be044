package payout

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/idlegrid/idlegrid/controlplane/ledger"
	"github.com/idlegrid/idlegrid/controlplane/store"
	"github.com/idlegrid/idlegrid/shared/wallet"
)

// books is a store with suppliers who have payable earnings.
type books struct {
	st    *store.Store
	l     *ledger.Ledger
	users []string
}

func newBooks(t *testing.T, payable []int64) *books {
	t.Helper()
	st, err := store.Open(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	b := &books{st: st, l: &ledger.Ledger{Store: st, Now: time.Now}}
	err = st.Write(t.Context(), func(tx *sql.Tx) error {
		for i, amt := range payable {
			id := fmt.Sprintf("usr_%d", i)
			if err := store.InsertUser(t.Context(), tx, store.User{ID: id, Email: id + "@example.com", PasswordHash: "x", CreatedAt: time.Now()}); err != nil {
				return err
			}
			b.users = append(b.users, id)
			if amt > 0 {
				if _, _, err := ledger.Post(t.Context(), tx, ledger.Txn{Kind: "topup", Key: "seed:" + id, Postings: []ledger.Posting{
					{Account: ledger.External, Amount: -amt}, {Account: ledger.SupplierPayable(id), Amount: amt}}}, time.Now()); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (b *books) setWallet(t *testing.T, i int, w string) {
	t.Helper()
	if err := b.st.Write(t.Context(), func(tx *sql.Tx) error { return store.SetPayoutWallet(t.Context(), tx, b.users[i], w) }); err != nil {
		t.Fatal(err)
	}
}

func newWallet(t *testing.T) string {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return wallet.EncodeBase58(pub)
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestLedgerModePaysOnceAboveThresholdWithAWallet(t *testing.T) {
	// $25.0000005 payable would need half a micro-token: the remainder stays.
	b := newBooks(t, []int64{25_000_000, 5_000_000, 40_000_000, 30_000_000})
	b.setWallet(t, 0, newWallet(t))
	b.setWallet(t, 1, newWallet(t)) // below the $10 threshold
	// user 2 has no wallet
	b.setWallet(t, 3, "not-a-wallet") // set behind the API's back: parked
	s, err := New(Config{}, b.st, b.l, quiet())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for round := range 2 {
		if err := s.Run(ctx); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
	}
	if err := b.l.Check(ctx); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		state   string
		payable int64
	}{{"paid", 0}, {"", 5_000_000}, {"", 40_000_000}, {"parked", 0}}
	for i, w := range want {
		ps, _ := store.PayoutsOf(ctx, b.st.Reader(), b.users[i])
		bal, _ := b.l.BalancesOf(ctx, b.users[i])
		if bal.Payable != w.payable || (w.state == "" && len(ps) != 0) || (w.state != "" && (len(ps) != 1 || ps[0].State != w.state)) {
			t.Fatalf("user %d: payouts %+v, payable %d; want one %q and payable %d", i, ps, bal.Payable, w.state, w.payable)
		}
	}
	ps, _ := store.PayoutsOf(ctx, b.st.Reader(), b.users[0])
	if p := ps[0]; p.Mode != ModeLedger || p.TokenAmount != 25_000_000 || p.Amount != 25_000_000 || p.MicrosPerToken != 1_000_000 || p.PaidAt.IsZero() {
		t.Fatalf("ledger-mode payout %+v", p)
	}
	parked, _ := store.PayoutsOf(ctx, b.st.Reader(), b.users[3])
	if parked[0].Reason == "" {
		t.Fatal("a parked payout without a reason")
	}
	// The operator fixes the wallet and retries: the payout is queued again.
	b.setWallet(t, 3, newWallet(t))
	if err := s.RetryParked(ctx, parked[0].ID); err != nil {
		t.Fatal(err)
	}
	if q, _ := store.PayoutsInState(ctx, b.st.Reader(), "queued"); len(q) != 1 {
		t.Fatalf("after retry, queued: %d", len(q))
	}
	if err := s.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if ps, _ := store.PayoutsOf(ctx, b.st.Reader(), b.users[3]); ps[0].State != "paid" {
		t.Fatalf("the retried payout is %s", ps[0].State)
	}
	if err := b.l.Check(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestConfigRefusesAReadableTreasuryKey(t *testing.T) {
	dir := t.TempDir()
	key := dir + "/treasury.json"
	if err := writeFile(key, "[1,2,3]", 0o644); err != nil {
		t.Fatal(err)
	}
	err := Config{Mode: ModeOnChain, RPCURL: "http://127.0.0.1:1", Mint: "x", TreasuryKey: key}.Validate()
	if err == nil || !contains(err.Error(), "chmod 600") {
		t.Fatalf("a world-readable treasury key: %v", err)
	}
	if err := (Config{Mode: ModeOnChain}).Validate(); err == nil || !contains(err.Error(), "--payout-rpc") {
		t.Fatalf("on-chain without settings: %v", err)
	}
}
