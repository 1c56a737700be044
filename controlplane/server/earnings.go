package server

import (
	"context"
	"database/sql"
	"log/slog"

	"github.com/idlegrid/idlegrid/controlplane/api"
	"github.com/idlegrid/idlegrid/controlplane/ledger"
	"github.com/idlegrid/idlegrid/controlplane/store"
	"github.com/idlegrid/idlegrid/controlplane/verify"
	"github.com/idlegrid/idlegrid/shared/money"
	"github.com/idlegrid/idlegrid/shared/proto"
	"github.com/idlegrid/idlegrid/shared/wallet"
)

// enrich adds the account's earnings and latest payouts to a device's
// status, so the supplier's app shows them without a sign-in.
func enrich(ctx context.Context, st *store.Store, l *ledger.Ledger, pol api.PayoutPolicy, userID string, ds *proto.DeviceStatus) {
	b, err := l.BalancesOf(ctx, userID)
	if err != nil {
		return
	}
	ds.Pending, ds.Payable = b.Pending, b.Payable
	ds.Wallet, _ = store.PayoutWallet(ctx, st.Reader(), userID)
	ps, err := store.PayoutsOf(ctx, st.Reader(), userID)
	if err != nil {
		return
	}
	for i, p := range ps {
		if p.State == "paid" {
			ds.Paid += p.Amount
		}
		if i == 0 {
			ds.NextPayoutAfter = p.CreatedAt.Add(pol.Every)
		}
		if len(ds.Payouts) < 20 {
			line := proto.PayoutLine{At: p.CreatedAt, Amount: p.Amount, State: p.State, Mode: p.Mode, Signature: p.Signature,
				TokenAmount: money.Token{Base: uint64(p.TokenAmount), Decimals: uint8(p.Decimals)}.String()}
			if p.Signature != "" {
				line.ExplorerURL = api.TxURL(p.Signature, pol.Cluster)
			}
			ds.Payouts = append(ds.Payouts, line)
		}
	}
}

// setWalletFromDevice takes the payout wallet chosen in the supplier's app.
// A device may set it only while the account has none: changing a wallet
// that receives money takes the owner's sign-in in the console, so a
// stolen device key cannot redirect payouts.
func setWalletFromDevice(ctx context.Context, st *store.Store, ver *verify.Service, log *slog.Logger, deviceID, address string) error {
	addr, err := wallet.Parse(address)
	if err != nil {
		log.Info("device sent an invalid payout wallet", "device", deviceID, "err", err)
		return nil
	}
	d, err := store.DeviceByID(ctx, st.Reader(), deviceID)
	if err != nil {
		return nil
	}
	cur, err := store.PayoutWallet(ctx, st.Reader(), d.UserID)
	if err != nil || cur != "" {
		return nil
	}
	if err := st.Write(ctx, func(tx *sql.Tx) error { return store.SetPayoutWallet(ctx, tx, d.UserID, string(addr)) }); err != nil {
		log.Error("setting payout wallet", "err", err)
		return nil
	}
	ver.Tell(ctx, deviceID)
	return nil
}
