package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"sort"
	"strings"
	"time"

	"rsc.io/qr"

	"github.com/idlegrid/idlegrid/controlplane/api"
	"github.com/idlegrid/idlegrid/controlplane/ledger"
	"github.com/idlegrid/idlegrid/controlplane/store"
	"github.com/idlegrid/idlegrid/shared/hw"
	"github.com/idlegrid/idlegrid/shared/money"
	"github.com/idlegrid/idlegrid/shared/proto"
)

// supplierRoutes are the pages of someone supplying GPUs.
func supplierRoutes() []Route {
	return []Route{
		{"GET", "/devices", User, (*Console).devices},
		{"GET", "/devices/live", User, (*Console).devicesLive},
		{"POST", "/devices/pairing-code", User, (*Console).pairingCode},
		{"POST", "/devices/enrollment-tokens", User, (*Console).createEnrollToken},
		{"POST", "/devices/enrollment-tokens/{id}/revoke", User, (*Console).revokeEnrollToken},
		{"GET", "/devices/{id}", User, (*Console).devicePage},
		{"GET", "/devices/{id}/live", User, (*Console).deviceLive},
		{"POST", "/devices/{id}/rename", User, (*Console).renameDevice},
		{"POST", "/devices/{id}/remove", User, (*Console).removeDevice},
		{"GET", "/earnings", User, (*Console).earnings},
		{"POST", "/earnings/wallet", User, (*Console).setWallet},
	}
}

// deviceRow is a device in the list, as rendered and as streamed to keep
// the list live. It is read from the device table and the hub only, so a
// farm's list can refresh every second.
type deviceRow struct {
	ID           string     `json:"id"`
	Name         string     `json:"name"`
	State        string     `json:"state"`
	Supply       string     `json:"supply,omitempty"`
	PauseReason  string     `json:"pause_reason,omitempty"`
	LastSeenAt   *time.Time `json:"-"`
	Seen         string     `json:"seen"`
	Simulated    bool       `json:"simulated"`
	GPUs         []string   `json:"gpus"`
	GPUStatus    string     `json:"gpu_status,omitempty"`
	AgentVersion string     `json:"agent_version"`
}

func (c *Console) rowOf(d store.Device, now time.Time) deviceRow {
	live, connected := c.api.Hub.Live(d.ID)
	if live.LastSeen.After(d.LastSeenAt) {
		d.LastSeenAt = live.LastSeen
	}
	row := deviceRow{ID: d.ID, Name: d.Name, State: c.api.Hub.Config().State(d.LastSeenAt, now), Seen: "never",
		Simulated: d.Simulated, GPUs: []string{}, GPUStatus: d.GPUStatus, AgentVersion: d.AgentVersion}
	if connected {
		row.Supply, row.PauseReason = live.State, live.PauseReason
	}
	if !d.LastSeenAt.IsZero() {
		row.LastSeenAt, row.Seen = &d.LastSeenAt, ago(now.Sub(d.LastSeenAt))
	}
	for _, g := range d.GPUs {
		row.GPUs = append(row.GPUs, fmt.Sprintf("%s · %.0f GiB", g.Name, float64(g.MemoryTotal)/(1<<30)))
	}
	return row
}

func (c *Console) deviceRows(ctx context.Context, userID string) ([]deviceRow, error) {
	ds, err := store.DevicesByUser(ctx, c.api.Store.Reader(), userID)
	if err != nil {
		return nil, err
	}
	now := c.api.Now()
	rows := make([]deviceRow, 0, len(ds))
	for _, d := range ds {
		rows = append(rows, c.rowOf(d, now))
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Name < rows[j].Name })
	return rows, nil
}

type devicesPage struct {
	Base
	Devices        []deviceRow
	PairingCode    string
	PairingQR      template.HTML
	PairingExpires string
	Tokens         []store.EnrollmentToken
	NewToken       string // shown once, right after creation
	Now            time.Time
}

func (c *Console) devices(w http.ResponseWriter, r *http.Request) error {
	return c.devicesPage(w, r, &devicesPage{}, http.StatusOK)
}

