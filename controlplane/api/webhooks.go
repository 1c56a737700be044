package api

import (
	"database/sql"
	"encoding/hex"
	"errors"
	"net/http"
	"time"

	"github.com/idlegrid/idlegrid/controlplane/notify"
	"github.com/idlegrid/idlegrid/controlplane/problem"
	"github.com/idlegrid/idlegrid/controlplane/store"
)

// WebhookJSON is an account's webhook; Secret only in the answer that set it.
type WebhookJSON struct {
	URL        string         `json:"url"`
	CreatedAt  time.Time      `json:"created_at"`
	Secret     string         `json:"secret,omitempty"`
	Deliveries []DeliveryJSON `json:"deliveries,omitempty"`
}

// DeliveryJSON is one webhook call.
type DeliveryJSON struct {
	Event       string     `json:"event"` // the body sent
	CreatedAt   time.Time  `json:"created_at"`
	Attempts    int        `json:"attempts"`
	DeliveredAt *time.Time `json:"delivered_at,omitempty"`
	FailedAt    *time.Time `json:"failed_at,omitempty"`
	LastError   string     `json:"last_error,omitempty"`
}

func (s *Server) setWebhook(w http.ResponseWriter, r *http.Request) error {
	var b struct {
		URL string `json:"url"`
	}
	if err := decode(r, &b); err != nil {
		return err
	}
	if err := notify.CheckURL(b.URL); err != nil {
		return err
	}
	hook := store.Webhook{UserID: UserFrom(r.Context()).ID, URL: b.URL, Secret: notify.NewSecret(), CreatedAt: s.Now()}
	if err := s.Store.Write(r.Context(), func(tx *sql.Tx) error { return store.SetWebhook(r.Context(), tx, hook) }); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, WebhookJSON{URL: hook.URL, CreatedAt: hook.CreatedAt.UTC(), Secret: hex.EncodeToString(hook.Secret)})
	return nil
}

func (s *Server) getWebhook(w http.ResponseWriter, r *http.Request) error {
	u := UserFrom(r.Context())
	hook, err := store.WebhookOf(r.Context(), s.Store.Reader(), u.ID)
	if errors.Is(err, store.ErrNotFound) {
		return problem.New(problem.ErrNotFound, "no_webhook", "no webhook set: PUT /api/v1/me/webhook with {\"url\": …}")
	}
	if err != nil {
		return err
	}
	ds, err := store.DeliveriesOf(r.Context(), s.Store.Reader(), u.ID, 50)
	if err != nil {
		return err
	}
	out := WebhookJSON{URL: hook.URL, CreatedAt: hook.CreatedAt.UTC(), Deliveries: []DeliveryJSON{}}
	for _, d := range ds {
		out.Deliveries = append(out.Deliveries, DeliveryJSON{Event: d.Event, CreatedAt: d.CreatedAt.UTC(), Attempts: d.Attempts,
			DeliveredAt: timePtr(d.DeliveredAt), FailedAt: timePtr(d.FailedAt), LastError: d.LastError})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request) error {
	uid := UserFrom(r.Context()).ID
	err := s.Store.Write(r.Context(), func(tx *sql.Tx) error { return store.DeleteWebhook(r.Context(), tx, uid) })
	if errors.Is(err, store.ErrNotFound) {
		return problem.New(problem.ErrNotFound, "no_webhook", "no webhook set")
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
