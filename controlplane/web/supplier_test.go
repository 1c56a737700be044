package web_test

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"database/sql"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"rsc.io/qr"

	"github.com/idlegrid/idlegrid/controlplane/api"
	"github.com/idlegrid/idlegrid/controlplane/servertest"
	"github.com/idlegrid/idlegrid/controlplane/store"
	"github.com/idlegrid/idlegrid/shared/wallet"
)

// A supplier in a real browser: pairs a machine with the code (and QR
// code) the console shows, watches it appear without reloading, enrolls a
// second one with a farm token, removes that one, sees a job the first
// one served with what it earned, renames it, and sets a payout wallet
// after a bad address is refused. Another account can't open the device.
func TestSupplierInABrowser(t *testing.T) {
	cfg := servertest.FastConfig(t.TempDir())
	cfg.PayoutExplorerCluster = "devnet"
	srv := servertest.Start(t, &cfg)
	owner := srv.SignUp("gamer@example.com")
	other := srv.SignUp("other@example.com")
	gamer, err := store.UserByEmail(t.Context(), srv.Srv.Store.Reader(), "gamer@example.com")
	if err != nil {
		t.Fatal(err)
	}

	ctx := servertest.Browser(t)
	servertest.Within(t, ctx, 20*time.Second,
		chromedp.Navigate(srv.URL+"/devices"),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/login"]`)),
		chromedp.SendKeys(chromedp.CSS(`form[action="/login"] input[name="email"]`), "gamer@example.com"),
		chromedp.SendKeys(chromedp.CSS(`form[action="/login"] input[name="password"]`), "correct horse battery"),
		chromedp.Submit(chromedp.CSS(`form[action="/login"]`)),
		chromedp.WaitVisible(chromedp.ID("no-devices")),
		chromedp.Click(chromedp.CSS(`form[action="/devices/pairing-code"] button`)),
		chromedp.WaitVisible(chromedp.ID("pairing-code")),
		chromedp.WaitVisible(chromedp.CSS(`#pairing-qr svg`)),
	)
	code := pageText(t, ctx, "#pairing-code")
	checkQR(t, ctx, code)

	// A machine pairs with the code read off the page and shows up live.
	rigA := srv.NewAgent("rig-a", "RTX 4090")
	if err := rigA.Pair(t.Context(), code); err != nil {
		t.Fatalf("pairing with the console's code %q: %v", code, err)
	}
	servertest.RunAgent(t, rigA)
	idA := rigA.State().DeviceID
	waitJS(t, ctx, "rig-a online in the list", 15*time.Second, rowState(idA, "online"))
	servertest.Screenshot(t, ctx, "console-devices.png")

	// A farm token, shown once, enrolls a second machine.
	servertest.Within(t, ctx, 20*time.Second,
		chromedp.SendKeys(chromedp.CSS(`#token-form input[name="name"]`), "rack 1"),
		chromedp.Submit(chromedp.ID("token-form")),
		chromedp.WaitVisible(chromedp.ID("new-token")),
	)
	token := pageText(t, ctx, "#new-token")
	rigB := srv.NewAgent("rig-b", "RTX 3090")
	if err := rigB.Enroll(t.Context(), token); err != nil {
		t.Fatalf("enrolling with the console's token: %v", err)
	}
	servertest.RunAgent(t, rigB)
	idB := rigB.State().DeviceID
	waitJS(t, ctx, "rig-b online in the list", 15*time.Second, rowState(idB, "online"))

	// Another account finds nothing at this device's addresses and changes
	// nothing through them.
	for _, c := range []struct{ method, path string }{
		{"GET", "/devices/" + idA}, {"GET", "/devices/" + idA + "/live"},
		{"POST", "/devices/" + idA + "/rename"}, {"POST", "/devices/" + idA + "/remove"},
	} {
		if st := consoleDo(t, srv, other.Token, c.method, c.path, url.Values{"name": {"stolen"}, "confirm": {"on"}}); st != http.StatusNotFound {
			t.Errorf("another account: %s %s answered %d, want 404", c.method, c.path, st)
		}
	}
	// Removing takes the confirmation, even from a form that skips the
	// browser's check.
	if st := consoleDo(t, srv, owner.Token, "POST", "/devices/"+idB+"/remove", nil); st != http.StatusBadRequest {
		t.Errorf("remove without confirmation: %d, want 400", st)
	}
	// The device page's live part comes rendered over server-sent events.
	if ev := firstEvent(t, srv, owner.Token, "/devices/"+idA+"/live"); !strings.Contains(ev, `"html":`) || !strings.Contains(ev, `class=\"chart\"`) {
		t.Errorf("the device's live stream starts with %q", ev)
	}
	if d, err := store.DeviceByID(t.Context(), srv.Srv.Store.Reader(), idA); err != nil || d.Name != "rig-a" {
		t.Fatalf("after another account's tries, rig-a is %+v (%v)", d, err)
	}

	// Remove rig-b from its page: gone from the list, its agent cut off.
	servertest.Within(t, ctx, 20*time.Second,
		chromedp.Navigate(srv.URL+"/devices/"+idB),
		chromedp.WaitVisible(chromedp.ID("remove-form")),
		chromedp.Click(chromedp.CSS(`#remove-form input[name="confirm"]`)),
		chromedp.Submit(chromedp.ID("remove-form")),
	)
	waitJS(t, ctx, "back on the list without rig-b", 10*time.Second,
		`location.pathname === "/devices" && !!document.querySelector('tr[data-id="`+idA+`"]') && !document.querySelector('tr[data-id="`+idB+`"]')`)
	servertest.Eventually(t, 10*time.Second, "rig-b disconnected", func() bool { _, on := srv.Srv.Hub.Live(idB); return !on })

	// rig-a serves a job and earns.
	cluster := serveAJob(t, srv)

	// Its page: charts, the job, rename.
	servertest.Within(t, ctx, 20*time.Second,
		chromedp.Click(chromedp.CSS(`tr[data-id="`+idA+`"] a`)),
		chromedp.WaitVisible(chromedp.ID("charts")),
	)
	if n := countOf(t, ctx, "#charts svg.chart"); n != 5 {
		t.Errorf("%d charts on the device page, want 5", n)
	}
	if n := countOf(t, ctx, "#charts svg.chart polyline"); n < 3 {
		t.Errorf("the GPU charts have no lines: %d polylines", n)
	}
	if jobs := pageText(t, ctx, "#jobs"); !strings.Contains(jobs, cluster) || !strings.Contains(jobs, "$0.") {
		t.Errorf("the job table does not show cluster %s with its earnings:\n%s", cluster, jobs)
	}
	clearField(t, ctx, `#rename-form input[name="name"]`)
	servertest.Within(t, ctx, 20*time.Second,
		chromedp.SendKeys(chromedp.CSS(`#rename-form input[name="name"]`), "big rig"),
		chromedp.Submit(chromedp.ID("rename-form")),
	)
	waitJS(t, ctx, "the new name", 10*time.Second, `document.querySelector("#device-name").textContent.includes("big rig")`)
	servertest.Screenshot(t, ctx, "console-device.png")

	// Earnings: a refused address changes nothing, a good one is shown.
	seedPayout(t, srv, gamer.ID)
	servertest.Within(t, ctx, 20*time.Second,
		chromedp.Navigate(srv.URL+"/earnings"),
		chromedp.WaitVisible(chromedp.ID("wallet-form")),
		chromedp.SendKeys(chromedp.CSS(`#wallet-form input[name="address"]`), "not-a-wallet"),
		chromedp.Submit(chromedp.ID("wallet-form")),
	)
	waitJS(t, ctx, "the refusal", 10*time.Second, `!!document.querySelector(".error")`)
	if msg := pageText(t, ctx, ".error"); !strings.Contains(msg, "not a Solana wallet address") {
		t.Errorf("a bad wallet shows %q", msg)
	}
	if w, _ := store.PayoutWallet(t.Context(), srv.Srv.Store.Reader(), gamer.ID); w != "" {
		t.Fatalf("a refused wallet was stored: %q", w)
	}
	pub, _, _ := ed25519.GenerateKey(nil)
	addr := wallet.EncodeBase58(pub)
	clearField(t, ctx, `#wallet-form input[name="address"]`)
	servertest.Within(t, ctx, 20*time.Second,
		chromedp.SendKeys(chromedp.CSS(`#wallet-form input[name="address"]`), addr),
		chromedp.Submit(chromedp.ID("wallet-form")),
	)
	waitJS(t, ctx, "the wallet shown", 10*time.Second, `(document.querySelector("#wallet") || {}).textContent === "`+addr+`"`)
	link, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#payouts a.sig").href`))
	if err != nil || link != "https://explorer.solana.com/tx/"+testSignature+"?cluster=devnet" {
		t.Errorf("payout explorer link %q (%v)", link, err)
	}
	if total := pageText(t, ctx, "#totals"); !strings.Contains(total, "$12.50") {
		t.Errorf("the paid total is missing: %q", total)
	}
	if jobs := pageText(t, ctx, "#jobs"); !strings.Contains(jobs, "big rig") {
		t.Errorf("recent jobs lack the device's name:\n%s", jobs)
	}
	if n := countOf(t, ctx, "svg.chart rect.chart-bar"); n < 1 {
		t.Error("no bar in the earnings chart")
	}
	servertest.Screenshot(t, ctx, "console-earnings.png")
}

