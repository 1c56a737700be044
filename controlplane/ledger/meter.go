package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/bits"
	"time"

	"github.com/idlegrid/idlegrid/controlplane/store"
	"github.com/idlegrid/idlegrid/shared/money"
)

// BillableMS is how much of [from, to) a device is proven alive, from its
// heartbeats' server receive times (ms, oldest first, possibly one before
// from): the time between two consecutive heartbeats counts when they are
// at most maxGap apart. Nothing after the last heartbeat counts, and a gap
// from a lost device never does; agent clocks play no part.
func BillableMS(hbs []int64, from, to, maxGap int64) int64 {
	var total int64
	for i := 1; i < len(hbs); i++ {
		a, b := hbs[i-1], hbs[i]
		if b-a > maxGap || b <= a {
			continue
		}
		lo, hi := max(a, from), min(b, to)
		if hi > lo {
			total += hi - lo
		}
	}
	return total
}

// chargeFor is what billedMS costs at pricePerHour: floor(price × ms / 3.6e6)
// with a 128-bit intermediate. Charging the difference of two such totals
// makes window after window add up to the exact total.
func chargeFor(pricePerHour, billedMS int64) (int64, error) {
	if pricePerHour < 0 || billedMS < 0 {
		return 0, errors.New("negative price or time")
	}
	hi, lo := bits.Mul64(uint64(pricePerHour), uint64(billedMS))
	if hi >= 3_600_000 {
		return 0, errors.New("charge overflows")
	}
	q, _ := bits.Div64(hi, lo, 3_600_000)
	if q > 1<<62 {
		return 0, errors.New("charge overflows")
	}
	return int64(q), nil
}

// splitFee is the platform's share of amount, floor(amount × bp / 10000);
// the supplier gets the rest, so the two always add up to the charge.
func splitFee(amount, bp int64) (supplier, fee int64, err error) {
	sup, f, err := money.Split(money.Micros(amount), bp)
	return int64(sup), int64(f), err
}

// Meter settles assignments: per second, server time, only while the
// device is proven alive, only after the cluster is ready.
type Meter struct {
	Ledger *Ledger
	// MaxGap is the longest silence between two heartbeats still billed
	// (default 3 × the heartbeat interval: three missed heartbeats make a
	// device suspect).
	MaxGap time.Duration
	// Lag keeps the newest seconds out of a window, so heartbeats still in
	// the hub's write queue are counted in the next one instead of lost.
	Lag time.Duration
	Log *slog.Logger
}

// Settle meters every open assignment up to now − Lag (or its end).
func (m *Meter) Settle(ctx context.Context) error {
	as, err := store.AssignmentsToSettle(ctx, m.Ledger.Store.Reader())
	if err != nil {
		return err
	}
	var errs []error
	for _, a := range as {
		if err := m.settle(ctx, a, m.Lag); err != nil {
			errs = append(errs, fmt.Errorf("assignment %s: %w", a.ID, err))
		}
	}
	return errors.Join(errs...)
}

// SettleAssignment meters one assignment now.
func (m *Meter) SettleAssignment(ctx context.Context, id string) error {
	a, err := store.AssignmentByID(ctx, m.Ledger.Store.Reader(), id)
	if err != nil {
		return err
	}
	return m.settle(ctx, a, m.Lag)
}

func (m *Meter) settle(ctx context.Context, a store.Assignment, lag time.Duration) error {
	if a.ReadyAt.IsZero() {
		return nil
	}
	to := m.Ledger.Now().Add(-lag)
	if !a.EndedAt.IsZero() && a.EndedAt.Before(to) {
		to = a.EndedAt
	}
	from := a.SettledUntil
	if !to.After(from) {
		return nil
	}
	hbs, err := store.HeartbeatTimes(ctx, m.Ledger.Store.Reader(), a.DeviceID, from, to)
	if err != nil {
		return err
	}
	billed := a.BilledMS + BillableMS(hbs, from.UnixMilli(), to.UnixMilli(), m.MaxGap.Milliseconds())
	due, err := chargeFor(a.PricePerHour, billed)
	if err != nil {
		return err
	}
	owed := due - a.Charged - a.Unpaid // this window's part
	return m.Ledger.Store.Write(ctx, func(tx *sql.Tx) error {
		charged, unpaid := a.Charged, a.Unpaid
		if owed > 0 {
			credit, err := store.LedgerBalance(ctx, tx, Requester(a.RequesterID))
			if err != nil {
				return err
			}
			take := min(owed, max(credit, 0))
			if take > 0 {
				supplier, fee, err := splitFee(take, a.FeeBP)
				if err != nil {
					return err
				}
				ps := []Posting{{Requester(a.RequesterID), -take}}
				if supplier > 0 {
					ps = append(ps, Posting{SupplierPending(a.SupplierID), supplier})
				}
				if fee > 0 {
					ps = append(ps, Posting{PlatformFees, fee})
				}
				key := fmt.Sprintf("meter:%s:%d", a.ID, to.UnixMilli())
				if _, _, err := Post(ctx, tx, Txn{Kind: "charge", Key: key, Ref: a.ID, Memo: "cluster " + a.ClusterID + " device " + a.DeviceID, Postings: ps}, m.Ledger.Now()); err != nil {
					return err
				}
			}
			charged += take
			unpaid += owed - take
		}
		return store.SettleAssignment(ctx, tx, a.ID, from, to, billed, charged, unpaid)
	})
}

// Serve settles every minute and releases earnings past hold, until ctx
// ends.
func (m *Meter) Serve(ctx context.Context, every, hold time.Duration) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			// A failed round is retried on the next tick: every window and
			// release is idempotent, so nothing is lost or booked twice.
			if err := m.Settle(ctx); err != nil && ctx.Err() == nil && m.Log != nil {
				m.Log.Error("metering", "err", err)
			}
			if _, err := m.Ledger.Release(ctx, hold); err != nil && ctx.Err() == nil && m.Log != nil {
				m.Log.Error("releasing earnings", "err", err)
			}
		}
	}
}