func (c *Console) devicesPage(w http.ResponseWriter, r *http.Request, p *devicesPage, status int) error {
	u := me(r)
	var err error
	if p.Devices, err = c.deviceRows(r.Context(), u.ID); err != nil {
		return err
	}
	if p.Tokens, err = store.ListEnrollmentTokens(r.Context(), c.api.Store.Reader(), u.ID); err != nil {
		return err
	}
	p.Title, p.Nav, p.Now = "Devices", "devices", c.api.Now()
	c.render(w, r, "devices", status, p)
	return nil
}

// devicesLive streams the device list while its page is open: states,
// last-seen times, and devices paired or removed meanwhile.
func (c *Console) devicesLive(w http.ResponseWriter, r *http.Request) error {
	uid := me(r).ID
	return c.stream(w, r, time.Second, func(ctx context.Context) (any, error) {
		rows, err := c.deviceRows(ctx, uid)
		return map[string]any{"devices": rows}, err
	})
}

func (c *Console) pairingCode(w http.ResponseWriter, r *http.Request) error {
	code, exp, err := c.api.Accounts.CreatePairingCode(r.Context(), me(r).ID)
	if err != nil {
		return err
	}
	// The QR code carries the code exactly as typed into the app's "enter
	// pairing code" field.
	img, err := qrSVG(code)
	if err != nil {
		return err
	}
	return c.devicesPage(w, r, &devicesPage{PairingCode: code, PairingQR: img, PairingExpires: exp.UTC().Format("15:04 UTC")}, http.StatusOK)
}

// qrSVG draws text as a QR code in inline SVG: one path of dark modules on
// a light square with the standard four-module quiet zone, so it scans on
// the console's dark background too.
func qrSVG(text string) (template.HTML, error) {
	code, err := qr.Encode(text, qr.M)
	if err != nil {
		return "", fmt.Errorf("encoding QR code: %w", err)
	}
	const quiet = 4
	n := code.Size + 2*quiet
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="qr" viewBox="0 0 %d %d" role="img" aria-label="QR code of the pairing code %s" shape-rendering="crispEdges">`, n, n, template.HTMLEscapeString(text))
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, n, n)
	for y := range code.Size {
		for x := range code.Size {
			if code.Black(x, y) {
				fmt.Fprintf(&b, "M%d %dh1v1h-1z", x+quiet, y+quiet)
			}
		}
	}
	b.WriteString(`"/></svg>`)
	return template.HTML(b.String()), nil
}

func (c *Console) createEnrollToken(w http.ResponseWriter, r *http.Request) error {
	days, err := formInt(r, "days")
	var secret string
	if err == nil {
		secret, _, err = c.api.Accounts.CreateEnrollmentToken(r.Context(), me(r).ID, r.PostFormValue("name"), time.Duration(days)*24*time.Hour)
	}
	if msg, ok := formProblem(err); ok {
		return c.devicesPage(w, r, &devicesPage{Base: Base{Error: "No token created: " + msg}}, api.StatusOf(err))
	}
	if err != nil {
		return err
	}
	// Rendered, not redirected: the token must never sit in a URL or a
	// cookie, and it is shown this once.
	return c.devicesPage(w, r, &devicesPage{NewToken: secret, Base: Base{Flash: "Enrollment token created. Copy it now: it is not shown again."}}, http.StatusOK)
}

func (c *Console) revokeEnrollToken(w http.ResponseWriter, r *http.Request) error {
	if err := c.api.Accounts.RevokeEnrollmentToken(r.Context(), me(r).ID, r.PathValue("id")); err != nil {
		return err
	}
	return redirect(w, r, "/devices", "Token revoked: machines enrolled with it stay, new ones are refused.")
}

// ownDevice loads one of the signed-in user's devices; anyone else's is
// not found, so ids of other accounts' devices can't be probed.
func (c *Console) ownDevice(ctx context.Context, r *http.Request) (store.Device, error) {
	d, err := store.DeviceByID(ctx, c.api.Store.Reader(), r.PathValue("id"))
	if err != nil {
		return store.Device{}, err
	}
	if d.UserID != me(r).ID {
		return store.Device{}, store.ErrNotFound
	}
	return d, nil
}

