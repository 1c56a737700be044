// Package payout pays suppliers' payable earnings in an SPL token, exactly
// once. By default it runs ledger-only: payouts are recorded as paid off
// chain and labelled so. Given an RPC URL, a mint and a treasury keypair
// file it pays on Solana in batched TransferChecked transactions, each
// recorded (signed bytes, blockhash, last valid block height, signature)
// before it is sent, and reconciled after any crash by the rule real
// systems use: the signature found → done; the blockhash expired and the
// signature unknown → safe to rebuild; otherwise wait. A payout is paid
// only at finalized commitment, and its ledger postings commit in the same
// transaction as its state.
package payout

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/idlegrid/idlegrid/controlplane/ledger"
	"github.com/idlegrid/idlegrid/controlplane/store"
	"github.com/idlegrid/idlegrid/shared/money"
	"github.com/idlegrid/idlegrid/shared/wallet"
)

// Modes.
const (
	ModeLedger  = "ledger"  // recorded as paid off chain
	ModeOnChain = "onchain" // SPL transfers on Solana
)

// Config sets the policy and, for on-chain mode, the chain.
type Config struct {
	Mode           string
	Threshold      int64         // micro-USD; smaller payable balances wait (default $10)
	Every          time.Duration // payout schedule (default daily)
	MicrosPerToken int64         // rate: micro-USD per whole token (default 1_000_000, a USD stablecoin)
	Decimals       uint8         // token decimals (default 6)
	Mint           string        // base58, on-chain mode
	RPCURL         string        // on-chain mode
	TreasuryKey    string        // path of a Solana keygen JSON file, mode 0600, on-chain mode
	// PriorityMicroLamports, when set, adds a compute-unit price (and
	// ComputeUnits a limit) to every batch.
	PriorityMicroLamports uint64
	ComputeUnits          uint32
	PollEvery             time.Duration // how often sent batches are checked (default 2 s)
}

// Defaults fills what was left zero.
func (c Config) withDefaults() Config {
	if c.Mode == "" {
		c.Mode = ModeLedger
	}
	if c.Threshold == 0 {
		c.Threshold = 10 * int64(money.PerUSD)
	}
	if c.Every == 0 {
		c.Every = 24 * time.Hour
	}
	if c.MicrosPerToken == 0 {
		c.MicrosPerToken = int64(money.PerUSD)
	}
	if c.Decimals == 0 {
		c.Decimals = 6
	}
	if c.PollEvery == 0 {
		c.PollEvery = 2 * time.Second
	}
	return c
}

// Validate reports every problem at once; on-chain mode refuses a treasury
// key others can read.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	switch c.Mode {
	case ModeLedger:
	case ModeOnChain:
		if c.RPCURL == "" || c.Mint == "" || c.TreasuryKey == "" {
			errs = append(errs, errors.New("on-chain payouts need --payout-rpc, --payout-mint and --payout-treasury-key"))
		}
		if c.TreasuryKey != "" {
			fi, err := os.Stat(c.TreasuryKey)
			switch {
			case err != nil:
				errs = append(errs, fmt.Errorf("treasury key: %w", err))
			case fi.Mode().Perm()&0o077 != 0:
				errs = append(errs, fmt.Errorf("treasury key %s is readable by others (mode %v): chmod 600 it", c.TreasuryKey, fi.Mode().Perm()))
			}
		}
	default:
		errs = append(errs, fmt.Errorf("payout mode %q must be ledger or onchain", c.Mode))
	}
	if c.Threshold < 0 || c.MicrosPerToken <= 0 || c.Decimals > 18 {
		errs = append(errs, errors.New("payout threshold, rate or decimals out of range"))
	}
	return errors.Join(errs...)
}

// Service plans, sends and reconciles payouts.
type Service struct {
	cfg    Config
	store  *store.Store
	ledger *ledger.Ledger
	log    *slog.Logger
	chain  *chain // nil in ledger mode
	// Crash, in tests, makes the service stop dead at a named point (one
	// of CrashPoints), as if the process were killed there.
	Crash func(point string) bool
}

// CrashPoints names every point Crash is asked about, in the order a
// payout passes them: planned (its payable moved out, before the batch),
// signed (before the batch is recorded), recorded (before it is sent),
// sent (after it went out), confirming (while reconciling a sent batch).
var CrashPoints = []string{"planned", "signed", "recorded", "sent", "confirming"}

var errCrashed = errors.New("crashed (test)")

func (s *Service) crash(point string) error {
	if s.Crash != nil && s.Crash(point) {
		return errCrashed
	}
	return nil
}

// New builds the service; on-chain mode loads the treasury key.
func New(cfg Config, st *store.Store, l *ledger.Ledger, log *slog.Logger) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	s := &Service{cfg: cfg, store: st, ledger: l, log: log}
	if cfg.Mode == ModeOnChain {
		c, err := newChain(cfg)
		if err != nil {
			return nil, err
		}
		s.chain = c
	}
	return s, nil
}

// Config returns the effective settings.
func (s *Service) Config() Config { return s.cfg }

