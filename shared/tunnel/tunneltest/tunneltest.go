// Package tunneltest holds test helpers for tunnel code on both sides: a
// loopback TCP echo, a round trip that ends with a half-close, polling with
// a deadline, and a check that no tunnel goroutine outlives a test.
package tunneltest

import (
	"crypto/rand"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// EchoServer listens on loopback and echoes every connection, passing the
// client's half-close back once all is echoed. It stops at cleanup.
func EchoServer(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listening: %v", err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
				_ = c.(*net.TCPConn).CloseWrite()
				_, _ = io.Copy(io.Discard, c)
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return ln.Addr().String()
}

// RoundTrip writes data to c, half-closes it and returns all that comes
// back until EOF.
func RoundTrip(t testing.TB, c net.Conn, data []byte) []byte {
	t.Helper()
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(c)
		got <- b
	}()
	if _, err := c.Write(data); err != nil {
		t.Errorf("writing: %v", err)
	}
	cw, ok := c.(interface{ CloseWrite() error })
	if !ok {
		t.Fatalf("%T cannot half-close", c)
	}
	if err := cw.CloseWrite(); err != nil {
		t.Errorf("half-closing: %v", err)
	}
	return <-got
}

// RandomBytes returns n random bytes.
func RandomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// Eventually polls cond until it holds, failing t after 10 s.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	if !poll(cond) {
		t.Fatalf("timed out waiting until %s", what)
	}
}

func poll(cond func() bool) bool {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			return false
		}
	}
	return true
}

// leakMarks are frames that only tunnel goroutines run.
var leakMarks = []string{
	"idlegrid/shared/tunnel.",
	"idlegrid/shared/wsconn.",
	"hashicorp/yamux.",
	"gorilla/websocket.",
}

// NoLeaks fails t if, once the test and its cleanups are done, goroutines
// remain that run tunnel code or any frame containing one of marks. Call it
// first in a test so that its cleanup runs last.
func NoLeaks(t testing.TB, marks ...string) {
	t.Helper()
	marks = append(marks, leakMarks...)
	t.Cleanup(func() {
		var left []string
		if !poll(func() bool { left = leaked(marks); return len(left) == 0 }) {
			t.Errorf("goroutines left running:\n%s", strings.Join(left, "\n\n"))
		}
	})
}

func leaked(marks []string) []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var left []string
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		for _, m := range marks {
			if strings.Contains(g, m) {
				left = append(left, g)
				break
			}
		}
	}
	return left
}