type devicePage struct {
	Base
	D          api.DeviceJSON
	Host       hw.HostInfo
	Live       deviceLiveData
	Benchmarks []benchRow
	Jobs       []jobRow
	Earned     template.HTML // per hour, last 24 h
	Earned24h  int64
}

// deviceLiveData is the part of the device page refreshed while it is
// open: state, charts of the last hour, connections and traffic.
type deviceLiveData struct {
	Row    deviceRow
	Charts []template.HTML
	// ConnectedAt is when the current connection began, as far as the
	// last 24 h of heartbeats tell; Steady says there was no break in them.
	ConnectedAt time.Time
	Steady      bool
	Gaps        []gapRow
	OfflineNow  string // when the device is away now: for how long
	Traffic     []traffic
}

type traffic struct{ Window, In, Out string }

type gapRow struct {
	From, To time.Time
	Lasted   string
}

type benchRow struct {
	At                  time.Time
	Score               float64
	Tier                string
	GPU, Network, Other string
}

type jobRow struct {
	Cluster      string
	Device       string
	Start, End   *time.Time
	Billed       string
	Rate, Earned int64
	Running      bool
	NeverReady   bool
}

const (
	chartWindow   = time.Hour
	chartPoints   = 120
	historyWindow = 24 * time.Hour
)

func (c *Console) devicePage(w http.ResponseWriter, r *http.Request) error {
	return c.showDevice(w, r, &devicePage{}, http.StatusOK)
}

func (c *Console) showDevice(w http.ResponseWriter, r *http.Request, p *devicePage, status int) error {
	ctx, q, u := r.Context(), c.api.Store.Reader(), me(r)
	d, err := c.ownDevice(ctx, r)
	if err != nil {
		return err
	}
	now := c.api.Now()
	if p.D, err = c.api.DeviceView(ctx, d, now); err != nil {
		return err
	}
	_ = json.Unmarshal([]byte(d.HostJSON), &p.Host) // an old agent's host may be missing: shown as unknown
	if p.Live, err = c.deviceLiveData(ctx, d, now); err != nil {
		return err
	}
	bs, err := store.Benchmarks(ctx, q, d.ID, 10)
	if err != nil {
		return err
	}
	for _, b := range bs {
		p.Benchmarks = append(p.Benchmarks, benchRowOf(b))
	}
	as, err := store.DeviceAssignments(ctx, q, u.ID, d.ID, 50)
	if err != nil {
		return err
	}
	if p.Jobs, err = c.jobRows(ctx, as, nil); err != nil {
		return err
	}
	from := now.UTC().Truncate(time.Hour).Add(-23 * time.Hour)
	es, err := store.EarningsOver(ctx, q, ledger.SupplierPending(u.ID), d.ID, from, now.Add(time.Second), time.Hour)
	if err != nil {
		return err
	}
	var labels []string
	var amounts []int64
	for i := range 24 {
		at := from.Add(time.Duration(i) * time.Hour)
		labels, amounts = append(labels, at.Format("15:04")), append(amounts, earnedAt(es, at))
		p.Earned24h += amounts[i]
	}
	vals, unit := moneyScale(amounts)
	p.Earned = barsSVG("Earned per hour, last 24 h (UTC)", unit, labels, vals)
	p.Title, p.Nav = "Device "+d.Name, "devices"
	c.render(w, r, "device", status, p)
	return nil
}

func earnedAt(es []store.Earned, at time.Time) int64 {
	for _, e := range es {
		if e.Start.Equal(at) {
			return e.Amount
		}
	}
	return 0
}

// moneyScale turns micro-USD amounts into chart values in a unit that
// keeps the largest readable: dollars, cents, or micro-dollars. Charts
// only: balances are never floats.
func moneyScale(ms []int64) ([]float64, string) {
	top := int64(0)
	for _, m := range ms {
		top = max(top, m)
	}
	div, unit := 1.0, "µUSD"
	switch {
	case top >= int64(money.PerUSD):
		div, unit = float64(money.PerUSD), "USD"
	case top >= int64(money.PerUSD)/100:
		div, unit = float64(money.PerUSD)/100, "¢"
	}
	out := make([]float64, len(ms))
	for i, m := range ms {
		out[i] = float64(m) / div
	}
	return out, unit
}

