package proto

import (
	"errors"
	"fmt"
	"regexp"
)

// Cluster work on a device. The control plane tells an agent to start or
// stop its part of a cluster; the agent reports every runtime it runs as a
// whole snapshot, on change and with each heartbeat while any runs, so a
// restarted control plane learns the truth from the next report.
//
//	server → agent  runtime_start  {cluster, role, head address, resources, tunnel token}
//	server → agent  runtime_stop   {cluster, reason}
//	agent  → server runtime_status {every runtime on the device}
const (
	TypeRuntimeStart  = "runtime_start"
	TypeRuntimeStop   = "runtime_stop"
	TypeRuntimeStatus = "runtime_status"
)

// Runtime names.
const RuntimeRay = "ray"

// Roles of a node in a cluster.
const (
	RoleHead   = "head"
	RoleWorker = "worker"
)

// Runtime states an agent reports.
const (
	RuntimeStarting = "starting" // launched, not yet serving
	RuntimeRunning  = "running"  // serving; for a head, the dashboard answers
	RuntimeStopped  = "stopped"  // stopped on request
	RuntimeFailed   = "failed"   // exited by itself or could not start; Error says why
)

// RuntimeInfo is a runtime an agent can run, reported in Auth.
type RuntimeInfo struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// RuntimeStart asks the agent to run its part of a cluster. Starting a
// cluster the agent already runs is a no-op, so the control plane may repeat
// it after a restart.
type RuntimeStart struct {
	ClusterID string `json:"cluster_id"`
	Runtime   string `json:"runtime"`
	Role      string `json:"role"`
	// HeadAddress is the head's Ray address (host:port); workers only.
	HeadAddress string `json:"head_address,omitempty"`
	// NodeName labels the node inside the cluster (the device id), so the
	// head can say which devices have joined.
	NodeName string `json:"node_name"`
	GPUs     int    `json:"gpus"`
	GPUModel string `json:"gpu_model,omitempty"`
	// NumCPUs and ObjectStoreMiB bound what the node offers; 0 lets the
	// agent decide.
	NumCPUs        int `json:"num_cpus,omitempty"`
	ObjectStoreMiB int `json:"object_store_mib,omitempty"`
	// TunnelToken lets a head open the reverse tunnel for this cluster.
	TunnelToken string `json:"tunnel_token,omitempty"`
}

// RuntimeStop asks the agent to stop its part of a cluster, child
// processes and all.
type RuntimeStop struct {
	ClusterID string `json:"cluster_id"`
	Reason    string `json:"reason"`
}

// RuntimeState is one runtime on the device.
type RuntimeState struct {
	ClusterID string `json:"cluster_id"`
	Role      string `json:"role"`
	State     string `json:"state"`
	Error     string `json:"error,omitempty"`
	// Address is where other nodes reach this node's Ray (heads: the GCS
	// address host:port).
	Address string `json:"address,omitempty"`
	// Nodes, from a running head: the node names Ray counts alive.
	Nodes []string `json:"nodes,omitempty"`
}

// RuntimeStatus is the agent's snapshot of all its runtimes.
type RuntimeStatus struct {
	Runtimes []RuntimeState `json:"runtimes"`
}

const maxRuntimes = 8

var regionPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

// ValidRegion reports whether s is a region name ("" is: no region).
func ValidRegion(s string) bool { return s == "" || regionPattern.MatchString(s) }

var idPattern = regexp.MustCompile(`^[a-z]{2,4}_[a-z0-9]{8,64}$`)

func validID(what, s string) error {
	if !idPattern.MatchString(s) {
		return fmt.Errorf("%s %q is not an id", what, truncate(s, 32))
	}
	return nil
}

func (m *RuntimeStart) validate() error {
	if err := validID("cluster_id", m.ClusterID); err != nil {
		return err
	}
	switch {
	case m.Runtime != RuntimeRay:
		return fmt.Errorf("unknown runtime %q", truncate(m.Runtime, 32))
	case m.Role != RoleHead && m.Role != RoleWorker:
		return fmt.Errorf("unknown role %q", truncate(m.Role, 32))
	case m.Role == RoleWorker && m.HeadAddress == "":
		return errors.New("a worker needs head_address")
	case len(m.HeadAddress) > maxNameLen || len(m.NodeName) > 64 || m.NodeName == "" || len(m.GPUModel) > maxNameLen || len(m.TunnelToken) > maxNameLen:
		return errors.New("head_address, node_name, gpu_model or tunnel_token has a bad length")
	case m.GPUs < 0 || m.GPUs > MaxGPUs || m.NumCPUs < 0 || m.NumCPUs > 1024 || m.ObjectStoreMiB < 0 || m.ObjectStoreMiB > 1<<20:
		return errors.New("gpus, num_cpus or object_store_mib out of range")
	}
	return nil
}

func (m *RuntimeStop) validate() error {
	if err := validID("cluster_id", m.ClusterID); err != nil {
		return err
	}
	if len(m.Reason) > maxFieldLen {
		return fmt.Errorf("reason over %d characters", maxFieldLen)
	}
	return nil
}

func (m *RuntimeStatus) validate() error {
	if len(m.Runtimes) > maxRuntimes {
		return fmt.Errorf("%d runtimes is over the limit of %d", len(m.Runtimes), maxRuntimes)
	}
	for _, r := range m.Runtimes {
		if err := validID("cluster_id", r.ClusterID); err != nil {
			return err
		}
		switch r.State {
		case RuntimeStarting, RuntimeRunning, RuntimeStopped, RuntimeFailed:
		default:
			return fmt.Errorf("unknown runtime state %q", truncate(r.State, 32))
		}
		if r.Role != RoleHead && r.Role != RoleWorker {
			return fmt.Errorf("unknown role %q", truncate(r.Role, 32))
		}
		if len(r.Error) > 1024 || len(r.Address) > maxNameLen || len(r.Nodes) > 256 {
			return errors.New("error, address or nodes too long")
		}
		for _, n := range r.Nodes {
			if len(n) > 64 {
				return errors.New("node name over 64 characters")
			}
		}
	}
	return nil
}