// checkQR compares the page's QR code with the code's own encoding,
// module by module.
func checkQR(t *testing.T, ctx context.Context, code string) {
	t.Helper()
	d, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#pairing-qr svg path").getAttribute("d")`))
	if err != nil {
		t.Fatalf("reading the QR code: %v", err)
	}
	dark := map[[2]int]bool{}
	for _, m := range regexp.MustCompile(`M(\d+) (\d+)h1v1h-1z`).FindAllStringSubmatch(d, -1) {
		x, _ := strconv.Atoi(m[1])
		y, _ := strconv.Atoi(m[2])
		dark[[2]int{x - 4, y - 4}] = true
	}
	want, err := qr.Encode(code, qr.M)
	if err != nil {
		t.Fatal(err)
	}
	for y := range want.Size {
		for x := range want.Size {
			if want.Black(x, y) != dark[[2]int{x, y}] {
				t.Fatalf("the QR code differs from %q's at module (%d, %d)", code, x, y)
			}
		}
	}
}

// serveAJob has a renter run a one-GPU cluster (it lands on the only
// device online) until it has cost something, then end it; it returns the
// cluster's id once the supplier's earnings are booked.
func serveAJob(t *testing.T, srv *servertest.Server) string {
	t.Helper()
	renter := srv.SignUp("renter@example.com")
	u, err := store.UserByEmail(t.Context(), srv.Srv.Store.Reader(), "renter@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Srv.Ledger.TopUp(t.Context(), u.ID, 100_000_000, "seed", ""); err != nil {
		t.Fatal(err)
	}
	var v struct {
		ID    string
		State string
		Cost  struct{ Accruing int64 }
	}
	renter.Header = http.Header{"Idempotency-Key": {"job-1"}}
	if st := renter.Do("POST", "/api/v1/clusters", map[string]any{"gpus": 1, "hours": 1}, &v); st != http.StatusCreated {
		t.Fatalf("deploy: %d %+v", st, v)
	}
	renter.Header = nil
	id := v.ID
	servertest.Eventually(t, 20*time.Second, "the cluster running and costing", func() bool {
		renter.Do("GET", "/api/v1/clusters/"+id, nil, &v)
		return v.State == "running" && v.Cost.Accruing >= 20
	})
	if st := renter.Do("DELETE", "/api/v1/clusters/"+id, nil, nil); st >= 300 {
		t.Fatalf("terminate: %d", st)
	}
	servertest.Eventually(t, 20*time.Second, "the job's earnings booked", func() bool {
		renter.Do("GET", "/api/v1/clusters/"+id, nil, &v)
		if v.State != "terminated" {
			return false
		}
		var total int64
		err := srv.Srv.Store.Reader().QueryRowContext(t.Context(),
			`SELECT coalesce(sum(charged), 0) FROM usage_assignments WHERE cluster_id = ? AND settled_until >= ended_at`, id).Scan(&total)
		return err == nil && total > 0
	})
	return id
}

