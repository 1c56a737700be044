// Package ledger is the control plane's money: a double-entry ledger in
// micro-USD integers over sqlite, where every transaction's postings sum to
// zero and are written in the same transaction as the business change that
// caused them; per-second metering of devices assigned to clusters, paid
// from the requester's credit to the supplier's pending earnings and the
// platform fee; the release of earnings to payable after a holding period;
// and signed usage receipts.
//
// Accounts and the sign of their balances:
//
//	requester:USER        credit the requester can spend (never below zero)
//	supplier_pending:USER earnings inside the holding period
//	supplier_payable:USER earnings ready to be paid out
//	platform:fees         the platform's fee revenue
//	payouts:clearing      payouts sent but not yet final on chain
//	external:world        the outside world: top-ups enter from it, paid
//	                      payouts leave to it (its balance is negative)
package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/idlegrid/idlegrid/controlplane/problem"
	"github.com/idlegrid/idlegrid/controlplane/store"
	"github.com/idlegrid/idlegrid/shared/money"
)

// Account kinds.
const (
	KindRequester       = "requester"
	KindSupplierPending = "supplier_pending"
	KindSupplierPayable = "supplier_payable"
	KindPlatformFees    = "platform_fees"
	KindPayoutsClearing = "payouts_clearing"
	KindExternal        = "external"
)

// Fixed accounts.
const (
	PlatformFees    = "platform:fees"
	PayoutsClearing = "payouts:clearing"
	External        = "external:world"
)

// Requester is a user's credit account.
func Requester(userID string) string { return "requester:" + userID }

// SupplierPending is a user's earnings in the holding period.
func SupplierPending(userID string) string { return "supplier_pending:" + userID }

// SupplierPayable is a user's earnings ready to pay.
func SupplierPayable(userID string) string { return "supplier_payable:" + userID }

// Posting moves Amount (micro-USD) into Account; negative moves it out.
type Posting struct {
	Account string
	Amount  int64
}

// Txn is a balanced set of postings with its idempotency key.
type Txn struct {
	Kind     string
	Key      string // a retry with the same key books nothing
	Memo     string
	Ref      string // assignment, cluster or payout it belongs to
	Postings []Posting
}

// ErrUnbalanced marks a transaction whose postings don't sum to zero.
var ErrUnbalanced = errors.New("postings do not balance")

// Post writes t inside tx, creating accounts as needed. It returns the
// transaction id and whether the key had been booked already (then nothing
// is written). A requester account going below zero fails with
// store.ErrInsufficientFunds, and the caller's transaction rolls back.
func Post(ctx context.Context, tx *sql.Tx, t Txn, now time.Time) (int64, bool, error) {
	if t.Key == "" || t.Kind == "" {
		return 0, false, errors.New("a ledger transaction needs a kind and an idempotency key")
	}
	var sum int64
	for _, p := range t.Postings {
		if p.Amount == 0 {
			return 0, false, fmt.Errorf("%w: zero posting to %s", ErrUnbalanced, p.Account)
		}
		sum += p.Amount
	}
	if sum != 0 || len(t.Postings) < 2 {
		return 0, false, fmt.Errorf("%w: %s sums to %d", ErrUnbalanced, t.Key, sum)
	}
	id, dup, err := store.InsertLedgerTxn(ctx, tx, t.Kind, t.Key, t.Memo, t.Ref, now)
	if err != nil || dup {
		return id, dup, err
	}
	for _, p := range t.Postings {
		kind, user := accountKind(p.Account)
		if err := store.EnsureLedgerAccount(ctx, tx, p.Account, kind, user, now); err != nil {
			return 0, false, err
		}
		bal, err := store.InsertPosting(ctx, tx, id, p.Account, p.Amount)
		if err != nil {
			return 0, false, err
		}
		// What a user holds never goes below zero: not spendable credit,
		// not earnings (a double payout would drive payable negative).
		if (kind == KindRequester || kind == KindSupplierPending || kind == KindSupplierPayable) && bal < 0 {
			return 0, false, fmt.Errorf("%s would be %d: %w", p.Account, bal, store.ErrInsufficientFunds)
		}
	}
	return id, false, nil
}

