package notify_test

import (
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idlegrid/idlegrid/controlplane/notify"
	"github.com/idlegrid/idlegrid/controlplane/servertest"
	"github.com/idlegrid/idlegrid/controlplane/store"
)

type call struct {
	ev        notify.Event
	signature string
	body      []byte
}

// receiver is a webhook endpoint that refuses its first call.
type receiver struct {
	mu    sync.Mutex
	calls []call
	tries int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.tries++
	if rc.tries == 1 {
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	var ev notify.Event
	_ = json.Unmarshal(b, &ev)
	rc.calls = append(rc.calls, call{ev: ev, signature: r.Header.Get("X-Idlegrid-Signature"), body: b})
}

func (rc *receiver) got() []call {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]call(nil), rc.calls...)
}

// A rig that stops is reported once to the owner's webhook (after one
// refused call, retried), signed; when it comes back, that is reported too.
func TestRigOfflineAndBackReachTheWebhook(t *testing.T) {
	srv := servertest.Start(t, nil)
	owner := srv.SignUp("farm@example.com")
	rc := &receiver{}
	hook := httptest.NewServer(rc)
	defer hook.Close()
	var set struct{ URL, Secret string }
	if st := owner.Do("PUT", "/api/v1/me/webhook", map[string]string{"url": hook.URL + "/idlegrid"}, &set); st != http.StatusOK || len(set.Secret) != 64 {
		t.Fatalf("set webhook: %d %+v", st, set)
	}
	secret, _ := hex.DecodeString(set.Secret)
	a := srv.NewAgent("rig-07", "RTX 4090")
	if err := a.Pair(t.Context(), owner.PairingCode()); err != nil {
		t.Fatal(err)
	}
	stop, _ := servertest.RunAgent(t, a)
	servertest.Eventually(t, 10*time.Second, "the rig online", func() bool { ds := owner.Devices(); return len(ds) == 1 && ds[0].State == "online" })
	stop()
	servertest.Eventually(t, 15*time.Second, "an offline alert delivered", func() bool { return len(rc.got()) >= 1 })
	first := rc.got()[0]
	if first.ev.Event != "alert_raised" || first.ev.Kind != notify.KindRigOffline || first.ev.Device != "rig-07" || first.signature != notify.Sign(secret, first.body) {
		t.Fatalf("first call: %+v signature %q", first.ev, first.signature)
	}
	servertest.RunAgent(t, a)
	servertest.Eventually(t, 15*time.Second, "the all-clear delivered", func() bool { return len(rc.got()) >= 2 })
	if c := rc.got()[1]; c.ev.Event != "alert_cleared" || c.ev.Kind != notify.KindRigOffline || !strings.Contains(c.ev.Message, "back online") {
		t.Fatalf("second call: %+v", c.ev)
	}
	var view struct {
		Deliveries []struct {
			Attempts    int        `json:"attempts"`
			DeliveredAt *time.Time `json:"delivered_at"`
		} `json:"deliveries"`
	}
	if st := owner.Do("GET", "/api/v1/me/webhook", nil, &view); st != http.StatusOK || len(view.Deliveries) != 2 {
		t.Fatalf("deliveries: %d %+v", st, view)
	}
	if d := view.Deliveries[1]; d.Attempts != 2 || d.DeliveredAt == nil { // the oldest, refused once
		t.Fatalf("the first delivery: %+v", d)
	}
	if len(rc.got()) != 2 {
		t.Fatalf("%d calls for one outage, want 2", len(rc.got()))
	}
}

// Without --webhook-allow-private a user's webhook cannot make the
// control plane call into its own network, and bad URLs are refused.
func TestWebhooksStayOnThePublicInternet(t *testing.T) {
	cfg := servertest.FastConfig(t.TempDir())
	cfg.Notify.Every = time.Hour // only this test's notifier delivers
	srv := servertest.Start(t, &cfg)
	owner := srv.SignUp("farm@example.com")
	for _, bad := range []string{"ftp://x", "not a url", "https://user:pw@hooks.example.com/", "https://"} {
		if st := owner.Do("PUT", "/api/v1/me/webhook", map[string]string{"url": bad}, nil); st != http.StatusBadRequest {
			t.Errorf("webhook %q: %d, want 400", bad, st)
		}
	}
	rc := &receiver{tries: 1} // would accept at once
	hook := httptest.NewServer(rc)
	defer hook.Close()
	if st := owner.Do("PUT", "/api/v1/me/webhook", map[string]string{"url": hook.URL}, nil); st != http.StatusOK {
		t.Fatalf("set: %d", st)
	}
	u, _ := store.UserByEmail(t.Context(), srv.Srv.Store.Reader(), "farm@example.com")
	n := notify.New(srv.Srv.Store, srv.Srv.Hub, time.Hour, notify.Config{}, slog.New(slog.DiscardHandler))
	if err := srv.Srv.Store.Write(t.Context(), func(tx *sql.Tx) error {
		return store.QueueDelivery(t.Context(), tx, u.ID, `{"event":"test"}`, time.Now())
	}); err != nil {
		t.Fatal(err)
	}
	_ = n.Deliver(t.Context())
	ds, _ := store.DeliveriesOf(t.Context(), srv.Srv.Store.Reader(), u.ID, 5)
	if len(rc.got()) != 0 || len(ds) == 0 || !strings.Contains(ds[0].LastError, "not on the public internet") {
		t.Fatalf("a loopback webhook was called, or the refusal was not recorded: %d calls, %+v", len(rc.got()), ds)
	}
}
