package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// stream serves server-sent events: snapshot is taken every `every` and
// sent as an "update" event whenever it changed, until the page goes away.
// A comment every 15 s keeps proxies from closing an idle stream.
func (c *Console) stream(w http.ResponseWriter, r *http.Request, every time.Duration, snapshot func(ctx context.Context) (any, error)) error {
	fl, ok := w.(http.Flusher)
	if !ok {
		return fmt.Errorf("streaming is not supported by this connection")
	}
	// Take the first snapshot before answering, so a failure is still an
	// HTTP error.
	first, err := snapshot(r.Context())
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	var last []byte
	send := func(v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		if bytes.Equal(b, last) {
			return nil
		}
		last = b
		if _, err := fmt.Fprintf(w, "event: update\ndata: %s\n\n", b); err != nil {
			return err
		}
		fl.Flush()
		return nil
	}
	if err := send(first); err != nil {
		return nil // the page went away
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	ping := time.NewTicker(15 * time.Second)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-ping.C:
			if _, err := fmt.Fprint(w, ": ping\n\n"); err != nil {
				return nil
			}
			fl.Flush()
		case <-tick.C:
			v, err := snapshot(r.Context())
			if err != nil {
				if r.Context().Err() == nil {
					c.log.Warn("live update failed", "path", r.URL.Path, "err", err)
				}
				continue
			}
			if send(v) != nil {
				return nil
			}
		}
	}
}
