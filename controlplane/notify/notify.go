// Package notify tells an account's webhook about its devices: a rig gone
// offline, a failed verification, and when each is over. Alerts are
// raised and cleared in sqlite, so a restart neither repeats nor loses
// one; deliveries are queued there too and retried with backoff.
//
// Each call is a POST of JSON with X-Idlegrid-Event and
// X-Idlegrid-Signature: sha256=<hex HMAC-SHA256 of the body with the
// webhook's secret>, so the receiver can tell it came from us.
package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"syscall"
	"time"

	"github.com/idlegrid/idlegrid/controlplane/hub"
	"github.com/idlegrid/idlegrid/controlplane/problem"
	"github.com/idlegrid/idlegrid/controlplane/store"
	"github.com/idlegrid/idlegrid/controlplane/verify"
)

// Alert kinds.
const (
	KindRigOffline         = "rig_offline"
	KindVerificationFailed = "verification_failed"
)

// Event is the body of a webhook call.
type Event struct {
	Event    string    `json:"event"` // alert_raised or alert_cleared
	Kind     string    `json:"kind"`
	DeviceID string    `json:"device_id"`
	Device   string    `json:"device_name"`
	Message  string    `json:"message"`
	At       time.Time `json:"at"`
}

// Config tunes the notifier.
type Config struct {
	Every       time.Duration // how often devices are looked at (default 10 s)
	MaxAttempts int           // a call is given up after this many (default 10)
	RetryBase   time.Duration // the first retry's wait, doubling up to an hour (default 10 s)
	// AllowPrivate lets webhooks reach loopback and private addresses
	// (tests, a LAN-only operator); off, the control plane never calls into
	// its own network on a user's say-so.
	AllowPrivate bool
}

// Notifier watches devices and calls webhooks. Run Serve.
type Notifier struct {
	Store       *store.Store
	Hub         *hub.Hub
	VerifyEvery time.Duration
	Log         *slog.Logger
	Now         func() time.Time
	Config      Config
	client      *http.Client
}

// New returns a Notifier.
func New(st *store.Store, h *hub.Hub, verifyEvery time.Duration, cfg Config, log *slog.Logger) *Notifier {
	if cfg.Every <= 0 {
		cfg.Every = 10 * time.Second
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 10
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = 10 * time.Second
	}
	n := &Notifier{Store: st, Hub: h, VerifyEvery: verifyEvery, Log: log, Now: time.Now, Config: cfg}
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	if !cfg.AllowPrivate {
		dialer.Control = refusePrivate
	}
	n.client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: dialer.DialContext, Proxy: nil},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return n
}

// refusePrivate stops a dial to loopback, private, link-local or
// unspecified addresses, whatever name led there.
func refusePrivate(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip := net.ParseIP(host)
	if ip == nil || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsUnspecified() || ip.IsMulticast() {
		return fmt.Errorf("webhook address %s is not on the public internet", host)
	}
	return nil
}

// CheckURL says whether u can be a webhook.
func CheckURL(u string) error {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" || p.User != nil || len(u) > 500 {
		return problem.Invalid("bad_webhook_url", "the webhook must be an http(s) URL of at most 500 characters without a password, like https://hooks.example.com/idlegrid")
	}
	return nil
}

// NewSecret makes a webhook signing secret.
func NewSecret() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return b
}

// Sign is the X-Idlegrid-Signature of body under secret.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Serve looks at devices and delivers calls until ctx ends.
func (n *Notifier) Serve(ctx context.Context) error {
	t := time.NewTicker(n.Config.Every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := n.Check(ctx); err != nil && ctx.Err() == nil {
			n.Log.Error("checking devices for alerts", "err", err)
		}
		if err := n.Deliver(ctx); err != nil && ctx.Err() == nil {
			n.Log.Error("delivering webhooks", "err", err)
		}
	}
}

