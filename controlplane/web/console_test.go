package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/idlegrid/idlegrid/controlplane/servertest"
)

// A supplier signs in with a real browser, sees their devices with live
// states, gets a pairing code, watches a stopped rig turn offline without
// reloading, and signs out.
func TestConsoleInABrowser(t *testing.T) {
	srv := servertest.Start(t, nil)
	owner := srv.SignUp("gamer@example.com")
	stops := map[string]func(){}
	ids := map[string]string{}
	for _, name := range []string{"rig-a", "rig-b"} {
		a := srv.NewAgent(name, "RTX 4090")
		if err := a.Pair(t.Context(), owner.PairingCode()); err != nil {
			t.Fatal(err)
		}
		ids[name] = a.State().DeviceID
		stops[name], _ = servertest.RunAgent(t, a)
	}
	servertest.Eventually(t, 10*time.Second, "both rigs online", func() bool {
		ds := owner.Devices()
		return len(ds) == 2 && ds[0].State == "online" && ds[1].State == "online"
	})

	ctx := servertest.Browser(t)
	servertest.Within(t, ctx, 20*time.Second,
		chromedp.Navigate(srv.URL+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/login"]`)),
		chromedp.SendKeys(chromedp.CSS(`form[action="/login"] input[name="email"]`), "gamer@example.com"),
		chromedp.SendKeys(chromedp.CSS(`form[action="/login"] input[name="password"]`), "wrong password"),
		chromedp.Submit(chromedp.CSS(`form[action="/login"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.error`)),
	)
	msg, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(".error")))
	if err != nil || !strings.Contains(msg, "wrong email or password") {
		t.Fatalf("a wrong password shows %q (%v)", msg, err)
	}
	servertest.Within(t, ctx, 20*time.Second,
		chromedp.SendKeys(chromedp.CSS(`form[action="/login"] input[name="password"]`), "correct horse battery"),
		chromedp.Submit(chromedp.CSS(`form[action="/login"]`)),
		chromedp.WaitVisible(chromedp.ID("devices")),
	)
	table, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("devices")))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"rig-a", "rig-b", "online", "NVIDIA GeForce RTX 4090", "24 GiB", "simulated"} {
		if !strings.Contains(table, want) {
			t.Errorf("device table lacks %q:\n%s", want, table)
		}
	}

	servertest.Within(t, ctx, 20*time.Second,
		chromedp.Click(chromedp.CSS(`form[action="/devices/pairing-code"] button`)),
		chromedp.WaitVisible(chromedp.ID("pairing-code")),
	)
	code, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("pairing-code")))
	if !regexp.MustCompile(`^[A-Z2-9]{4}-[A-Z2-9]{4}$`).MatchString(code) {
		t.Fatalf("pairing code %q is not XXXX-XXXX", code)
	}

	// The page refreshes states by itself.
	stops["rig-b"]()
	servertest.Within(t, ctx, 20*time.Second,
		chromedp.Poll[chromedp.Void](`document.querySelector('tr[data-id="`+ids["rig-b"]+`"] .state').textContent === "offline"`,
			chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(15*time.Second)),
	)
	state, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`tr[data-id="`+ids["rig-a"]+`"] .state`)))
	if state != "online" {
		t.Fatalf("rig-a shows %q, want online", state)
	}

	servertest.Within(t, ctx, 20*time.Second,
		chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/login"]`)),
	)
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	if !strings.HasSuffix(loc, "/login") {
		t.Fatalf("after sign-out the browser is at %s", loc)
	}
}

// A form posted from another site is refused (CSRF).
func TestCrossSiteFormPostIsRefused(t *testing.T) {
	srv := servertest.Start(t, nil)
	srv.SignUp("gamer@example.com")
	form := url.Values{"email": {"gamer@example.com"}, "password": {"correct horse battery"}}
	req, _ := http.NewRequest("POST", srv.URL+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site sign-in post: status %d, want 403", resp.StatusCode)
	}
	if len(resp.Cookies()) != 0 {
		t.Fatal("a cross-site post got a session cookie")
	}
}

// Pages need a session; static files don't.
func TestConsolePagesRequireSignIn(t *testing.T) {
	srv := servertest.Start(t, nil)
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for path, want := range map[string]int{"/": http.StatusSeeOther, "/login": http.StatusOK, "/static/console.css": http.StatusOK, "/nope": http.StatusNotFound} {
		resp, err := c.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
	resp, err := c.PostForm(srv.URL+"/devices/pairing-code", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Fatalf("anonymous pairing-code post: %d → %s, want a redirect to /login", resp.StatusCode, resp.Header.Get("Location"))
	}
}
