package web_test

import (
	"bufio"
	"context"
	"database/sql"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/idlegrid/idlegrid/controlplane/cluster"
	"github.com/idlegrid/idlegrid/controlplane/servertest"
	"github.com/idlegrid/idlegrid/controlplane/store"
	"github.com/idlegrid/idlegrid/shared/agent"
	"github.com/idlegrid/idlegrid/shared/hw"
)

// fixedHost is a machine's host probe with a host name that gives its
// owner away, as real ones do.
type fixedHost struct{ info hw.HostInfo }

func (h fixedHost) Info(context.Context) (hw.HostInfo, error) { return h.info, nil }
func (h fixedHost) Sample(context.Context) (hw.HostSample, error) {
	return hw.HostSample{CPUPct: 5}, nil
}

// startRig pairs and runs a simulated supplier machine that says where it
// is and what its host is called; it returns its device id and its stop.
func startRig(t *testing.T, srv *servertest.Server, owner *servertest.Client, name, spec, region, hostname string) (string, func()) {
	t.Helper()
	models, err := hw.ParseSimSpec(spec)
	if err != nil {
		t.Fatal(err)
	}
	a, err := agent.New(agent.Config{
		DataDir: t.TempDir(), ServerURL: srv.URL, Name: name, Version: "test",
		GPU: hw.NewSim(models, int64(len(name)), nil), Host: fixedHost{hw.HostInfo{Hostname: hostname, OS: "linux", Arch: "amd64"}},
		Log: srv.Log.With("agent", name), MinBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond,
		Runtime: srv.SimRuntime(name), Region: region,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Pair(t.Context(), owner.PairingCode()); err != nil {
		t.Fatal(err)
	}
	stop, _ := servertest.RunAgent(t, a)
	return a.State().DeviceID, stop
}

// waitExact waits until the element's text is exactly want.
func waitExact(t *testing.T, ctx context.Context, sel, want string, within time.Duration) {
	t.Helper()
	js := `(() => { const e = document.querySelector(` + "`" + sel + "`" + `); return !!e && e.textContent.trim() === ` + "`" + want + "`" + `; })()`
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](js, chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(within))); err != nil {
		got, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector(`+"`"+sel+"`"+`) || {}).textContent || "(missing)"`))
		t.Fatalf("waiting for %s to read %q: %v; it reads %q", sel, want, err, got)
	}
}

// mustNotShow fails when the page text holds any of secrets.
func mustNotShow(t *testing.T, page, what string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(page, s) {
			t.Errorf("the %s shows %q:\n%s", what, s, page)
		}
	}
}

// Anyone, without an account, watches the network in a real browser: the
// supply and GPU models online, a supplier's machine going away without a
// reload, a device's record without its owner, name or host, clusters
// without their requester, payouts with shortened addresses, and a 404
// for a device that does not exist.
func TestExplorerInABrowser(t *testing.T) {
	srv := servertest.Start(t, nil)
	gamer := srv.SignUp("gamer@example.com")
	startRig(t, srv, gamer, "gamer-rig-a", "RTX 4090", "eu-west", "gamers-desktop.home.lan")
	startRig(t, srv, gamer, "gamer-rig-b", "RTX 4090", "eu-west", "gamers-other-box.home.lan")
	_, stopC := startRig(t, srv, gamer, "gamer-rig-c", "RTX 3090", "us-east", "gamers-htpc.home.lan")
	servertest.Eventually(t, 10*time.Second, "every rig online", func() bool {
		n := 0
		for _, d := range gamer.Devices() {
			if d.State == "online" {
				n++
			}
		}
		return n == 3
	})

	// A requester rents one 4090: the cluster runs on rig a or b.
	renter := srv.SignUp("renter@example.com")
	u, err := store.UserByEmail(t.Context(), srv.Srv.Store.Reader(), "renter@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Srv.Ledger.TopUp(t.Context(), u.ID, 100_000_000, "seed", ""); err != nil {
		t.Fatal(err)
	}
	var cl cluster.View
	if st := renter.Do("POST", "/api/v1/clusters", map[string]any{"gpu_model": "4090", "gpus": 1, "hours": 1}, &cl); st != http.StatusCreated {
		t.Fatalf("deploy: %d %+v", st, cl)
	}
	servertest.Eventually(t, 20*time.Second, "the cluster running", func() bool {
		renter.Do("GET", "/api/v1/clusters/"+cl.ID, nil, &cl)
		return cl.State == "running"
	})
	served := cl.Nodes[0].DeviceID

	// A payout batch as the payout service leaves it once finalized: its
	// addresses are public on chain, the accounts behind them are not.
	const (
		wallet = "7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU"
		sig    = "5VERv8NMvzbJMEkV8xnrLkEaWRtSz9CosKDYjCJjBRnbJLgp8uirBgmQpjKhoR4tjF3ZpRzrFmBV6UjKdiSZkQUW"
	)
	g, err := store.UserByEmail(t.Context(), srv.Srv.Store.Reader(), "gamer@example.com")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	err = srv.Srv.Store.Write(t.Context(), func(tx *sql.Tx) error {
		if err := store.InsertBatch(t.Context(), tx, store.Batch{ID: "bat_1", State: "finalized", Signature: sig, Blockhash: "h", Tx: []byte{1}, Legs: 1, CreatedAt: now}); err != nil {
			return err
		}
		p := store.Payout{ID: "pay_1", UserID: g.ID, Wallet: wallet, Amount: 12_500_000, TokenAmount: 12_500_000, MicrosPerToken: 1_000_000,
			Decimals: 6, Mint: "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v", Mode: "onchain", State: "queued", CreatedAt: now}
		if err := store.InsertPayout(t.Context(), tx, p); err != nil {
			return err
		}
		if err := store.SetPayoutState(t.Context(), tx, []string{p.ID}, "queued", "sent", "bat_1", "", now); err != nil {
			return err
		}
		return store.SetPayoutState(t.Context(), tx, []string{p.ID}, "sent", "paid", "bat_1", "", now)
	})
	if err != nil {
		t.Fatal(err)
	}

	ctx := servertest.Browser(t)
	servertest.Within(t, ctx, 20*time.Second, chromedp.Navigate(srv.URL+"/explorer"), chromedp.WaitVisible(chromedp.ID("network")))
	waitExact(t, ctx, "#live-status", "live", 10*time.Second)
	for sel, want := range map[string]string{
		"#devices-online": "3", "#devices-total": "3", "#gpus-online": "3", "#gpus-total": "3",
		"#clusters-running": "1", "#paid-out": "$12.50", "#paid-onchain": "$12.50", "#verified-suppliers": "0", // simulated rigs are never verified
	} {
		waitExact(t, ctx, sel, want, 5*time.Second)
	}
	models := textOf(t, ctx, "#models")
	for _, want := range []string{"NVIDIA GeForce RTX 4090", "NVIDIA GeForce RTX 3090", "$"} {
		if !strings.Contains(models, want) {
			t.Errorf("the models table lacks %q:\n%s", want, models)
		}
	}
	waitExact(t, ctx, `#models tbody tr:first-child td:nth-child(2)`, "2", 5*time.Second) // two 4090s online, the most
	mustNotShow(t, textOf(t, ctx, "body"), "explorer home", "gamer@example.com", "renter@example.com", "gamer-rig", "home.lan")
	servertest.Screenshot(t, ctx, "explorer-home.png")

	// Rig c goes away: the open page follows, without a reload.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.notReloaded = true`)); err != nil {
		t.Fatal(err)
	}
	stopC()
	waitExact(t, ctx, "#devices-online", "2", 15*time.Second)
	waitExact(t, ctx, "#gpus-online", "2", 5*time.Second)
	waitExact(t, ctx, "#devices-total", "3", 5*time.Second)
	if still, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.notReloaded === true`)); err != nil || !still {
		t.Fatalf("the page reloaded to show the change (%v)", err)
	}
	if models := textOf(t, ctx, "#models"); strings.Contains(models, "3090") {
		t.Errorf("the 3090 is still listed as online:\n%s", models)
	}

	// The device that serves the cluster: its hardware and record, not who
	// owns it, what they call it or what its host is called.
	servertest.Within(t, ctx, 20*time.Second, chromedp.Navigate(srv.URL+"/explorer/devices/"+served), chromedp.WaitVisible(chromedp.ID("device")))
	page := textOf(t, ctx, "main")
	for _, want := range []string{served, "NVIDIA GeForce RTX 4090", "24 GiB", "eu-west", "online", "Simulated device", "simulated"} {
		if !strings.Contains(page, want) {
			t.Errorf("the device page lacks %q:\n%s", want, page)
		}
	}
	waitExact(t, ctx, "#device-clusters", "1", time.Second)
	mustNotShow(t, textOf(t, ctx, "body"), "device page", "gamer@example.com", "gamer-rig", "gamers-", "home.lan")
	if html, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.outerHTML`)); strings.Contains(html, "gamer") || strings.Contains(html, "home.lan") {
		t.Errorf("the device page's HTML names the owner, the rig or its host:\n%s", html)
	}
	servertest.Screenshot(t, ctx, "explorer-device.png")

	// Clusters: size, model and state, not the requester.
	servertest.Within(t, ctx, 20*time.Second, chromedp.Navigate(srv.URL+"/explorer/clusters"), chromedp.WaitVisible(chromedp.ID("explorer-clusters")))
	row := textOf(t, ctx, `tr[data-id="`+cl.ID+`"]`)
	for _, want := range []string{cl.ID, "1", "NVIDIA GeForce RTX 4090", "running", "so far"} {
		if !strings.Contains(row, want) {
			t.Errorf("the cluster's row lacks %q: %q", want, row)
		}
	}
	mustNotShow(t, textOf(t, ctx, "body"), "clusters page", "renter@example.com", "gamer@example.com")
	servertest.Screenshot(t, ctx, "explorer-clusters.png")

	// Payouts: the transaction linked, the address shortened.
	servertest.Within(t, ctx, 20*time.Second, chromedp.Navigate(srv.URL+"/explorer/payouts"), chromedp.WaitVisible(chromedp.ID("batches")))
	row = textOf(t, ctx, `tr[data-id="bat_1"]`)
	for _, want := range []string{"finalized", "$12.50", "12.5", "7xKXtg…osgAsU"} {
		if !strings.Contains(row, want) {
			t.Errorf("the batch's row lacks %q: %q", want, row)
		}
	}
	href, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('tr[data-id="bat_1"] a').href`))
	if href != "https://explorer.solana.com/tx/"+sig {
		t.Errorf("the batch links %q", href)
	}
	if html, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.outerHTML`)); strings.Contains(html, wallet) || strings.Contains(html, "gamer@example.com") {
		t.Errorf("the payouts page gives the whole address or the payee away:\n%s", html)
	}
	servertest.Screenshot(t, ctx, "explorer-payouts.png")

	// A device that does not exist.
	servertest.Within(t, ctx, 20*time.Second, chromedp.Navigate(srv.URL+"/explorer/devices/dev_nosuchdevice"), chromedp.WaitVisible(chromedp.CSS("h1")))
	if h := textOf(t, ctx, "h1"); !strings.Contains(h, "404") {
		t.Errorf("an unknown device shows %q", h)
	}
	if p := textOf(t, ctx, "main"); !strings.Contains(p, "no device with this id") {
		t.Errorf("an unknown device's page says %q", p)
	}

	// Once metering settles the cluster's first seconds, they count as
	// GPU-hours served: a few GPU-seconds, too few to round to 0.01 but
	// never shown as none.
	servertest.Eventually(t, 15*time.Second, "the cluster's first seconds billed", func() bool {
		if err := srv.Srv.Meter.Settle(t.Context()); err != nil {
			t.Fatal(err)
		}
		renter.Do("GET", "/api/v1/clusters/"+cl.ID, nil, &cl)
		return cl.Cost.BilledSeconds > 0
	})
	servertest.Within(t, ctx, 20*time.Second, chromedp.Navigate(srv.URL+"/explorer"), chromedp.WaitVisible(chromedp.ID("network")))
	waitExact(t, ctx, "#gpu-hours", "< 0.01", 5*time.Second)
}

