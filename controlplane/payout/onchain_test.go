package payout

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/gagliardetto/solana-go"

	"github.com/idlegrid/idlegrid/controlplane/payout/svmtest"
	"github.com/idlegrid/idlegrid/controlplane/store"
)

// chainWorld is a real SVM with a funded treasury and a mint, and books
// with suppliers owed money.
type chainWorld struct {
	t       *testing.T
	svm     *svmtest.SVM
	b       *books
	mint    string
	keyPath string
	wallets []string
	owed    []int64 // micro-USD each supplier is owed (USD stablecoin, 6 decimals: 1 micro = 1 base unit)
	before  []uint64
}

func newChainWorld(t *testing.T, owed []int64, treasuryTokens uint64) *chainWorld {
	t.Helper()
	w := &chainWorld{t: t, svm: svmtest.Start(t), owed: owed}
	treasury := solana.NewWallet().PrivateKey
	w.keyPath = filepath.Join(t.TempDir(), "treasury.json")
	raw := make([]int, len(treasury))
	for i, b := range treasury {
		raw[i] = int(b)
	}
	js, _ := json.Marshal(raw)
	if err := os.WriteFile(w.keyPath, js, 0o600); err != nil {
		t.Fatal(err)
	}
	w.svm.Airdrop(t, treasury.PublicKey().String(), 100_000_000_000)
	w.mint = w.svm.CreateMint(t, 6, solana.NewWallet().PublicKey().String())
	if treasuryTokens > 0 {
		w.svm.MintTo(t, w.mint, treasury.PublicKey().String(), treasuryTokens)
	}
	w.b = newBooks(t, owed)
	for i := range owed {
		wal := solana.NewWallet().PublicKey().String()
		w.wallets = append(w.wallets, wal)
		w.b.setWallet(t, i, wal)
		if i%3 == 0 { // a third already hold the token: no account to create
			w.svm.MintTo(t, w.mint, wal, 1)
		}
		w.before = append(w.before, w.svm.TokenBalance(t, w.mint, wal))
	}
	return w
}

func (w *chainWorld) service(crash func(string) bool) *Service {
	w.t.Helper()
	s, err := New(Config{Mode: ModeOnChain, RPCURL: w.svm.URL(), Mint: w.mint, TreasuryKey: w.keyPath, Threshold: 1, PriorityMicroLamports: 1000, ComputeUnits: 400_000},
		w.b.st, w.b.l, quiet())
	if err != nil {
		w.t.Fatal(err)
	}
	s.Crash = crash
	return s
}

// settle runs rounds until nothing is queued or in flight.
func (w *chainWorld) settle(s *Service) {
	w.t.Helper()
	ctx := context.Background()
	for range 20 {
		if err := s.Run(ctx); err != nil {
			w.t.Fatal(err)
		}
		sent, _ := store.PayoutsInState(ctx, w.b.st.Reader(), "sent")
		queued, _ := store.PayoutsInState(ctx, w.b.st.Reader(), "queued")
		if len(sent) == 0 && len(queued) == 0 {
			return
		}
	}
	w.t.Fatal("payouts did not settle in 20 rounds")
}

// assertPaidOnce checks every supplier received exactly what was owed.
func (w *chainWorld) assertPaidOnce() {
	w.t.Helper()
	for i, wal := range w.wallets {
		got := w.svm.TokenBalance(w.t, w.mint, wal) - w.before[i]
		if int64(got) != w.owed[i] {
			w.t.Fatalf("supplier %d received %d base units, owed %d", i, got, w.owed[i])
		}
	}
	if err := w.b.l.Check(context.Background()); err != nil {
		w.t.Fatal(err)
	}
}

func TestOnChainBatchPaysEveryRecipientExactlyOnce(t *testing.T) {
	owed := make([]int64, 23) // more than one transaction holds
	for i := range owed {
		owed[i] = int64(1_000_000 + 37*i)
	}
	w := newChainWorld(t, owed, 1_000_000_000)
	s := w.service(nil)
	w.settle(s)
	w.assertPaidOnce()
	for i, wal := range w.wallets {
		if !w.svm.ATAExists(t, w.mint, wal) {
			t.Fatalf("supplier %d has no token account", i)
		}
	}
	batches, _ := store.BatchesInState(context.Background(), w.b.st.Reader(), "finalized")
	if len(batches) < 2 {
		t.Fatalf("%d batches for 23 payouts: the 1232-byte limit should need more than one", len(batches))
	}
	for _, b := range batches {
		if len(b.Tx) > MaxTxBytes {
			t.Fatalf("batch %s is %d bytes", b.ID, len(b.Tx))
		}
	}
	paid, _ := store.PayoutsInState(context.Background(), w.b.st.Reader(), "paid")
	if len(paid) != 23 || paid[0].Signature == "" || paid[0].MicrosPerToken != 1_000_000 {
		t.Fatalf("paid payouts: %d, first %+v", len(paid), paid[0])
	}
	// A second round finds nothing to pay.
	w.settle(s)
	w.assertPaidOnce()
	if bal, _, err := s.TreasuryBalance(context.Background()); err != nil || bal == 0 {
		t.Fatalf("treasury balance %d, %v", bal, err)
	}
}

