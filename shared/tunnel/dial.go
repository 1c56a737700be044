package tunnel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/idlegrid/idlegrid/shared/wsconn"
)

// Dialer opens websockets; *websocket.Dialer is one.
type Dialer interface {
	DialContext(ctx context.Context, url string, header http.Header) (*websocket.Conn, *http.Response, error)
}

// defaultDialer honours HTTPS_PROXY and friends, as a NATed machine may need.
var defaultDialer = &websocket.Dialer{
	Proxy:            http.ProxyFromEnvironment,
	HandshakeTimeout: 15 * time.Second,
}

// HTTPError is a server refusing a websocket with an HTTP answer, carrying
// the message of the control plane's {"error":{"code","message"}} body.
type HTTPError struct {
	Status  int
	Code    string
	Message string
}

func (e *HTTPError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("the server answered %d %s", e.Status, http.StatusText(e.Status))
	}
	return fmt.Sprintf("the server answered %d %s: %s", e.Status, http.StatusText(e.Status), e.Message)
}

// DialWebsocket dials url (ws, wss, http or https) with header and returns
// the websocket as a net.Conn. An HTTP answer instead of a websocket is an
// *HTTPError.
func DialWebsocket(ctx context.Context, url string, header http.Header) (net.Conn, error) {
	ws, err := dial(ctx, defaultDialer, url, header)
	if err != nil {
		return nil, err
	}
	return wsconn.New(ws), nil
}

func dial(ctx context.Context, d Dialer, url string, header http.Header) (*websocket.Conn, error) {
	if d == nil {
		d = defaultDialer
	}
	ws, resp, err := d.DialContext(ctx, wsURL(url), header)
	if err == nil {
		return ws, nil
	}
	if resp != nil && errors.Is(err, websocket.ErrBadHandshake) {
		return nil, httpError(resp)
	}
	return nil, err
}

// httpError reads what gorilla kept of the body (its first KiB).
func httpError(resp *http.Response) *HTTPError {
	e := &HTTPError{Status: resp.StatusCode}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxLine))
	var problem struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &problem) == nil && problem.Error.Message != "" {
		e.Code, e.Message = problem.Error.Code, problem.Error.Message
	} else if text := strings.TrimSpace(string(body)); !strings.HasPrefix(text, "<") && len(text) <= 300 {
		e.Message = text // a plain-text answer, but not an HTML error page
	}
	return e
}

// wsURL lets callers pass the control plane's http(s) address.
func wsURL(url string) string {
	if rest, ok := strings.CutPrefix(url, "http://"); ok {
		return "ws://" + rest
	}
	if rest, ok := strings.CutPrefix(url, "https://"); ok {
		return "wss://" + rest
	}
	return url
}
