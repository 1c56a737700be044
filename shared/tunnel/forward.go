package tunnel

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
)

// Forward serves the CLI's local end: for each connection accepted on ln it
// opens a remote one with open (typically DialWebsocket to the control
// plane's stream endpoint) and pipes the two. It closes ln and every
// connection when ctx ends, and returns nil then.
func Forward(ctx context.Context, ln net.Listener, open func(ctx context.Context) (net.Conn, error), log *slog.Logger) error {
	log = orDiscard(log)
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var conns sync.WaitGroup
	defer conns.Wait()
	for {
		local, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("accepting local connections: %w", err)
		}
		conns.Go(func() { forward(ctx, local, open, log) })
	}
}

func forward(ctx context.Context, local net.Conn, open func(context.Context) (net.Conn, error), log *slog.Logger) {
	defer local.Close()
	remote, err := open(ctx)
	if err != nil {
		if ctx.Err() == nil {
			log.Warn("opening the tunnel for a local connection", keyErr, err)
		}
		return
	}
	stop := context.AfterFunc(ctx, func() {
		local.Close()
		remote.Close()
	})
	defer stop()
	if err := Pipe(local, remote); err != nil {
		log.Debug("forwarded connection ended", keyErr, err)
	}
}
