package payout

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/gagliardetto/solana-go"
	"github.com/gagliardetto/solana-go/rpc"

	"github.com/idlegrid/idlegrid/controlplane/ledger"
	"github.com/idlegrid/idlegrid/controlplane/store"
)

// SendQueued packs queued payouts into batches (as many legs as fit 1232
// bytes), records each batch with its signed bytes, blockhash and last
// valid height, then sends it. Nothing is sent that was not recorded first.
func (s *Service) SendQueued(ctx context.Context) error {
	queued, err := store.PayoutsInState(ctx, s.store.Reader(), "queued")
	if err != nil || len(queued) == 0 {
		return err
	}
	var legs []leg
	for _, p := range queued {
		owner, err := solana.PublicKeyFromBase58(p.Wallet)
		if err != nil {
			if err := s.park(ctx, []string{p.ID}, "queued", "the wallet address is not a Solana address"); err != nil {
				return err
			}
			continue
		}
		ata, _, err := solana.FindAssociatedTokenAddress(owner, s.chain.mint)
		if err != nil {
			if err := s.park(ctx, []string{p.ID}, "queued", "no token account can be derived for this wallet"); err != nil {
				return err
			}
			continue
		}
		exists, err := s.chain.hasAccount(ctx, ata)
		if err != nil {
			return err
		}
		legs = append(legs, leg{id: p.ID, owner: owner, ata: ata, amount: uint64(p.TokenAmount), create: !exists})
	}
	for len(legs) > 0 {
		n := 1
		for n < len(legs) {
			ok, err := s.chain.fits(legs[:n+1])
			if err != nil {
				return err
			}
			if !ok {
				break
			}
			n++
		}
		if err := s.sendBatch(ctx, legs[:n]); err != nil {
			return err
		}
		legs = legs[n:]
	}
	return nil
}

func (s *Service) sendBatch(ctx context.Context, legs []leg) error {
	bh, err := s.chain.rpc.GetLatestBlockhash(ctx, rpc.CommitmentFinalized)
	if err != nil {
		return fmt.Errorf("getting a blockhash: %w", err)
	}
	id := newID("bat_")
	raw, sig, err := s.chain.build(id, legs, bh.Value.Blockhash)
	if err != nil {
		return err
	}
	if len(raw) > MaxTxBytes {
		return fmt.Errorf("batch %s is %d bytes, over the %d-byte limit", id, len(raw), MaxTxBytes)
	}
	if err := s.crash("signed"); err != nil {
		return err
	}
	ids := make([]string, len(legs))
	for i, l := range legs {
		ids[i] = l.id
	}
	now := s.ledger.Now()
	err = s.store.Write(ctx, func(tx *sql.Tx) error {
		if err := store.InsertBatch(ctx, tx, store.Batch{ID: id, State: "sent", Tx: raw, Signature: sig.String(), Blockhash: bh.Value.Blockhash.String(),
			LastValidHeight: bh.Value.LastValidBlockHeight, Legs: len(legs), CreatedAt: now}); err != nil {
			return err
		}
		return store.SetPayoutState(ctx, tx, ids, "queued", "sent", id, "", now)
	})
	if err != nil {
		return err
	}
	if err := s.crash("recorded"); err != nil {
		return err
	}
	s.log.Info("sending payout batch", "batch", id, "legs", len(legs), "signature", sig.String())
	s.send(ctx, id, raw)
	return s.crash("sent")
}

// send submits signed bytes; resending the same bytes is always safe (the
// same signature; the cluster runs a transaction once). A refusal is noted
// on the batch, which then waits for its blockhash to expire.
func (s *Service) send(ctx context.Context, batchID string, raw []byte) {
	_, err := s.chain.rpc.SendRawTransactionWithOpts(ctx, raw, rpc.TransactionOpts{PreflightCommitment: rpc.CommitmentFinalized})
	if err == nil {
		return
	}
	reason, _ := sendError(err)
	s.log.Warn("payout batch refused", "batch", batchID, "reason", reason)
	_ = s.store.Write(context.WithoutCancel(ctx), func(tx *sql.Tx) error {
		return store.TouchBatch(ctx, tx, batchID, reason, s.ledger.Now())
	})
}

