package wsconn_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/idlegrid/idlegrid/shared/tunnel/tunneltest"
	"github.com/idlegrid/idlegrid/shared/wsconn"
)

type closeWriter interface{ CloseWrite() error }

// pair returns both ends of a real websocket over loopback, each wrapped.
func pair(t testing.TB) (client, server net.Conn) {
	t.Helper()
	accepted := make(chan net.Conn, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		accepted <- wsconn.New(ws)
	}))
	t.Cleanup(srv.Close)
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatalf("dialing: %v", err)
	}
	client = wsconn.New(ws)
	server = <-accepted
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// echo copies c back to itself until EOF, then half-closes.
func echo(c net.Conn) {
	_, _ = io.Copy(c, c)
	_ = c.(closeWriter).CloseWrite()
}

func TestEchoJoinsMessagesAndPassesHalfClose(t *testing.T) {
	tunneltest.NoLeaks(t)
	client, server := pair(t)
	go echo(server)
	for _, part := range []string{"hel", "lo, ", "", "websocket"} {
		if _, err := client.Write([]byte(part)); err != nil {
			t.Fatalf("Write(%q): %v", part, err)
		}
	}
	if err := client.(closeWriter).CloseWrite(); err != nil {
		t.Fatalf("CloseWrite: %v", err)
	}
	got, err := io.ReadAll(client)
	if err != nil {
		t.Fatalf("reading the echo: %v", err)
	}
	if string(got) != "hello, websocket" {
		t.Fatalf("echo = %q", got)
	}
	if _, err := client.Write([]byte("late")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write after CloseWrite = %v, want net.ErrClosed", err)
	}
	if client.LocalAddr().String() != server.RemoteAddr().String() || client.RemoteAddr().String() != server.LocalAddr().String() {
		t.Fatalf("addresses do not match: client %v→%v, server %v→%v",
			client.LocalAddr(), client.RemoteAddr(), server.LocalAddr(), server.RemoteAddr())
	}
}

func TestLargeWriteArrivesWhole(t *testing.T) {
	tunneltest.NoLeaks(t)
	client, server := pair(t)
	go echo(server)
	want := make([]byte, 4<<20)
	rand.Read(want)
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(client)
		got <- b
	}()
	if _, err := client.Write(want); err != nil {
		t.Fatalf("Write: %v", err)
	}
	_ = client.(closeWriter).CloseWrite()
	if b := <-got; !bytes.Equal(b, want) {
		t.Fatalf("echo of %d bytes came back as %d different bytes", len(want), len(b))
	}
}

func TestConcurrentWritesStayWhole(t *testing.T) {
	tunneltest.NoLeaks(t)
	client, server := pair(t)
	const writers, records, size = 8, 50, 1000
	var wg sync.WaitGroup
	for id := range writers {
		wg.Go(func() {
			rec := bytes.Repeat([]byte{byte('a' + id)}, size)
			for range records {
				if _, err := client.Write(rec); err != nil {
					t.Errorf("writer %d: %v", id, err)
					return
				}
			}
		})
	}
	go func() {
		wg.Wait()
		_ = client.(closeWriter).CloseWrite()
	}()
	data, err := io.ReadAll(server)
	if err != nil {
		t.Fatalf("reading: %v", err)
	}
	if len(data) != writers*records*size {
		t.Fatalf("read %d bytes, want %d", len(data), writers*records*size)
	}
	counts := map[byte]int{}
	for off := 0; off < len(data); off += size {
		rec := data[off : off+size]
		if !bytes.Equal(rec, bytes.Repeat(rec[:1], size)) {
			t.Fatalf("record at %d mixes writers: %q…", off, rec[:40])
		}
		counts[rec[0]]++
	}
	for id := range writers {
		if n := counts[byte('a'+id)]; n != records {
			t.Errorf("writer %d: %d records arrived, want %d", id, n, records)
		}
	}
}

func TestDeadlinesTimeOut(t *testing.T) {
	tunneltest.NoLeaks(t)
	client, _ := pair(t)
	if err := client.SetReadDeadline(time.Now().Add(20 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	_, err := client.Read(make([]byte, 1))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read past the deadline = %v, want a timeout", err)
	}
	if err := client.SetWriteDeadline(time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Write([]byte("x")); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Write past the deadline = %v, want a timeout", err)
	}
}

func TestCloseReadsAsEOFButADropIsAnError(t *testing.T) {
	tunneltest.NoLeaks(t)
	t.Run("close", func(t *testing.T) {
		client, server := pair(t)
		if _, err := server.Write([]byte("last words")); err != nil {
			t.Fatal(err)
		}
		if err := server.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		got, err := io.ReadAll(client)
		if err != nil || string(got) != "last words" {
			t.Fatalf("after the peer's Close read %q, %v; want the last words and EOF", got, err)
		}
		if _, err := server.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Read after Close = %v, want net.ErrClosed", err)
		}
	})
	t.Run("drop", func(t *testing.T) {
		accepted := make(chan *websocket.Conn, 1)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ws, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
			if err == nil {
				accepted <- ws
			}
		}))
		defer srv.Close()
		ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
		if err != nil {
			t.Fatal(err)
		}
		client := wsconn.New(ws)
		defer client.Close()
		(<-accepted).NetConn().Close() // no close frame
		if _, err := client.Read(make([]byte, 1)); err == nil || errors.Is(err, io.EOF) {
			t.Fatalf("Read after a dropped link = %v, want an error other than EOF", err)
		}
	})
}
