package api

import (
	"context"
	"database/sql"
	"net/http"
	"net/url"
	"time"

	"github.com/idlegrid/idlegrid/controlplane/problem"
	"github.com/idlegrid/idlegrid/controlplane/store"
	"github.com/idlegrid/idlegrid/shared/money"
	"github.com/idlegrid/idlegrid/shared/wallet"
)

// PayoutPolicy is what the API says about when payouts happen.
type PayoutPolicy struct {
	Mode      string        // ledger or onchain
	Threshold int64         // micro-USD
	Every     time.Duration // schedule
	Cluster   string        // explorer cluster parameter, e.g. "devnet"; "" for mainnet
}

// PayoutJSON is one payout as its supplier sees it.
type PayoutJSON struct {
	ID          string     `json:"id"`
	Amount      int64      `json:"amount"`       // micro-USD
	TokenAmount string     `json:"token_amount"` // in tokens, e.g. "12.500000"
	Mint        string     `json:"mint,omitempty"`
	Rate        string     `json:"rate"` // USD per token used
	Mode        string     `json:"mode"` // "ledger": recorded as paid off chain
	State       string     `json:"state"`
	Reason      string     `json:"reason,omitempty"`
	Wallet      string     `json:"wallet"`
	Signature   string     `json:"signature,omitempty"`
	ExplorerURL string     `json:"explorer_url,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	PaidAt      *time.Time `json:"paid_at,omitempty"`
}

func (s *Server) payouts(w http.ResponseWriter, r *http.Request) error {
	u := UserFrom(r.Context())
	ps, err := store.PayoutsOf(r.Context(), s.Store.Reader(), u.ID)
	if err != nil {
		return err
	}
	wal, err := store.PayoutWallet(r.Context(), s.Store.Reader(), u.ID)
	if err != nil {
		return err
	}
	b, err := s.Ledger.BalancesOf(r.Context(), u.ID)
	if err != nil {
		return err
	}
	out := make([]PayoutJSON, 0, len(ps))
	var last time.Time
	for _, p := range ps {
		pj := PayoutView(p, s.Payouts.Cluster)
		if p.CreatedAt.After(last) {
			last = p.CreatedAt
		}
		out = append(out, pj)
	}
	next := s.Now().Add(s.Payouts.Every)
	if !last.IsZero() {
		next = last.Add(s.Payouts.Every)
	}
	note := ""
	switch {
	case wal == "":
		note = "set a payout wallet to be paid"
	case b.Payable < s.Payouts.Threshold:
		note = "payouts start once " + money.Micros(s.Payouts.Threshold).USD() + " is payable"
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"payouts": out, "wallet": wal, "payable": b.Payable, "pending": b.Pending, "mode": s.Payouts.Mode,
		"threshold": s.Payouts.Threshold, "next_payout_after": next.UTC(), "note": note,
	})
	return nil
}

type walletBody struct {
	Address string `json:"address"`
}

// setWallet sets the account's payout address: public key only, checked
// to be a wallet (on the ed25519 curve), never a private key.
func (s *Server) setWallet(w http.ResponseWriter, r *http.Request) error {
	var b walletBody
	if err := decode(r, &b); err != nil {
		return err
	}
	addr, err := s.SetWallet(r.Context(), UserFrom(r.Context()).ID, b.Address)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"wallet": addr})
	return nil
}

// SetWallet sets userID's payout address after checking it is a Solana
// account key; a bad one changes nothing and says why.
func (s *Server) SetWallet(ctx context.Context, userID, address string) (string, error) {
	addr, err := wallet.Parse(address)
	if err != nil {
		return "", problem.Invalid("bad_wallet", "%v", err)
	}
	return string(addr), s.Store.Write(ctx, func(tx *sql.Tx) error { return store.SetPayoutWallet(ctx, tx, userID, string(addr)) })
}

// PayoutView is a payout as its supplier sees it, with its link to the
// Solana explorer on cluster ("devnet"; empty: mainnet).
func PayoutView(p store.Payout, cluster string) PayoutJSON {
	pj := PayoutJSON{ID: p.ID, Amount: p.Amount, TokenAmount: money.Token{Base: uint64(p.TokenAmount), Decimals: uint8(p.Decimals)}.String(),
		Mint: p.Mint, Rate: money.Micros(p.MicrosPerToken).String(), Mode: p.Mode, State: p.State, Reason: p.Reason, Wallet: p.Wallet,
		CreatedAt: p.CreatedAt, PaidAt: timePtr(p.PaidAt)}
	if p.Signature != "" {
		pj.Signature, pj.ExplorerURL = p.Signature, TxURL(p.Signature, cluster)
	}
	return pj
}

// TxURL links a transaction on the Solana explorer, on cluster ("devnet")
// or mainnet when empty.
func TxURL(sig, cluster string) string {
	u := "https://explorer.solana.com/tx/" + url.PathEscape(sig)
	if cluster != "" {
		u += "?cluster=" + url.QueryEscape(cluster)
	}
	return u
}