func (c *Console) deviceLiveData(ctx context.Context, d store.Device, now time.Time) (deviceLiveData, error) {
	q := c.api.Store.Reader()
	l := deviceLiveData{Row: c.rowOf(d, now)}
	gpu, err := store.GPUSeries(ctx, q, d.ID, now.Add(-chartWindow), chartPoints)
	if err != nil {
		return l, err
	}
	var temp, power, util []Point
	for _, g := range gpu {
		temp, power, util = append(temp, Point{g.At, g.TempC}), append(power, Point{g.At, g.PowerW}), append(util, Point{g.At, g.UtilPct})
	}
	net, err := store.NetSeries(ctx, q, d.ID, now.Add(-chartWindow), chartPoints)
	if err != nil {
		return l, err
	}
	var in, out []Point
	for i := 1; i < len(net); i++ {
		a, b := net[i-1], net[i]
		secs := b.At.Sub(a.At).Seconds()
		if secs <= 0 || b.Rx < a.Rx || b.Tx < a.Tx {
			continue // the host rebooted: its counters started again
		}
		in = append(in, Point{b.At, float64(b.Rx-a.Rx) * 8 / secs / 1e6})
		out = append(out, Point{b.At, float64(b.Tx-a.Tx) * 8 / secs / 1e6})
	}
	l.Charts = []template.HTML{
		chartSVG("GPU temperature (hottest)", "°C", temp),
		chartSVG("GPU power", "W", power),
		chartSVG("GPU utilisation", "%", util),
		chartSVG("Host network in", "Mbit/s", in),
		chartSVG("Host network out", "Mbit/s", out),
	}
	offlineAfter := c.api.Hub.Config().OfflineAfter
	gaps, first, err := store.TelemetryGaps(ctx, q, d.ID, now.Add(-historyWindow), offlineAfter, 20)
	if err != nil {
		return l, err
	}
	for _, g := range gaps {
		l.Gaps = append(l.Gaps, gapRow{From: g.From, To: g.To, Lasted: lasted(g.Duration())})
	}
	switch {
	case l.Row.State == "offline" && l.Row.LastSeenAt != nil:
		l.OfflineNow = lasted(now.Sub(*l.Row.LastSeenAt))
	case len(gaps) > 0:
		l.ConnectedAt = gaps[0].To
	case !first.IsZero() && first.Sub(now.Add(-historyWindow)) > offlineAfter:
		l.ConnectedAt = first
	case !first.IsZero():
		l.Steady = true
	}
	for _, win := range []struct {
		name string
		d    time.Duration
	}{{"last hour", chartWindow}, {"last 24 h", historyWindow}} {
		rx, tx, err := store.Traffic(ctx, q, d.ID, now.Add(-win.d))
		if err != nil {
			return l, err
		}
		l.Traffic = append(l.Traffic, traffic{Window: win.name, In: byteSize(rx), Out: byteSize(tx)})
	}
	return l, nil
}

// deviceLive streams the live part of the device page, rendered, every
// 10 s while the page is open; if the device is removed meanwhile the page
// is told so.
func (c *Console) deviceLive(w http.ResponseWriter, r *http.Request) error {
	first := true
	return c.stream(w, r, 10*time.Second, func(ctx context.Context) (any, error) {
		d, err := c.ownDevice(ctx, r)
		if errors.Is(err, store.ErrNotFound) && !first {
			return map[string]bool{"gone": true}, nil
		}
		first = false
		if err != nil {
			return nil, err
		}
		l, err := c.deviceLiveData(ctx, d, c.api.Now())
		if err != nil {
			return nil, err
		}
		var b bytes.Buffer
		if err := c.pages["device"].ExecuteTemplate(&b, "device-live", l); err != nil {
			return nil, fmt.Errorf("rendering the live device: %w", err)
		}
		return map[string]string{"html": b.String()}, nil
	})
}