// The payout process killed at every step, over many random runs: after
// restarts every supplier has been paid exactly once.
func TestCrashAtAnyPointPaysExactlyOnce(t *testing.T) {
	covered := map[string]int{}
	for run := range 10 {
		rng := rand.New(rand.NewPCG(uint64(run), 7))
		owed := make([]int64, 4+rng.IntN(12))
		for i := range owed {
			owed[i] = int64(500_000 + rng.IntN(5_000_000))
		}
		w := newChainWorld(t, owed, 1_000_000_000)
		ctx := context.Background()
		for attempt := 0; ; attempt++ {
			if attempt > 60 {
				t.Fatalf("run %d did not finish", run)
			}
			s := w.service(func(p string) bool {
				if rng.IntN(3) == 0 {
					covered[p]++
					return true
				}
				return false
			})
			err := s.Run(ctx)
			if err != nil && !errors.Is(err, errCrashed) {
				t.Fatalf("run %d: %v", run, err)
			}
			if rng.IntN(4) == 0 { // sometimes the blockhash dies while we are down
				w.svm.ExpireBlockhash(t)
				w.svm.Advance(t, 200)
			}
			sent, _ := store.PayoutsInState(ctx, w.b.st.Reader(), "sent")
			queued, _ := store.PayoutsInState(ctx, w.b.st.Reader(), "queued")
			accts, _ := store.PayableAccounts(ctx, w.b.st.Reader(), 1)
			if err == nil && len(sent) == 0 && len(queued) == 0 && len(accts) == 0 {
				break
			}
		}
		w.assertPaidOnce()
	}
	for _, p := range CrashPoints {
		if covered[p] == 0 {
			t.Errorf("crash point %q never hit", p)
		}
	}
	if len(covered) != len(CrashPoints) {
		t.Errorf("crash points hit %v, CrashPoints lists %v: keep the list complete", covered, CrashPoints)
	}
	t.Logf("crash points covered: %d of %d (%v)", len(covered), len(CrashPoints), covered)
}

func TestRejectionsAreReportedAndRecovered(t *testing.T) {
	ctx := context.Background()
	t.Run("insufficient treasury tokens park the payouts", func(t *testing.T) {
		w := newChainWorld(t, []int64{2_000_000, 3_000_000}, 1_000_000) // $1 in the treasury
		s := w.service(nil)
		if err := s.Run(ctx); err != nil {
			t.Fatal(err)
		}
		w.svm.ExpireBlockhash(t)
		w.svm.Advance(t, 200)
		if err := s.Reconcile(ctx); err != nil {
			t.Fatal(err)
		}
		parked, _ := store.PayoutsInState(ctx, w.b.st.Reader(), "parked")
		if len(parked) != 2 || !contains(parked[0].Reason, "too few tokens") {
			t.Fatalf("parked %+v", parked)
		}
		for i := range w.wallets {
			if got := w.svm.TokenBalance(t, w.mint, w.wallets[i]) - w.before[i]; got != 0 {
				t.Fatalf("a refused batch paid %d", got)
			}
		}
		// Funded, the operator retries: paid once.
		w.svm.MintTo(t, w.mint, mustKey(t, w.keyPath), 1_000_000_000)
		for _, p := range parked {
			if err := s.RetryParked(ctx, p.ID); err != nil {
				t.Fatal(err)
			}
		}
		w.settle(s)
		w.assertPaidOnce()
	})
	t.Run("an expired blockhash is rebuilt, never paid twice", func(t *testing.T) {
		w := newChainWorld(t, []int64{1_500_000}, 1_000_000_000)
		s := w.service(func(p string) bool { return p == "recorded" })
		if err := s.Run(ctx); !errors.Is(err, errCrashed) {
			t.Fatalf("run: %v", err)
		}
		w.svm.ExpireBlockhash(t)
		w.svm.Advance(t, 200)
		s = w.service(nil)
		w.settle(s)
		w.assertPaidOnce()
		expired, _ := store.BatchesInState(ctx, w.b.st.Reader(), "expired")
		if len(expired) != 1 {
			t.Fatalf("%d expired batches, want the one that never went out", len(expired))
		}
	})
	t.Run("a bad signature is reported, then rebuilt", func(t *testing.T) {
		w := newChainWorld(t, []int64{1_500_000}, 1_000_000_000)
		s := w.service(func(p string) bool { return p == "recorded" })
		if err := s.Run(ctx); !errors.Is(err, errCrashed) {
			t.Fatalf("run: %v", err)
		}
		// Corrupt the recorded signature bytes, as a broken signer would.
		err := w.b.st.Write(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `UPDATE payout_batches SET tx = CAST(substr(tx, 1, 10) || x'00' || substr(tx, 12) AS BLOB)`)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		s = w.service(nil)
		if err := s.Reconcile(ctx); err != nil {
			t.Fatal(err)
		}
		sent, _ := store.BatchesInState(ctx, w.b.st.Reader(), "sent")
		if len(sent) != 1 || !contains(sent[0].Reason, "signature") {
			t.Fatalf("after resending a corrupt batch: %+v", sent)
		}
		w.svm.ExpireBlockhash(t)
		w.svm.Advance(t, 200)
		w.settle(s)
		w.assertPaidOnce()
	})
}

func mustKey(t *testing.T, path string) string {
	k, err := solana.PrivateKeyFromSolanaKeygenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return k.PublicKey().String()
}