// Reconcile settles every batch in flight:
//   - signature found and finalized without error → the payouts are paid
//     (ledger postings in the same transaction);
//   - found with an error → nothing moved: the payouts go back to the
//     queue, or are parked when the cause needs an operator;
//   - not found and the blockhash expired (block height past its last
//     valid height) → it can never land: back to the queue, rebuilt later;
//   - not found, blockhash alive → the same bytes are sent again.
func (s *Service) Reconcile(ctx context.Context) error {
	batches, err := store.BatchesInState(ctx, s.store.Reader(), "sent")
	if err != nil || len(batches) == 0 {
		return err
	}
	sigs := make([]solana.Signature, len(batches))
	for i, b := range batches {
		if sigs[i], err = solana.SignatureFromBase58(b.Signature); err != nil {
			return fmt.Errorf("batch %s has a damaged signature: %w", b.ID, err)
		}
	}
	st, err := s.chain.rpc.GetSignatureStatuses(ctx, true, sigs...)
	if err != nil && !errors.Is(err, rpc.ErrNotFound) {
		return fmt.Errorf("reading batch statuses: %w", err)
	}
	height, err := s.chain.rpc.GetBlockHeight(ctx, rpc.CommitmentFinalized)
	if err != nil {
		return fmt.Errorf("reading block height: %w", err)
	}
	for i, b := range batches {
		var status *rpc.SignatureStatusesResult
		if st != nil && i < len(st.Value) {
			status = st.Value[i]
		}
		if err := s.crash("confirming"); err != nil {
			return err
		}
		switch {
		case status != nil && status.Err == nil && status.ConfirmationStatus == rpc.ConfirmationStatusFinalized:
			if err := s.finalize(ctx, b); err != nil {
				return err
			}
		case status != nil && status.Err != nil:
			reason, park := sendError(fmt.Errorf("%v", status.Err))
			if err := s.unwind(ctx, b, "failed", "the batch failed on chain: "+reason, park); err != nil {
				return err
			}
		case status != nil:
			// processed or confirmed: wait for finalized
		case height > b.LastValidHeight:
			park := b.Reason != "" && (containsAny(b.Reason, "too few tokens", "too little SOL"))
			if err := s.unwind(ctx, b, "expired", b.Reason, park); err != nil {
				return err
			}
		default:
			s.send(ctx, b.ID, b.Tx)
		}
	}
	return nil
}

func (s *Service) finalize(ctx context.Context, b store.Batch) error {
	ps, err := store.PayoutsOfBatch(ctx, s.store.Reader(), b.ID)
	if err != nil {
		return err
	}
	now := s.ledger.Now()
	err = s.store.Write(ctx, func(tx *sql.Tx) error {
		if err := store.SetBatchState(ctx, tx, b.ID, "sent", "finalized", "", now); err != nil {
			return err
		}
		ids := make([]string, len(ps))
		for i, p := range ps {
			ids[i] = p.ID
			if err := ledger.SettlePayout(ctx, tx, s.ledger, p.Amount, p.ID); err != nil {
				return err
			}
		}
		return store.SetPayoutState(ctx, tx, ids, "sent", "paid", "", "", now)
	})
	if err == nil {
		s.log.Info("payout batch finalized", "batch", b.ID, "legs", len(ps))
	}
	return err
}

// unwind takes a batch that cannot land out of flight: its payouts go back
// to the queue, or to parked with the reason when an operator must act.
func (s *Service) unwind(ctx context.Context, b store.Batch, to, reason string, park bool) error {
	ps, err := store.PayoutsOfBatch(ctx, s.store.Reader(), b.ID)
	if err != nil {
		return err
	}
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
	}
	next := "queued"
	if park {
		next = "parked"
	}
	now := s.ledger.Now()
	return s.store.Write(ctx, func(tx *sql.Tx) error {
		if err := store.SetBatchState(ctx, tx, b.ID, "sent", to, reason, now); err != nil {
			return err
		}
		return store.SetPayoutState(ctx, tx, ids, "sent", next, "", reason, now)
	})
}

func (s *Service) park(ctx context.Context, ids []string, from, reason string) error {
	return s.store.Write(ctx, func(tx *sql.Tx) error {
		return store.SetPayoutState(ctx, tx, ids, from, "parked", "", reason, s.ledger.Now())
	})
}

func containsAny(s string, subs ...string) bool {
	for _, x := range subs {
		if strings.Contains(s, x) {
			return true
		}
	}
	return false
}

// TreasuryBalance reads the treasury's token balance (on-chain mode).
func (s *Service) TreasuryBalance(ctx context.Context) (uint64, string, error) {
	if s.chain == nil {
		return 0, "", errors.New("payouts run ledger-only: no treasury")
	}
	n, err := s.chain.TreasuryBalance(ctx)
	return n, s.chain.Treasury().String(), err
}