func newID(prefix string) string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// Plan turns payable balances at or above the threshold into payouts, for
// suppliers with a wallet. Each payout moves its amount out of payable in
// the same transaction that records it; in ledger mode it is paid at once.
func (s *Service) Plan(ctx context.Context) (int, error) {
	accts, err := store.PayableAccounts(ctx, s.store.Reader(), s.cfg.Threshold)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, a := range accts {
		if a.Wallet == "" {
			continue // shown to the supplier: "set a wallet to be paid"
		}
		base, rem, err := money.ToToken(money.Micros(a.Payable), money.Micros(s.cfg.MicrosPerToken), s.cfg.Decimals)
		if err != nil || base == 0 || base > 1<<62 {
			continue
		}
		now := s.ledger.Now()
		p := store.Payout{ID: newID("pay_"), UserID: a.UserID, Wallet: a.Wallet, Amount: a.Payable - int64(rem), TokenAmount: int64(base),
			MicrosPerToken: s.cfg.MicrosPerToken, Decimals: int(s.cfg.Decimals), Mint: s.cfg.Mint, Mode: s.cfg.Mode, State: "queued", CreatedAt: now}
		if _, err := wallet.Parse(a.Wallet); err != nil {
			p.State, p.Reason = "parked", "the wallet address is not valid: "+err.Error()
		}
		if s.cfg.Mode == ModeLedger && p.State == "queued" {
			p.State, p.PaidAt, p.Mint = "paid", now, ""
		}
		err = s.store.Write(ctx, func(tx *sql.Tx) error {
			if err := store.InsertPayout(ctx, tx, p); err != nil {
				return err
			}
			if err := ledger.StartPayout(ctx, tx, s.ledger, a.UserID, p.Amount, p.ID); err != nil {
				return err
			}
			if p.State == "paid" {
				return ledger.SettlePayout(ctx, tx, s.ledger, p.Amount, p.ID)
			}
			return nil
		})
		if errors.Is(err, store.ErrInsufficientFunds) {
			continue // paid meanwhile by another planner
		}
		if err != nil {
			return n, err
		}
		n++
		if err := s.crash("planned"); err != nil {
			return n, err
		}
	}
	return n, nil
}

// RetryParked puts a parked payout back in the queue (an operator's
// command once the cause is fixed: treasury funded, wallet corrected).
func (s *Service) RetryParked(ctx context.Context, payoutID string) error {
	return s.store.Write(ctx, func(tx *sql.Tx) error {
		var wallet string
		if err := tx.QueryRowContext(ctx, `SELECT u.payout_wallet FROM payouts p JOIN users u ON u.id = p.user_id WHERE p.id = ?`, payoutID).Scan(&wallet); err != nil {
			return store.ErrNotFound
		}
		if _, err := tx.ExecContext(ctx, `UPDATE payouts SET wallet = ? WHERE id = ? AND state = 'parked'`, wallet, payoutID); err != nil {
			return err
		}
		return store.SetPayoutState(ctx, tx, []string{payoutID}, "parked", "queued", "", "", s.ledger.Now())
	})
}

// Run does one round: reconcile what is in flight, plan, send what is
// queued.
func (s *Service) Run(ctx context.Context) error {
	if s.chain != nil {
		if err := s.Reconcile(ctx); err != nil {
			return err
		}
	}
	if _, err := s.Plan(ctx); err != nil {
		return err
	}
	if s.chain != nil {
		return s.SendQueued(ctx)
	}
	return s.payQueuedOffChain(ctx)
}

// payQueuedOffChain records queued payouts (retried after parking) as paid
// in ledger-only mode.
func (s *Service) payQueuedOffChain(ctx context.Context) error {
	queued, err := store.PayoutsInState(ctx, s.store.Reader(), "queued")
	if err != nil {
		return err
	}
	for _, p := range queued {
		if _, err := wallet.Parse(p.Wallet); err != nil {
			if err := s.store.Write(ctx, func(tx *sql.Tx) error {
				return store.SetPayoutState(ctx, tx, []string{p.ID}, "queued", "parked", "", "the wallet address is not valid: "+err.Error(), s.ledger.Now())
			}); err != nil {
				return err
			}
			continue
		}
		err := s.store.Write(ctx, func(tx *sql.Tx) error {
			if err := store.SetPayoutState(ctx, tx, []string{p.ID}, "queued", "paid", "", "", s.ledger.Now()); err != nil {
				return err
			}
			return ledger.SettlePayout(ctx, tx, s.ledger, p.Amount, p.ID)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// Serve reconciles every PollEvery and pays on the schedule, until ctx
// ends. Errors are logged and retried next round: every step is safe to
// repeat.
func (s *Service) Serve(ctx context.Context) error {
	poll := time.NewTicker(s.cfg.PollEvery)
	defer poll.Stop()
	var last time.Time
	for {
		if s.ledger.Now().Sub(last) >= s.cfg.Every {
			if err := s.Run(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("payout round", "err", err)
			} else {
				last = s.ledger.Now()
			}
		} else if s.chain != nil {
			if err := s.Reconcile(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("reconciling payouts", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-poll.C:
		}
	}
}

// NextRun is when the schedule pays next, given the last round.
func (s *Service) NextRun(last time.Time) time.Time { return last.Add(s.cfg.Every) }