// Check raises and clears alerts of watched devices.
func (n *Notifier) Check(ctx context.Context) error {
	devs, err := store.WatchedDevices(ctx, n.Store.Reader())
	if err != nil {
		return err
	}
	now := n.Now()
	var errs []error
	for _, d := range devs {
		seen := d.LastSeenAt
		if live, ok := n.Hub.Live(d.ID); ok {
			seen = live.LastSeen
		}
		offline := !seen.IsZero() && n.Hub.Config().State(seen, now) == hub.StateOffline
		v, err := store.DeviceVerification(ctx, n.Store.Reader(), d.ID)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		_, status, reason := verify.Status(v, now, n.VerifyEvery)
		for _, c := range []struct {
			kind string
			on   bool
			msg  string
		}{
			{KindRigOffline, offline, fmt.Sprintf("%s has not been heard from since %s", d.Name, seen.UTC().Format(time.RFC3339))},
			{KindVerificationFailed, status == verify.StatusFailed, fmt.Sprintf("%s failed its compute check: %s", d.Name, reason)},
		} {
			if err := n.update(ctx, d, c.kind, c.on, c.msg, now); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// update raises or clears one alert, queueing its call in the same
// transaction.
func (n *Notifier) update(ctx context.Context, d store.Device, kind string, on bool, msg string, now time.Time) error {
	open, err := store.OpenAlert(ctx, n.Store.Reader(), d.ID, kind)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	isOpen := err == nil
	if on == isOpen {
		return nil
	}
	ev := Event{Event: "alert_raised", Kind: kind, DeviceID: d.ID, Device: d.Name, Message: msg, At: now.UTC()}
	if !on {
		ev.Event, ev.Message = "alert_cleared", d.Name+": "+map[string]string{KindRigOffline: "back online", KindVerificationFailed: "verified again"}[kind]
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	return n.Store.Write(ctx, func(tx *sql.Tx) error {
		if on {
			if err := store.RaiseAlert(ctx, tx, d.ID, d.UserID, kind, msg, now); err != nil {
				return err
			}
		} else if err := store.ClearAlert(ctx, tx, open, now); err != nil {
			return err
		}
		return store.QueueDelivery(ctx, tx, d.UserID, string(body), now)
	})
}

// Deliver makes the calls that are due.
func (n *Notifier) Deliver(ctx context.Context) error {
	due, err := store.DueDeliveries(ctx, n.Store.Reader(), n.Now(), 100)
	if err != nil {
		return err
	}
	var errs []error
	for _, d := range due {
		if err := n.deliver(ctx, d); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (n *Notifier) deliver(ctx context.Context, d store.Delivery) error {
	w, err := store.WebhookOf(ctx, n.Store.Reader(), d.UserID)
	now := n.Now()
	if errors.Is(err, store.ErrNotFound) { // the webhook was removed: nobody to tell
		return n.Store.Write(ctx, func(tx *sql.Tx) error {
			return store.MarkDelivery(ctx, tx, d.ID, now, false, now, true, "the webhook was removed")
		})
	}
	if err != nil {
		return err
	}
	callErr := n.call(ctx, w, d.Event)
	attempt := d.Attempts + 1
	backoff := min(time.Duration(1<<min(attempt-1, 12))*n.Config.RetryBase, time.Hour)
	errText := ""
	if callErr != nil {
		errText = callErr.Error()
		n.Log.Warn("webhook call failed", "user", d.UserID, "attempt", attempt, "err", callErr)
	}
	return n.Store.Write(ctx, func(tx *sql.Tx) error {
		return store.MarkDelivery(ctx, tx, d.ID, now, callErr == nil, now.Add(backoff), callErr != nil && attempt >= n.Config.MaxAttempts, errText)
	})
}

func (n *Notifier) call(ctx context.Context, w store.Webhook, event string) error {
	var ev Event
	_ = json.Unmarshal([]byte(event), &ev)
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodPost, w.URL, bytes.NewReader([]byte(event)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "idlegrid-webhook/1")
	req.Header.Set("X-Idlegrid-Event", ev.Event)
	req.Header.Set("X-Idlegrid-Signature", Sign(w.Secret, []byte(event)))
	resp, err := n.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("the webhook answered %s", resp.Status)
	}
	return nil
}
