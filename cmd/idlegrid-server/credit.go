package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/idlegrid/idlegrid/controlplane/ledger"
	"github.com/idlegrid/idlegrid/controlplane/store"
	"github.com/idlegrid/idlegrid/shared/money"
)

// runCredit is `idlegrid-server credit`: an operator adds credit to a
// requester's account. The key makes it safe to run twice (a retry books
// nothing). It opens the database directly, so it works while the server
// runs (sqlite serialises the writers).
func runCredit(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("idlegrid-server credit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "./data", "the server's data directory")
	email := fs.String("email", "", "the account to credit")
	amount := fs.String("amount", "", "USD, e.g. 25 or 12.50")
	key := fs.String("key", "", "a unique reference for this credit (ticket or invoice number): a retry with the same key books nothing")
	memo := fs.String("memo", "operator credit", "shown on the requester's statement")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	var probs []string
	if *email == "" {
		probs = append(probs, "--email is required")
	}
	m, err := money.ParseUSD(*amount)
	if err != nil {
		probs = append(probs, "--amount: "+err.Error())
	}
	if *key == "" {
		probs = append(probs, "--key is required (e.g. the ticket number), so a retry never books twice")
	}
	if len(probs) > 0 {
		fmt.Fprintf(stderr, "idlegrid-server credit: %s\n", strings.Join(probs, "; "))
		return 2
	}
	st, err := store.Open(ctx, *data)
	if err != nil {
		fmt.Fprintf(stderr, "idlegrid-server credit: %v\n", err)
		return 1
	}
	defer st.Close()
	u, err := store.UserByEmail(ctx, st.Reader(), strings.ToLower(strings.TrimSpace(*email)))
	if err != nil {
		fmt.Fprintf(stderr, "idlegrid-server credit: no account %s in %s\n", *email, *data)
		return 1
	}
	l := &ledger.Ledger{Store: st, Now: timeNow}
	dup, err := l.TopUp(ctx, u.ID, int64(m), "operator:"+*key, *memo)
	if err != nil {
		fmt.Fprintf(stderr, "idlegrid-server credit: %v\n", err)
		return 1
	}
	b, err := l.BalancesOf(ctx, u.ID)
	if err != nil {
		fmt.Fprintf(stderr, "idlegrid-server credit: %v\n", err)
		return 1
	}
	if dup {
		fmt.Fprintf(stdout, "Credit %q was booked before; nothing added. %s has %s.\n", *key, u.Email, money.Micros(b.Credit).USD())
		return 0
	}
	fmt.Fprintf(stdout, "Added %s to %s; credit is now %s.\n", m.USD(), u.Email, money.Micros(b.Credit).USD())
	return 0
}