func benchRowOf(b store.Benchmark) benchRow {
	row := benchRow{At: b.MeasuredAt, Score: b.Score, Tier: b.Tier, GPU: "—", Network: "—"}
	var rep proto.BenchReport
	if json.Unmarshal([]byte(b.Report), &rep) != nil {
		return row
	}
	var other []string
	for _, res := range rep.Results {
		switch {
		case res.Skipped != "":
			other = append(other, res.Kind+" skipped: "+res.Skipped)
		case res.Kind == "gpu":
			var tf float64
			for _, g := range res.GPUs {
				if g.Available {
					tf += g.FP32TFLOPS
				}
			}
			row.GPU = fmt.Sprintf("%.1f TFLOPS FP32", tf)
		case res.Kind == "network":
			row.Network = fmt.Sprintf("↓ %.0f ↑ %.0f Mbit/s, %.0f ms", res.NetDownMbps, res.NetUpMbps, res.NetLatencyMS)
		case res.Kind == "cpu":
			other = append(other, fmt.Sprintf("CPU %.0f GFLOPS", res.CPUGFLOPS))
		case res.Kind == "memory":
			other = append(other, fmt.Sprintf("memory %.0f GB/s", res.MemGBps))
		case res.Kind == "disk":
			other = append(other, fmt.Sprintf("disk %.0f/%.0f MB/s", res.DiskReadMBps, res.DiskWriteMBps))
		}
	}
	row.Other = strings.Join(other, " · ")
	return row
}

// jobRows describes assignments a supplier served; names maps device ids
// to names where the page lists several devices.
func (c *Console) jobRows(ctx context.Context, as []store.Assignment, names map[string]string) ([]jobRow, error) {
	var out []jobRow
	for _, a := range as {
		earned, _, err := store.ChargeTotals(ctx, c.api.Store.Reader(), a.ID)
		if err != nil {
			return nil, err
		}
		rate, _, err := money.Split(money.Micros(a.PricePerHour), a.FeeBP)
		if err != nil {
			return nil, err
		}
		j := jobRow{Cluster: a.ClusterID, Device: a.DeviceID, Billed: lasted(time.Duration(a.BilledMS) * time.Millisecond),
			Rate: int64(rate), Earned: earned, Running: a.EndedAt.IsZero(), NeverReady: a.ReadyAt.IsZero()}
		if n, ok := names[a.DeviceID]; ok {
			j.Device = n
		}
		if !a.ReadyAt.IsZero() {
			j.Start = &a.ReadyAt
		}
		if !a.EndedAt.IsZero() {
			j.End = &a.EndedAt
		}
		out = append(out, j)
	}
	return out, nil
}

func (c *Console) renameDevice(w http.ResponseWriter, r *http.Request) error {
	u, id := me(r), r.PathValue("id")
	name, err := c.api.RenameDevice(r.Context(), u.ID, id, r.PostFormValue("name"))
	if msg, ok := formProblem(err); ok {
		return c.showDevice(w, r, &devicePage{Base: Base{Error: "Not renamed: " + msg}}, api.StatusOf(err))
	}
	if err != nil {
		return err
	}
	return redirect(w, r, "/devices/"+id, "Renamed to “"+name+"”.")
}

// removeDevice deletes the device with its telemetry, as DELETE
// /api/v1/devices/{id} does, and disconnects its agent: the machine must
// pair again to come back. Earnings and receipts stay.
func (c *Console) removeDevice(w http.ResponseWriter, r *http.Request) error {
	d, err := c.ownDevice(r.Context(), r)
	if err != nil {
		return err
	}
	if r.PostFormValue("confirm") != "on" {
		return c.showDevice(w, r, &devicePage{Base: Base{Error: "Not removed: tick the box to confirm."}}, http.StatusBadRequest)
	}
	if err := c.api.RemoveDevice(r.Context(), d.UserID, d.ID); err != nil {
		return err
	}
	return redirect(w, r, "/devices", "Removed “"+d.Name+"”: its agent was disconnected. To bring the machine back, pair it again.")
}

type earningsPage struct {
	Base
	Balances   ledger.Balances
	Paid       int64
	Sending    int64
	Last30     int64
	Chart      template.HTML
	Payouts    []api.PayoutJSON
	Policy     api.PayoutPolicy
	Every      string
	Wallet     string
	Address    string // what was typed into a refused form
	Note       string
	NextPayout time.Time
	Jobs       []jobRow
}

