package web_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/idlegrid/idlegrid/controlplane/servertest"
)

func textOf(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("reading %s: %v", sel, err)
	}
	return s
}

// waitText waits until the element's text contains want. It evaluates
// afresh each time, so a page replaced meanwhile (a form's redirect) is no
// trouble: the check simply runs on the new page.
func waitText(t *testing.T, ctx context.Context, sel, want string, within time.Duration) {
	t.Helper()
	js := `(() => { const e = document.querySelector(` + "`" + sel + "`" + `); return !!e && e.textContent.includes(` + "`" + want + "`" + `); })()`
	waitJS(t, ctx, fmt.Sprintf("%q in %s", want, sel), within, js)
}

// A new requester, in a real browser on a demo server: signs up, takes
// demo credit, watches the live price while filling the deploy form,
// deploys on the demo fleet, follows the cluster to ready without
// reloading, terminates it, and creates an API key that is shown once.
func TestRequesterInABrowser(t *testing.T) {
	cfg := servertest.FastConfig(t.TempDir())
	cfg.Demo = 3
	srv := servertest.Start(t, &cfg)
	servertest.Eventually(t, 15*time.Second, "the demo fleet online", func() bool { return srv.Srv.Hub.ConnectedCount() == 3 })

	ctx := servertest.Browser(t)
	servertest.Within(t, ctx, 20*time.Second,
		chromedp.Navigate(srv.URL+"/deploy"),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/signup"]`)),
		chromedp.SendKeys(chromedp.CSS(`form[action="/signup"] input[name="email"]`), "renter@example.com"),
		chromedp.SendKeys(chromedp.CSS(`form[action="/signup"] input[name="password"]`), "correct horse battery"),
		chromedp.Submit(chromedp.CSS(`form[action="/signup"]`)),
	)
	waitText(t, ctx, "#deploy-form", "Deploy", 10*time.Second) // back where they were going
	waitText(t, ctx, "#quote-total", "top up", 10*time.Second)
	servertest.Within(t, ctx, 20*time.Second,
		chromedp.Navigate(srv.URL+"/billing"),
		chromedp.Click(chromedp.CSS(`#faucet-form button`)),
	)
	waitText(t, ctx, "#credit", "$50", 10*time.Second)
	servertest.Within(t, ctx, 20*time.Second, chromedp.Navigate(srv.URL+"/deploy"))
	waitText(t, ctx, "#quote-total", "per hour", 10*time.Second)
	if got := textOf(t, ctx, "#quote-total"); strings.Contains(got, "top up") {
		t.Fatalf("with $50 of credit the quote still asks for a top-up: %q", got)
	}
	servertest.Within(t, ctx, 20*time.Second,
		chromedp.SetValue(chromedp.CSS(`input[name="gpus"]`), "20"),
		chromedp.SendKeys(chromedp.CSS(`input[name="gpus"]`), "0"), // fire an input event: 200 GPUs
	)
	waitText(t, ctx, "#quote-status", "GPUs asked for", 10*time.Second)
	servertest.Within(t, ctx, 20*time.Second,
		chromedp.SetValue(chromedp.CSS(`input[name="gpus"]`), ""),
		chromedp.SendKeys(chromedp.CSS(`input[name="gpus"]`), "1"),
	)
	waitText(t, ctx, "#quote-total", "per hour", 10*time.Second)
	servertest.Screenshot(t, ctx, "console-deploy.png")
	servertest.Within(t, ctx, 10*time.Second, chromedp.Submit(chromedp.ID("deploy-form")))
	waitText(t, ctx, "#cluster-state", "running", 25*time.Second) // live, over server-sent events
	waitText(t, ctx, "#events", "ready after", 5*time.Second)
	waitText(t, ctx, "#reach", "simulated suppliers", 5*time.Second) // a demo cluster says there is no Ray to reach
	servertest.Screenshot(t, ctx, "console-cluster.png")
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	id := loc[strings.LastIndex(loc, "/")+1:]
	servertest.Within(t, ctx, 10*time.Second,
		chromedp.Click(chromedp.CSS(`#terminate-form input[name="confirm"]`)),
		chromedp.Submit(chromedp.ID("terminate-form")),
	)
	waitText(t, ctx, "#cluster-state", "terminated", 25*time.Second)
	servertest.Within(t, ctx, 10*time.Second, chromedp.Navigate(srv.URL+"/clusters"))
	waitText(t, ctx, `tr[data-id="`+id+`"]`, "terminated", 5*time.Second)

	servertest.Within(t, ctx, 20*time.Second,
		chromedp.Navigate(srv.URL+"/keys"),
		chromedp.SendKeys(chromedp.CSS(`form[action="/keys"] input[name="name"]`), "laptop"),
		chromedp.Submit(chromedp.CSS(`form[action="/keys"]`)),
	)
	waitText(t, ctx, "#new-key", "igk_", 10*time.Second)
	key := textOf(t, ctx, "#new-key")
	if !strings.HasPrefix(key, "igk_") {
		t.Fatalf("new key %q", key)
	}
	// The key works for the API, and the keys page never shows it again.
	c := srv.Anonymous()
	c.Token = key
	if st := c.Do("GET", "/api/v1/clusters", nil, nil); st != http.StatusOK {
		t.Fatalf("the new key is refused: %d", st)
	}
	servertest.Within(t, ctx, 10*time.Second, chromedp.Navigate(srv.URL+"/keys"), chromedp.WaitVisible(chromedp.ID("keys")))
	if page := textOf(t, ctx, "main"); strings.Contains(page, key) || !strings.Contains(page, "laptop") {
		t.Fatalf("keys page after reload: shows the secret again or lost the key: %q", page)
	}
}