const testSignature = "5VERv8NMvzbJMEkV8xnrLkEaWRtSz9CosKDYjCJjBRnbJLgp8uirBgmQpjKhoR4tjF3ZpRzrFmBV6UjKdiSZkQUW"

// seedPayout records a paid on-chain payout for the supplier, as the
// payout service would after its batch finalized.
func seedPayout(t *testing.T, srv *servertest.Server, userID string) {
	t.Helper()
	now := time.Now()
	err := srv.Srv.Store.Write(t.Context(), func(tx *sql.Tx) error {
		if err := store.InsertBatch(t.Context(), tx, store.Batch{ID: "bat_test", State: "finalized", Signature: testSignature, Blockhash: "h", Tx: []byte{1}, Legs: 1, CreatedAt: now}); err != nil {
			return err
		}
		p := store.Payout{ID: "pay_test", UserID: userID, Wallet: "11111111111111111111111111111111", Amount: 12_500_000, TokenAmount: 12_500_000,
			MicrosPerToken: 1_000_000, Decimals: 6, Mint: "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v", Mode: "onchain", State: "queued", CreatedAt: now}
		if err := store.InsertPayout(t.Context(), tx, p); err != nil {
			return err
		}
		if err := store.SetPayoutState(t.Context(), tx, []string{p.ID}, "queued", "sent", "bat_test", "", now); err != nil {
			return err
		}
		return store.SetPayoutState(t.Context(), tx, []string{p.ID}, "sent", "paid", "", "", now)
	})
	if err != nil {
		t.Fatalf("seeding a payout: %v", err)
	}
}

