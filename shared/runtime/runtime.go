package runtime

import (
	"context"
	"errors"

	"github.com/idlegrid/idlegrid/shared/proto"
)

// Runtime runs this device's part of clusters.
type Runtime interface {
	// Name is the runtime's name on the wire, such as proto.RuntimeRay.
	Name() string
	// Detect says whether the runtime is installed and its version; when
	// it is not, the error says how to install it.
	Detect(ctx context.Context) (proto.RuntimeInfo, error)
	// Start launches this device's node of a cluster and returns without
	// waiting for it to serve. Starting a cluster that is starting or
	// running is a no-op; a bad spec is an error.
	Start(ctx context.Context, s proto.RuntimeStart) error
	// Stop stops a cluster's node and everything it started, and waits
	// until they are gone. Stopping an unknown or finished cluster is a
	// no-op.
	Stop(ctx context.Context, clusterID, reason string) error
	// States is a snapshot of every cluster the runtime knows, stopped and
	// failed ones included until Forget.
	States() []proto.RuntimeState
	// Forget drops a stopped or failed cluster.
	Forget(clusterID string)
	// Changed receives whenever any state changes.
	Changed() <-chan struct{}
	// Ports maps logical port names (PortDashboard, PortClient, PortGCS) to
	// the host:port to dial locally, for a running head; nil otherwise.
	Ports(clusterID string) map[string]string
	// Close stops every cluster.
	Close(ctx context.Context) error
}

// Logical ports of a head, the only ones the reverse tunnel dials.
const (
	PortDashboard = "dashboard" // Ray dashboard and Jobs API (HTTP)
	PortClient    = "client"    // Ray client server (gRPC)
	PortGCS       = "gcs"       // Ray GCS, the address workers join
)

// ErrClosed is returned by Start after Close.
var ErrClosed = errors.New("runtime closed")

// Attribute keys of log records.
const (
	keyCluster = "cluster"
	keyRole    = "role"
	keyPID     = "pid"
	keyDir     = "dir"
	keyReason  = "reason"
	keyErr     = "err"
	keyNodes   = "nodes"
	keyAddress = "address"
)