// The explorer is public and its pages answer with honest statuses; empty,
// it says so.
func TestExplorerPagesArePublic(t *testing.T) {
	srv := servertest.Start(t, nil)
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tc := range []struct {
		path   string
		status int
		says   string
	}{
		{"/explorer", http.StatusOK, "No GPUs are online right now."},
		{"/explorer/clusters", http.StatusOK, "No clusters yet."},
		{"/explorer/payouts", http.StatusOK, "No payout transactions yet."},
		{"/explorer/devices/dev_nosuchdevice", http.StatusNotFound, "There is no device with this id on the network."},
		{"/static/explorer.js", http.StatusOK, "EventSource"},
	} {
		t.Run(strings.TrimPrefix(tc.path, "/"), func(t *testing.T) {
			resp, err := c.Get(srv.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b := new(strings.Builder)
			if _, err := io.Copy(b, resp.Body); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status || !strings.Contains(b.String(), tc.says) {
				t.Fatalf("GET %s: %d, want %d saying %q:\n%s", tc.path, resp.StatusCode, tc.status, tc.says, b)
			}
		})
	}
	resp, err := c.Get(srv.URL + "/explorer/live")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("GET /explorer/live: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			if !strings.Contains(data, `"devices_online":0`) || !strings.Contains(data, `"models":[]`) {
				t.Fatalf("the first live update of an empty network: %s", data)
			}
			return
		}
	}
	t.Fatalf("the live stream ended without an update: %v", sc.Err())
}
