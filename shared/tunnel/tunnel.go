// Package tunnel carries TCP streams between a requester and the head node
// of their Ray cluster, through the control plane, without the supplier's
// machine ever opening a port.
//
// The head's agent dials out to the control plane with a websocket (Serve,
// kept up by Keep) and runs the server half of a yamux session over it; the
// control plane opens one yamux stream per connection it relays. Each
// stream starts with one JSON line naming a logical port, {"port":"dashboard"},
// and the agent answers {"ok":true} or {"error":"…"} before the bytes flow.
// The CLI side is Forward (a local listener) over DialWebsocket.
//
// Security rule: the control plane names only logical ports, never a host
// or a port number. The agent dials only what its resolve function maps such
// a name to, the addresses its runtime reports for this cluster, so a
// compromised or buggy control plane cannot aim a head node at its local
// network. Who may use a cluster's tunnel is decided by the control plane
// before a stream is opened: Ray's dashboard and Jobs API have no auth of
// their own.
package tunnel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/hashicorp/yamux"
)

// Request is the line that opens every stream: which of the head node's
// logical ports ("dashboard", "client") to connect to.
type Request struct {
	Port string `json:"port"`
}

// Reply is the agent's answer line: OK, or Error in words for the requester.
type Reply struct {
	OK    bool   `json:"ok,omitempty"`
	Error string `json:"error,omitempty"`
}

// RefusedError is the head's agent declining a stream; Reason is its own
// words (an unknown port, a port not answering yet).
type RefusedError struct {
	Port   string
	Reason string
}

func (e *RefusedError) Error() string { return e.Reason }

const (
	// maxLine bounds a header or reply line.
	maxLine = 4 << 10
	// replyTimeout bounds the wait for the agent's reply; it covers the
	// agent's own dialTimeout.
	replyTimeout = 20 * time.Second
	// headerTimeout bounds the agent's wait for a new stream's header.
	headerTimeout = 10 * time.Second
	// dialTimeout bounds the agent's dial to the head's local port.
	dialTimeout = 10 * time.Second
	// streamWindow is how much one stream may have in flight. yamux's 256 KiB
	// default caps a stream at 2.5 MB/s on a 100 ms path; more costs memory
	// per slow reader on the control plane.
	streamWindow = 1 << 20
)

// Log attribute keys.
const (
	keyErr  = "err"
	keyPort = "port"
	keyURL  = "url"
)

// SessionConfig is the yamux configuration both ends use. Keepalive is on so
// either side notices a peer that vanished without closing the websocket.
func SessionConfig(log *slog.Logger) *yamux.Config {
	cfg := yamux.DefaultConfig()
	cfg.EnableKeepAlive = true
	cfg.MaxStreamWindowSize = streamWindow
	cfg.LogOutput = nil
	cfg.Logger = yamuxLog{orDiscard(log)}
	return cfg
}

// Open is the control plane's half of a stream: it opens a stream on sess,
// asks for port and waits for the agent's reply. A refusal is a
// *RefusedError. ctx bounds only the opening, not the stream's life.
func Open(ctx context.Context, sess *yamux.Session, port string) (net.Conn, error) {
	st, err := sess.OpenStream()
	if err != nil {
		return nil, fmt.Errorf("opening a stream: %w", err)
	}
	c := stream{st}
	deadline := time.Now().Add(replyTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = c.SetDeadline(deadline)
	interrupt := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Now()) })
	var rep Reply
	err = writeLine(c, Request{Port: port})
	if err == nil {
		err = readLine(c, &rep)
	}
	if !interrupt() {
		err = ctx.Err()
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("asking the head node for port %q: %w", port, err)
	}
	_ = c.SetDeadline(time.Time{})
	if !rep.OK {
		c.Close()
		if rep.Error == "" {
			rep.Error = fmt.Sprintf("the head node refused port %q without a reason", port)
		}
		return nil, &RefusedError{Port: port, Reason: rep.Error}
	}
	return c, nil
}

// stream gives a yamux stream the net.Conn meaning of Close. yamux's Close
// only sends FIN and leaves a blocked Read waiting for the peer's; here
// that half-close is CloseWrite, which Pipe uses, and Close also ends local
// reads.
type stream struct{ *yamux.Stream }

func (s stream) CloseWrite() error { return s.Stream.Close() }

func (s stream) Close() error {
	err := s.Stream.Close()
	_ = s.SetReadDeadline(time.Now())
	return err
}

// writeLine sends v as one JSON line.
func writeLine(c net.Conn, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = c.Write(append(b, '\n'))
	return err
}

// readLine reads one JSON line into v, a byte at a time so that nothing
// after the newline, the stream's payload, is consumed.
func readLine(c net.Conn, v any) error {
	var line []byte
	b := make([]byte, 1)
	for {
		if _, err := c.Read(b); err != nil {
			return fmt.Errorf("reading the header line: %w", err)
		}
		if b[0] == '\n' {
			break
		}
		if len(line) == maxLine {
			return errors.New("the header line is too long")
		}
		line = append(line, b[0])
	}
	if err := json.Unmarshal(line, v); err != nil {
		return fmt.Errorf("parsing the header line: %w", err)
	}
	return nil
}

func orDiscard(log *slog.Logger) *slog.Logger {
	if log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return log
}

// yamuxLog sends yamux's own messages to slog at debug level: they repeat
// what the session's errors already tell (a peer gone, a keepalive missed).
type yamuxLog struct{ log *slog.Logger }

func (l yamuxLog) Print(v ...any)                 { l.log.Debug("yamux: " + fmt.Sprint(v...)) }
func (l yamuxLog) Printf(format string, v ...any) { l.log.Debug("yamux: " + fmt.Sprintf(format, v...)) }
func (l yamuxLog) Println(v ...any)               { l.log.Debug("yamux: " + fmt.Sprint(v...)) }
