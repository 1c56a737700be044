package tunnel

import (
	"io"
	"net"
)

type closeWriter interface{ CloseWrite() error }

// Pipe copies a to b and b to a until both directions are done, then closes
// both. The end of one direction is passed on as a half-close (CloseWrite)
// so the other keeps flowing, as a request/response over TCP needs; a conn
// without CloseWrite is closed instead. An error in either direction closes
// both at once. Pipe returns the error that ended the first direction to
// fail, nil if both ended cleanly.
func Pipe(a, b net.Conn) error {
	errc := make(chan error, 2)
	go func() { errc <- relay(b, a) }()
	go func() { errc <- relay(a, b) }()
	first := <-errc
	if first != nil {
		a.Close()
		b.Close()
	}
	second := <-errc
	a.Close()
	b.Close()
	if first != nil {
		return first
	}
	return second
}

// relay copies src to dst and passes src's end on to dst.
func relay(dst, src net.Conn) error {
	if _, err := io.Copy(dst, src); err != nil {
		return err
	}
	if cw, ok := dst.(closeWriter); ok {
		return cw.CloseWrite()
	}
	return dst.Close()
}
