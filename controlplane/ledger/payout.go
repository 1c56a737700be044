package ledger

import (
	"context"
	"database/sql"
	"fmt"
)

// StartPayout moves amount of a supplier's payable earnings into payouts
// clearing, inside tx (the payout record is written in the same
// transaction by the caller). key is the payout's id.
func StartPayout(ctx context.Context, tx *sql.Tx, l *Ledger, userID string, amount int64, key string) error {
	_, _, err := Post(ctx, tx, Txn{Kind: "payout", Key: "payout:" + key, Ref: key,
		Postings: []Posting{{SupplierPayable(userID), -amount}, {PayoutsClearing, amount}}}, l.Now())
	if err != nil {
		return fmt.Errorf("booking payout %s: %w", key, err)
	}
	return nil
}

// SettlePayout books a payout that is final (on chain or off): the money
// leaves the platform.
func SettlePayout(ctx context.Context, tx *sql.Tx, l *Ledger, amount int64, key string) error {
	_, _, err := Post(ctx, tx, Txn{Kind: "payout_settled", Key: "payout_settled:" + key, Ref: key,
		Postings: []Posting{{PayoutsClearing, -amount}, {External, amount}}}, l.Now())
	if err != nil {
		return fmt.Errorf("settling payout %s: %w", key, err)
	}
	return nil
}