func (c *Console) earnings(w http.ResponseWriter, r *http.Request) error {
	return c.showEarnings(w, r, &earningsPage{}, http.StatusOK)
}

func (c *Console) showEarnings(w http.ResponseWriter, r *http.Request, p *earningsPage, status int) error {
	ctx, q, u := r.Context(), c.api.Store.Reader(), me(r)
	var err error
	if p.Balances, err = c.api.Ledger.BalancesOf(ctx, u.ID); err != nil {
		return err
	}
	if p.Wallet, err = store.PayoutWallet(ctx, q, u.ID); err != nil {
		return err
	}
	ps, err := store.PayoutsOf(ctx, q, u.ID)
	if err != nil {
		return err
	}
	now := c.api.Now()
	p.Policy, p.Every, p.NextPayout = c.api.Payouts, every(c.api.Payouts.Every), now.Add(c.api.Payouts.Every)
	for i, po := range ps {
		switch po.State {
		case "paid":
			p.Paid += po.Amount
		case "queued", "sent":
			p.Sending += po.Amount
		}
		if i == 0 { // newest first
			p.NextPayout = po.CreatedAt.Add(c.api.Payouts.Every)
		}
		if i < 50 {
			p.Payouts = append(p.Payouts, api.PayoutView(po, c.api.Payouts.Cluster))
		}
	}
	switch {
	case p.Wallet == "":
		p.Note = "Set a payout wallet to be paid."
	case p.Balances.Payable < c.api.Payouts.Threshold:
		p.Note = "Payouts start once " + money.Micros(c.api.Payouts.Threshold).USD() + " is payable."
	}
	today := now.UTC().Truncate(24 * time.Hour)
	from := today.AddDate(0, 0, -29)
	es, err := store.EarningsOver(ctx, q, ledger.SupplierPending(u.ID), "", from, now.Add(time.Second), 24*time.Hour)
	if err != nil {
		return err
	}
	var labels []string
	var amounts []int64
	for i := range 30 {
		day := from.AddDate(0, 0, i)
		labels, amounts = append(labels, day.Format("Jan 2")), append(amounts, earnedAt(es, day))
		p.Last30 += amounts[i]
	}
	vals, unit := moneyScale(amounts)
	p.Chart = barsSVG("Earned per day, last 30 days (UTC)", unit, labels, vals)
	as, err := store.AssignmentsOf(ctx, q, u.ID, true)
	if err != nil {
		return err
	}
	names := map[string]string{}
	ds, err := store.DevicesByUser(ctx, q, u.ID)
	if err != nil {
		return err
	}
	for _, d := range ds {
		names[d.ID] = d.Name
	}
	if p.Jobs, err = c.jobRows(ctx, as[:min(len(as), 20)], names); err != nil {
		return err
	}
	p.Title, p.Nav = "Earnings", "earnings"
	c.render(w, r, "earnings", status, p)
	return nil
}

// setWallet sets the payout address, checked as PUT /api/v1/me/wallet
// checks it: a refused address shows why and changes nothing.
func (c *Console) setWallet(w http.ResponseWriter, r *http.Request) error {
	typed := r.PostFormValue("address")
	addr, err := c.api.SetWallet(r.Context(), me(r).ID, typed)
	if msg, ok := formProblem(err); ok {
		return c.showEarnings(w, r, &earningsPage{Base: Base{Error: "Wallet not changed: " + msg}, Address: typed}, api.StatusOf(err))
	}
	if err != nil {
		return err
	}
	return redirect(w, r, "/earnings", "Payout wallet set: payouts go to "+addr+".")
}

// every names a schedule's period: "day", "6 h".
func every(d time.Duration) string {
	switch {
	case d == 24*time.Hour:
		return "day"
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	case d%time.Hour == 0:
		return fmt.Sprintf("%d h", d/time.Hour)
	}
	return d.String()
}

// lasted says how long something took, to the second.
func lasted(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min %d s", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%d h %d min", int(d.Hours()), int(d.Minutes())%60)
}

// byteSize writes a byte count in decimal units, as network traffic is
// usually counted.
func byteSize(n uint64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTP"[exp])
}
