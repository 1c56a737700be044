package tunnel

import (
	"context"
	"net/http"

	"github.com/gorilla/websocket"

	sharedtunnel "github.com/idlegrid/idlegrid/shared/tunnel"
	"github.com/idlegrid/idlegrid/shared/wsconn"
)

// ServeStream relays one raw connection for the CLI's forward: it opens a
// stream to the head's logical port, then upgrades the request to a
// websocket and pipes the two until either side ends. The stream is opened
// first so that a failure is still an HTTP answer (502, code
// tunnel_unavailable) the CLI can show. The caller has already checked
// that the requester owns clusterID.
func (r *Registry) ServeStream(w http.ResponseWriter, req *http.Request, clusterID, port string) {
	if !websocket.IsWebSocketUpgrade(req) {
		writeError(w, http.StatusBadRequest, "not_websocket", "this endpoint carries a websocket; use the CLI's forward command")
		return
	}
	conn, t, err := r.dial(req.Context(), clusterID, port)
	if err != nil {
		writeUnavailable(w, err.Error())
		return
	}
	ws, err := r.upgrader.Upgrade(w, req, nil)
	if err != nil {
		conn.Close()
		return // the upgrader answered with an HTTP error
	}
	client := wsconn.New(ws)
	// A tunnel that ends mid-stream must end the requester's side too,
	// even if the requester sends nothing more.
	stop := context.AfterFunc(t.ctx, func() {
		client.Close()
		conn.Close()
	})
	defer stop()
	if err := sharedtunnel.Pipe(client, conn); err != nil {
		r.log.Debug("stream ended", keyCluster, clusterID, keyPort, port, keyErr, err)
	}
}
