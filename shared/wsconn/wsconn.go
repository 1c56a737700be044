// Package wsconn adapts a gorilla websocket to a net.Conn, so stream code
// (yamux sessions, io.Copy pipes) can run over the one kind of link that
// crosses NAT and HTTP proxies: an outbound websocket.
//
// Bytes travel as binary messages; Read joins them into one stream and
// Write sends each call as one message. CloseWrite sends a close frame, which
// the peer reads as io.EOF while it may still send, so a half-close passes
// through like TCP's FIN.
package wsconn

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// closeGrace bounds how long Close and CloseWrite wait to send the close
// frame to a peer that has stopped reading.
const closeGrace = time.Second

// conn is a websocket seen as a net.Conn.
type conn struct {
	ws *websocket.Conn

	rmu  sync.Mutex
	r    io.Reader // the message being read; nil between messages
	rerr error     // sticky: gorilla must not be read again after an error

	wmu     sync.Mutex
	wclosed bool // a close frame went out: no data may follow

	closeOnce sync.Once
	closed    chan struct{}
}

// New wraps ws; the result owns ws from then on. Read and Write may run
// concurrently, and so may several writers. The result also has
// CloseWrite() error, the half-close. As in gorilla/websocket, a read or
// write that times out leaves the websocket broken: later calls in that
// direction fail too.
func New(ws *websocket.Conn) net.Conn {
	c := &conn{ws: ws, closed: make(chan struct{})}
	// The default handler answers a close frame at once, which would end our
	// own sending too; a close frame means only "no more from me" here, and
	// our answer goes out when we CloseWrite or Close.
	ws.SetCloseHandler(func(int, string) error { return nil })
	return c
}

// Read reads across message boundaries. A close frame with a normal or
// going-away code reads as io.EOF; a link that drops without one is an
// error.
func (c *conn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for {
		if c.rerr != nil {
			return 0, c.rerr
		}
		if c.r == nil {
			_, r, err := c.ws.NextReader()
			if err != nil {
				c.rerr = c.readError(err)
				return 0, c.rerr
			}
			c.r = r
		}
		n, err := c.r.Read(p)
		if errors.Is(err, io.EOF) {
			c.r = nil // this message is done; the next may follow
			err = nil
		}
		if err != nil {
			c.rerr = c.readError(err)
		}
		if n > 0 || err != nil {
			return n, err
		}
	}
}

func (c *conn) readError(err error) error {
	select {
	case <-c.closed:
		return net.ErrClosed
	default:
	}
	if websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway) {
		return io.EOF
	}
	return deadlineError(err)
}

// deadlineError restores what net.Conn promises for a timeout: gorilla hides
// os.ErrDeadlineExceeded behind its own error type.
func deadlineError(err error) error {
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return fmt.Errorf("websocket: %w", os.ErrDeadlineExceeded)
	}
	return err
}

// Write sends p as one binary message.
func (c *conn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.wclosed {
		return 0, fmt.Errorf("writing to a websocket after its close frame: %w", net.ErrClosed)
	}
	if err := c.ws.WriteMessage(websocket.BinaryMessage, p); err != nil {
		return 0, deadlineError(err)
	}
	return len(p), nil
}

// CloseWrite sends a close frame: the peer reads io.EOF, and this side may
// still read what the peer sends until it closes in turn.
func (c *conn) CloseWrite() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.sendClose()
}

// sendClose sends the close frame once. The caller holds wmu, or is Close,
// which must not wait behind a writer stuck on a dead peer.
func (c *conn) sendClose() error {
	if c.wclosed {
		return nil
	}
	c.wclosed = true
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
	return c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(closeGrace))
}

// Close sends a close frame if none went out yet and closes the link.
func (c *conn) Close() error {
	var err error
	c.closeOnce.Do(func() {
		close(c.closed)
		// Best effort, and without wmu: WriteControl is safe beside a
		// writer and gives up after closeGrace.
		if c.wmu.TryLock() {
			_ = c.sendClose()
			c.wmu.Unlock()
		} else {
			_ = c.ws.WriteControl(websocket.CloseMessage,
				websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(closeGrace))
		}
		err = c.ws.Close()
	})
	return err
}

// LocalAddr is the local address of the underlying connection.
func (c *conn) LocalAddr() net.Addr { return c.ws.LocalAddr() }

// RemoteAddr is the remote address of the underlying connection.
func (c *conn) RemoteAddr() net.Addr { return c.ws.RemoteAddr() }

// SetDeadline sets both deadlines.
func (c *conn) SetDeadline(t time.Time) error {
	if err := c.ws.SetReadDeadline(t); err != nil {
		return err
	}
	return c.ws.SetWriteDeadline(t)
}

// SetReadDeadline bounds reads; one that times out breaks reading for good.
func (c *conn) SetReadDeadline(t time.Time) error { return c.ws.SetReadDeadline(t) }

// SetWriteDeadline bounds writes; one that times out breaks writing for good.
func (c *conn) SetWriteDeadline(t time.Time) error { return c.ws.SetWriteDeadline(t) }
