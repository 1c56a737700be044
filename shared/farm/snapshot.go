package farm

import (
	"slices"
	"strings"
	"time"

	"github.com/idlegrid/idlegrid/shared/agent"
	"github.com/idlegrid/idlegrid/shared/hw"
	"github.com/idlegrid/idlegrid/shared/proto"
)

// Snapshot is a rig's state at one moment, as the agent knows it. It is
// both what the exporter turns into metrics and, with the host name, what
// GET /status answers.
type Snapshot struct {
	DeviceID string `json:"device_id"`
	Version  string `json:"version"`
	// State is the agent's connection state (agent.Conn*: "online",
	// "reconnecting", ...); Connected is true when it is online.
	State     string `json:"state"`
	Connected bool   `json:"connected"`
	// LastError says in words why the agent is not connected, if it is not.
	LastError   string `json:"last_error,omitempty"`
	Paused      bool   `json:"paused"`
	PauseReason string `json:"pause_reason,omitempty"`

	// GPUs are the cards found at start-up; Samples the newest reading of
	// each card that answered, taken at SampledAt.
	GPUs      []hw.GPU       `json:"gpus"`
	Samples   []hw.GPUSample `json:"samples"`
	SampledAt time.Time      `json:"sampled_at,omitzero"`
	// GPUError says why the GPUs could not be read; GPULost is true when
	// the reason is a card that fell off the bus (hw.ErrGPULost).
	GPUError string `json:"gpu_error,omitempty"`
	GPULost  bool   `json:"gpu_lost,omitempty"`

	// The control plane's view of the device (proto.DeviceStatus).
	// EarnsPerHour is in micro-USD per hour, all GPUs together.
	EarnsPerHour       int64   `json:"earns_per_hour"`
	Verified           bool    `json:"verified"`
	Verification       string  `json:"verification,omitempty"` // verified, pending, failed, stale, flagged, simulated
	VerificationReason string  `json:"verification_reason,omitempty"`
	Tier               string  `json:"tier,omitempty"`
	Reputation         float64 `json:"reputation"`

	// Runtimes are the cluster runtimes on the device, one per cluster.
	Runtimes []proto.RuntimeState `json:"runtimes"`
}

// Source returns the current Snapshot. It is called on every scrape and
// every GET /status, possibly from several goroutines at once, so it must be
// cheap and safe for concurrent use; it must not read the hardware itself
// (the agent's Monitor is the one sampler).
type Source func() Snapshot

// Verification states the control plane sends (proto.DeviceStatus).
const (
	VerificationVerified = "verified"
	VerificationFailed   = "failed"
)

// AgentSource reads a Snapshot from a running agent and its monitor. Use its
// Snapshot method as the Source:
//
//	farm.Server{Source: farm.AgentSource{Agent: a, Monitor: m, ...}.Snapshot}
type AgentSource struct {
	Agent *agent.Agent
	// Monitor is the machine's one sampler; nil reports no samples.
	Monitor *agent.Monitor
	// GPUs is the inventory found at start-up (the probe's GPUs()).
	GPUs    []hw.GPU
	Version string
	// Runtimes lists the cluster runtimes on the device. agent.Agent does
	// not expose them yet; until it does, nil reports none.
	Runtimes func() []proto.RuntimeState
}

// Snapshot reads the agent's status and the monitor's newest sample.
func (s AgentSource) Snapshot() Snapshot {
	st := s.Agent.Status()
	snap := Snapshot{
		DeviceID:           st.DeviceID,
		Version:            s.Version,
		State:              st.Conn,
		Connected:          st.Conn == agent.ConnOnline,
		Paused:             st.Paused,
		PauseReason:        st.PauseReason,
		GPUs:               slices.Clone(s.GPUs),
		EarnsPerHour:       st.Device.EarnsPerHour,
		Verified:           st.Device.Verified,
		Verification:       st.Device.Verification,
		VerificationReason: st.Device.VerificationReason,
		Tier:               st.Device.Tier,
		Reputation:         st.Device.Reputation,
	}
	if !snap.Connected {
		snap.LastError = st.LastError
	}
	if s.Monitor != nil {
		if smp, ok := s.Monitor.Latest(); ok {
			snap.Samples = slices.Clone(smp.GPUs)
			snap.SampledAt = smp.At
			snap.GPUError = smp.Err
			// The monitor keeps the error as text only, so a lost card is
			// recognised by hw.ErrGPULost's words, which every probe wraps.
			snap.GPULost = smp.Err != "" && strings.Contains(smp.Err, hw.ErrGPULost.Error())
		}
	}
	if s.Runtimes != nil {
		snap.Runtimes = s.Runtimes()
	}
	return snap
}
