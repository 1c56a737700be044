package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/csv"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/idlegrid/idlegrid/controlplane/ledger"
	"github.com/idlegrid/idlegrid/controlplane/problem"
	"github.com/idlegrid/idlegrid/controlplane/sched"
	"github.com/idlegrid/idlegrid/controlplane/store"
	"github.com/idlegrid/idlegrid/shared/money"
)

// BillingJSON is a user's money at a glance, in micro-USD.
type BillingJSON struct {
	Credit       int64             `json:"credit"`
	Pending      int64             `json:"pending"`
	Payable      int64             `json:"payable"`
	SpendPerHour int64             `json:"spend_per_hour"` // of the clusters running now
	LowBalance   bool              `json:"low_balance"`
	Warning      string            `json:"warning,omitempty"`
	Display      map[string]string `json:"display"` // the same figures as "$12.34"
}

// lowBalanceHours: below this many hours of current spend, warn.
const lowBalanceHours = 2

func (s *Server) billing(w http.ResponseWriter, r *http.Request) error {
	u := UserFrom(r.Context())
	b, err := s.Ledger.BalancesOf(r.Context(), u.ID)
	if err != nil {
		return err
	}
	as, err := store.AssignmentsOf(r.Context(), s.Store.Reader(), u.ID, false)
	if err != nil {
		return err
	}
	out := BillingJSON{Credit: b.Credit, Pending: b.Pending, Payable: b.Payable}
	for _, a := range as {
		if a.EndedAt.IsZero() {
			out.SpendPerHour += a.PricePerHour
		}
	}
	if out.SpendPerHour > 0 && out.Credit < lowBalanceHours*out.SpendPerHour {
		out.LowBalance = true
		out.Warning = fmt.Sprintf("your credit lasts less than %d hours at the current spend: top up to keep your clusters running", lowBalanceHours)
		if out.Credit == 0 {
			out.Warning = "your credit is used up: running clusters stop after the grace period unless you top up"
		}
	}
	out.Display = map[string]string{"credit": usd(out.Credit), "pending": usd(out.Pending), "payable": usd(out.Payable), "spend_per_hour": usd(out.SpendPerHour)}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// usd formats micro-USD for display: "$12.34", more digits only when
// needed.
func usd(m int64) string { return money.Micros(m).USD() }

// FaucetAmount is the demo faucet's gift: $50 of credit.
const FaucetAmount = 50_000_000

// maxFaucets bounds the demo faucet per account.
const maxFaucets = 10

// Faucet gives demo credit to userID, at most maxFaucets times; key makes
// a retry book nothing.
func (s *Server) Faucet(ctx context.Context, userID, key string) (dup bool, err error) {
	if !s.Demo {
		return false, problem.New(problem.ErrNotFound, "no_faucet", "the faucet only exists in demo mode; credit is added by the operator")
	}
	lines, err := store.AccountLines(ctx, s.Store.Reader(), ledger.Requester(userID), time.Unix(0, 0), s.Now().Add(time.Hour))
	if err != nil {
		return false, err
	}
	n := 0
	for _, l := range lines {
		if l.Kind == "topup" && strings.HasPrefix(l.Memo, "demo faucet") {
			n++
		}
	}
	if n >= maxFaucets {
		return false, problem.New(problem.ErrConflict, "faucet_dry", "the demo faucet gave this account %d times already", maxFaucets)
	}
	return s.Ledger.TopUp(ctx, userID, FaucetAmount, "faucet:"+key, "demo faucet (no real money)")
}

func (s *Server) faucet(w http.ResponseWriter, r *http.Request) error {
	if !s.Demo {
		return problem.New(problem.ErrNotFound, "no_faucet", "the faucet only exists in demo mode; credit is added by the operator")
	}
	key := r.Header.Get("Idempotency-Key")
	if key == "" || len(key) > 100 {
		return problem.Invalid("idempotency_key", "send an Idempotency-Key header (1–100 characters) so a retry never books twice")
	}
	u := UserFrom(r.Context())
	dup, err := s.Faucet(r.Context(), u.ID, key)
	if err != nil {
		return err
	}
	status := http.StatusCreated
	if dup {
		status = http.StatusOK
	}
	b, err := s.Ledger.BalancesOf(r.Context(), u.ID)
	if err != nil {
		return err
	}
	writeJSON(w, status, map[string]any{"credited": FaucetAmount, "credit": b.Credit, "replayed": dup})
	return nil
}

// StatementJSON is one month of a requester's account.
type StatementJSON struct {
	Month    string              `json:"month"`
	Opening  int64               `json:"opening_balance"`
	Closing  int64               `json:"closing_balance"`
	Lines    []StatementLineJSON `json:"lines"`
	Clusters []ClusterTotalJSON  `json:"clusters"`
}

// StatementLineJSON is one booking.
type StatementLineJSON struct {
	At     time.Time `json:"at"`
	Kind   string    `json:"kind"`
	Memo   string    `json:"memo"`
	Ref    string    `json:"ref,omitempty"`
	Amount int64     `json:"amount"`
}

// ClusterTotalJSON is what one cluster cost in the month.
type ClusterTotalJSON struct {
	Cluster string `json:"cluster"`
	Amount  int64  `json:"amount"`
}

func (s *Server) statement(w http.ResponseWriter, r *http.Request) error {
	u := UserFrom(r.Context())
	month := r.URL.Query().Get("month")
	if month == "" {
		month = s.Now().UTC().Format("2006-01")
	}
	start, err := time.Parse("2006-01", month)
	if err != nil {
		return problem.Invalid("bad_month", "month must look like 2026-11")
	}
	end := start.AddDate(0, 1, 0)
	acct := ledger.Requester(u.ID)
	before, err := store.AccountLines(r.Context(), s.Store.Reader(), acct, time.Unix(0, 0), start)
	if err != nil {
		return err
	}
	lines, err := store.AccountLines(r.Context(), s.Store.Reader(), acct, start, end)
	if err != nil {
		return err
	}
	st := StatementJSON{Month: month, Lines: []StatementLineJSON{}, Clusters: []ClusterTotalJSON{}}
	for _, l := range before {
		st.Opening += l.Amount
	}
	st.Closing = st.Opening
	byCluster := map[string]int64{}
	for _, l := range lines {
		st.Lines = append(st.Lines, StatementLineJSON{At: l.At, Kind: l.Kind, Memo: l.Memo, Ref: l.Ref, Amount: l.Amount})
		st.Closing += l.Amount
		if l.Kind == "charge" {
			if a, err := store.AssignmentByID(r.Context(), s.Store.Reader(), l.Ref); err == nil {
				byCluster[a.ClusterID] += -l.Amount
			}
		}
	}
	for c, amt := range byCluster {
		st.Clusters = append(st.Clusters, ClusterTotalJSON{Cluster: c, Amount: amt})
	}
	sort.Slice(st.Clusters, func(i, j int) bool { return st.Clusters[i].Cluster < st.Clusters[j].Cluster })
	switch f := r.URL.Query().Get("format"); f {
	case "", "json":
		writeJSON(w, http.StatusOK, st)
	case "csv":
		var buf bytes.Buffer
		cw := csv.NewWriter(&buf)
		_ = cw.Write([]string{"time", "kind", "memo", "reference", "amount_micro_usd", "amount_usd"})
		for _, l := range st.Lines {
			_ = cw.Write([]string{l.At.Format(time.RFC3339), l.Kind, l.Memo, l.Ref, strconv.FormatInt(l.Amount, 10), usd(l.Amount)})
		}
		cw.Flush()
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=idlegrid-statement-%s.csv", month))
		_, _ = w.Write(buf.Bytes())
	case "html":
		var buf bytes.Buffer
		if err := statementPage.Execute(&buf, map[string]any{"S": st, "Email": u.Email}); err != nil {
			return err
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(buf.Bytes())
	default:
		return problem.Invalid("bad_format", "format must be json, csv or html, not %q", f)
	}
	return nil
}

var statementPage = template.Must(template.New("statement").Funcs(template.FuncMap{"usd": usd}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Idlegrid statement {{.S.Month}}</title>
<style>body{font:14px system-ui,sans-serif;margin:32px;color:#111}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:6px;text-align:left}td.n,th.n{text-align:right}@media print{a{display:none}}</style></head>
<body><h1>Statement {{.S.Month}}</h1><p>{{.Email}} · opening balance {{usd .S.Opening}} · closing balance {{usd .S.Closing}}</p>
<h2>By cluster</h2><table><tr><th>Cluster</th><th class="n">Charged</th></tr>{{range .S.Clusters}}<tr><td>{{.Cluster}}</td><td class="n">{{usd .Amount}}</td></tr>{{else}}<tr><td colspan="2">No cluster usage this month.</td></tr>{{end}}</table>
<h2>All bookings</h2><table><tr><th>Time (UTC)</th><th>Kind</th><th>Description</th><th class="n">Amount</th></tr>{{range .S.Lines}}<tr><td>{{.At.Format "2006-01-02 15:04:05"}}</td><td>{{.Kind}}</td><td>{{.Memo}}</td><td class="n">{{usd .Amount}}</td></tr>{{else}}<tr><td colspan="4">No bookings this month.</td></tr>{{end}}</table>
</body></html>`))

// EarningsJSON is a supplier's earnings: balances and per-job lines.
type EarningsJSON struct {
	Pending int64            `json:"pending"`
	Payable int64            `json:"payable"`
	Jobs    []EarningJobJSON `json:"jobs"`
}

// EarningJobJSON is one device's work in one cluster.
type EarningJobJSON struct {
	Assignment   string     `json:"assignment"`
	Cluster      string     `json:"cluster"`
	Device       string     `json:"device"`
	Start        *time.Time `json:"start,omitempty"`
	End          *time.Time `json:"end,omitempty"`
	Seconds      int64      `json:"seconds"`
	PricePerHour int64      `json:"price_per_hour"`
	Earned       int64      `json:"earned"`
}

func (s *Server) earnings(w http.ResponseWriter, r *http.Request) error {
	u := UserFrom(r.Context())
	b, err := s.Ledger.BalancesOf(r.Context(), u.ID)
	if err != nil {
		return err
	}
	as, err := store.AssignmentsOf(r.Context(), s.Store.Reader(), u.ID, true)
	if err != nil {
		return err
	}
	out := EarningsJSON{Pending: b.Pending, Payable: b.Payable, Jobs: []EarningJobJSON{}}
	for _, a := range as {
		earned, _, err := store.ChargeTotals(r.Context(), s.Store.Reader(), a.ID)
		if err != nil {
			return err
		}
		out.Jobs = append(out.Jobs, EarningJobJSON{Assignment: a.ID, Cluster: a.ClusterID, Device: a.DeviceID, Start: timePtr(a.ReadyAt), End: timePtr(a.EndedAt),
			Seconds: a.BilledMS / 1000, PricePerHour: a.PricePerHour, Earned: earned})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// ReceiptJSON is a signed receipt: verify Signature over
// "idlegrid/receipt/v1\n" + Body with the key from /receipts/public-key.
type ReceiptJSON struct {
	ID        string `json:"id"`
	Body      string `json:"body"`
	Signature string `json:"signature"` // base64
}

func (s *Server) receipts(w http.ResponseWriter, r *http.Request) error {
	rs, err := store.ReceiptsOf(r.Context(), s.Store.Reader(), UserFrom(r.Context()).ID)
	if err != nil {
		return err
	}
	out := make([]ReceiptJSON, 0, len(rs))
	for _, rc := range rs {
		out = append(out, ReceiptJSON{ID: rc.ID, Body: rc.Body, Signature: base64.StdEncoding.EncodeToString(rc.Signature)})
	}
	writeJSON(w, http.StatusOK, map[string]any{"receipts": out})
	return nil
}

func (s *Server) receiptKey(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{
		"algorithm": "ed25519", "public_key": base64.StdEncoding.EncodeToString(s.Signer.PublicKey()),
		"signed_message": "\"idlegrid/receipt/v1\\n\" followed by the receipt body",
	})
	return nil
}

// QuoteJSON is a quote with whether the caller can afford to deploy it.
type QuoteJSON struct {
	sched.Quote
	Affordable bool   `json:"affordable"`
	Shortfall  string `json:"shortfall,omitempty"`
}

func (s *Server) quote(w http.ResponseWriter, r *http.Request) error {
	var req sched.Request
	if err := decode(r, &req); err != nil {
		return err
	}
	u := UserFrom(r.Context())
	q, err := s.Quoter.Quote(r.Context(), u.ID, req)
	if err != nil {
		return err
	}
	out := QuoteJSON{Quote: q, Affordable: true}
	if err := s.Ledger.CheckDeposit(r.Context(), u.ID, q.PricePerHour, s.DepositHours); err != nil {
		var pe *problem.Error
		if !errors.As(err, &pe) {
			return err
		}
		out.Affordable, out.Shortfall = false, pe.Message
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
