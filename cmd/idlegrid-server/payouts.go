package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/idlegrid/idlegrid/controlplane/ledger"
	"github.com/idlegrid/idlegrid/controlplane/payout"
	"github.com/idlegrid/idlegrid/controlplane/server"
	"github.com/idlegrid/idlegrid/controlplane/store"
	"github.com/idlegrid/idlegrid/shared/money"
)

// runPayouts is the operator's view of payouts:
//
//	idlegrid-server payouts status [server flags]   treasury, queued, in flight, parked
//	idlegrid-server payouts retry PAYOUT_ID [flags] put a parked payout back in the queue
//
// It takes the server's flags (--data, --payout-*) to open the same
// database and chain.
func runPayouts(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "status" && args[0] != "retry") {
		fmt.Fprintln(stderr, "usage: idlegrid-server payouts status|retry PAYOUT_ID [--data DIR --payout-…]")
		return 2
	}
	verb, rest := args[0], args[1:]
	var id string
	if verb == "retry" {
		if len(rest) == 0 || rest[0] == "" || rest[0][0] == '-' {
			fmt.Fprintln(stderr, "idlegrid-server payouts retry: name the parked payout (pay_…)")
			return 2
		}
		id, rest = rest[0], rest[1:]
	}
	cfg, err := server.Load(rest, os.Getenv)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "idlegrid-server payouts: %v\n", err)
		return 2
	}
	st, err := store.Open(ctx, cfg.DataDir)
	if err != nil {
		fmt.Fprintf(stderr, "idlegrid-server payouts: %v\n", err)
		return 1
	}
	defer st.Close()
	l := &ledger.Ledger{Store: st, Now: timeNow}
	svc, err := payout.New(cfg.Payout, st, l, slog.New(slog.DiscardHandler))
	if err != nil {
		fmt.Fprintf(stderr, "idlegrid-server payouts: %v\n", err)
		return 1
	}
	if verb == "retry" {
		if err := svc.RetryParked(ctx, id); err != nil {
			fmt.Fprintf(stderr, "idlegrid-server payouts retry: %s is not a parked payout (%v)\n", id, err)
			return 1
		}
		fmt.Fprintf(stdout, "Payout %s is queued again; the next round sends it.\n", id)
		return 0
	}
	fmt.Fprintf(stdout, "Mode: %s (threshold %s, every %s)\n", svc.Config().Mode, money.Micros(svc.Config().Threshold).USD(), svc.Config().Every)
	if bal, addr, err := svc.TreasuryBalance(ctx); err == nil {
		fmt.Fprintf(stdout, "Treasury %s: %s tokens\n", addr, money.Token{Base: bal, Decimals: svc.Config().Decimals})
	} else {
		fmt.Fprintf(stdout, "Treasury: %v\n", err)
	}
	for _, state := range []string{"queued", "sent", "parked"} {
		ps, err := store.PayoutsInState(ctx, st.Reader(), state)
		if err != nil {
			fmt.Fprintf(stderr, "idlegrid-server payouts: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "%s: %d\n", state, len(ps))
		for _, p := range ps {
			fmt.Fprintf(stdout, "  %s  %s  %s  batch %s  %s\n", p.ID, money.Micros(p.Amount).USD(), p.Wallet, p.BatchID, p.Reason)
		}
	}
	return 0
}