// consoleDo sends a console request as the session's owner, from the
// console's own origin, and returns the status without following
// redirects.
func consoleDo(t *testing.T, srv *servertest.Server, session, method, path string, form url.Values) int {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", srv.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.AddCookie(&http.Cookie{Name: api.SessionCookie, Value: session})
	c := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// firstEvent reads the first server-sent event of a console stream.
func firstEvent(t *testing.T, srv *servertest.Server, session, path string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+path, nil)
	req.AddCookie(&http.Cookie{Name: api.SessionCookie, Value: session})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var ev strings.Builder
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() && sc.Text() != "" {
		ev.WriteString(sc.Text() + "\n")
	}
	return ev.String()
}

func rowState(deviceID, state string) string {
	return fmt.Sprintf(`(document.querySelector('#devices tr[data-id="%s"] .state') || {}).textContent === %q && !document.querySelector("#devices").hidden`, deviceID, state)
}

func pageText(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("reading %s: %v", sel, err)
	}
	return s
}

func clearField(t *testing.T, ctx context.Context, sel string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { document.querySelector(`+strconv.Quote(sel)+`).value = ""; return true })()`)); err != nil {
		t.Fatalf("clearing %s: %v", sel, err)
	}
}

func countOf(t *testing.T, ctx context.Context, sel string) int {
	t.Helper()
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll(`+strconv.Quote(sel)+`).length`))
	if err != nil {
		t.Fatalf("counting %s: %v", sel, err)
	}
	return n
}

// waitJS waits until js is true in the page, evaluating it afresh each
// time so a page replaced meanwhile (a form's redirect) is no trouble.
func waitJS(t *testing.T, ctx context.Context, what string, within time.Duration, js string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
			t.Fatalf("waiting for %s: %v; the page says:\n%s", what, err, page)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