func accountKind(id string) (kind, user string) {
	for _, k := range []struct{ prefix, kind string }{
		{"requester:", KindRequester}, {"supplier_pending:", KindSupplierPending}, {"supplier_payable:", KindSupplierPayable},
	} {
		if len(id) > len(k.prefix) && id[:len(k.prefix)] == k.prefix {
			return k.kind, id[len(k.prefix):]
		}
	}
	switch id {
	case PlatformFees:
		return KindPlatformFees, ""
	case PayoutsClearing:
		return KindPayoutsClearing, ""
	}
	return KindExternal, ""
}

// Ledger offers the money operations as whole transactions.
type Ledger struct {
	Store *store.Store
	Now   func() time.Time
}

// MaxTopUp bounds one top-up (1 million USD): larger is surely a typo.
const MaxTopUp = 1_000_000 * 1_000_000

// TopUp adds credit to a requester's account from outside (an operator
// credit, later a deposit), once per key.
func (l *Ledger) TopUp(ctx context.Context, userID string, amount int64, key, memo string) (dup bool, err error) {
	if amount <= 0 || amount > MaxTopUp {
		return false, problem.Invalid("bad_amount", "a top-up must be more than 0 and at most 1,000,000 USD")
	}
	err = l.Store.Write(ctx, func(tx *sql.Tx) error {
		_, d, err := Post(ctx, tx, Txn{Kind: "topup", Key: "topup:" + userID + ":" + key, Memo: memo,
			Postings: []Posting{{External, -amount}, {Requester(userID), amount}}}, l.Now())
		dup = d
		return err
	})
	return dup, err
}

// Balances are one user's figures, in micro-USD.
type Balances struct {
	Credit  int64 `json:"credit"`  // spendable as a requester
	Pending int64 `json:"pending"` // earned, inside the holding period
	Payable int64 `json:"payable"` // earned, ready for the next payout
}

// BalancesOf reads a user's balances.
func (l *Ledger) BalancesOf(ctx context.Context, userID string) (Balances, error) {
	var b Balances
	var err error
	q := l.Store.Reader()
	if b.Credit, err = store.LedgerBalance(ctx, q, Requester(userID)); err != nil {
		return b, err
	}
	if b.Pending, err = store.LedgerBalance(ctx, q, SupplierPending(userID)); err != nil {
		return b, err
	}
	b.Payable, err = store.LedgerBalance(ctx, q, SupplierPayable(userID))
	return b, err
}

// Check verifies the books: balanced transactions, cached balances equal
// to their postings, a zero grand total, no requester below zero.
func (l *Ledger) Check(ctx context.Context) error {
	probs, err := store.LedgerProblems(ctx, l.Store.Reader())
	if err != nil {
		return err
	}
	if len(probs) > 0 {
		return fmt.Errorf("ledger check failed: %v", probs)
	}
	return nil
}

// Release moves supplier shares of charges older than hold from pending to
// payable, each charge once.
func (l *Ledger) Release(ctx context.Context, hold time.Duration) (int, error) {
	now := l.Now()
	shares, err := store.UnreleasedCharges(ctx, l.Store.Reader(), now.Add(-hold))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, s := range shares {
		_, user := accountKind(s.Account)
		err := l.Store.Write(ctx, func(tx *sql.Tx) error {
			if _, _, err := Post(ctx, tx, Txn{Kind: "release", Key: fmt.Sprintf("release:%d", s.TxnID), Ref: fmt.Sprint(s.TxnID),
				Postings: []Posting{{s.Account, -s.Amount}, {SupplierPayable(user), s.Amount}}}, now); err != nil {
				return err
			}
			return store.MarkReleased(ctx, tx, s.TxnID, now)
		})
		if errors.Is(err, store.ErrNotFound) {
			continue // released meanwhile
		}
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// CheckDeposit fails, saying by how much, when a requester's credit does
// not cover hours of perHour: a deploy needs at least its first hour(s)
// paid for.
func (l *Ledger) CheckDeposit(ctx context.Context, userID string, perHour int64, hours int) error {
	need := perHour * int64(hours)
	have, err := store.LedgerBalance(ctx, l.Store.Reader(), Requester(userID))
	if err != nil {
		return err
	}
	if have < need {
		return problem.New(store.ErrInsufficientFunds, "insufficient_funds",
			"this needs %s of credit for the first %d hour(s); you have %s: top up %s or more", usd(need), hours, usd(have), usd(need-have))
	}
	return nil
}

func usd(m int64) string { return money.Micros(m).USD() }
