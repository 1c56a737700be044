// Package proto is the wire protocol between a supplier agent and the control
// plane's hub: JSON messages over one websocket, each an Envelope with a type
// and a body. Wire structs live here and nowhere else; the store keeps its own
// rows.
//
// The handshake is:
//
//	server → agent  hello     {protocol range, nonce}
//	agent  → server auth      {protocol, device id, signature over the nonce, inventory}
//	server → agent  welcome   {heartbeat interval, server time}
//	agent  → server heartbeat {seq, telemetry} every interval
//
// A connection that breaks a rule is closed with one of the Close* codes and
// a reason in words; agents show that reason to the user.
//
// Protocol history (one integer; bump it for any change an old peer would
// misread, and keep MinProtocol as the oldest the server still accepts):
//
//	1 (2026-11-22): hello/auth/welcome handshake with ed25519 device keys,
//	  heartbeats with per-GPU and host telemetry, a sequence number, and a
//	  state (available or paused, with the reason in words). Never released.
//	2 (2026-11-22): the verifiable compute challenge (challenge, commit,
//	  open, one proof message per row), benchmark reports, and the
//	  device status the control plane sends back (verification, tier,
//	  reputation, earnings and payouts), and the payout wallet chosen in
//	  the app.
//	3 (2026-11-22): clusters. Auth lists the runtimes the agent can run;
//	  runtime_start and runtime_stop from the server, runtime_status
//	  snapshots from the agent. Never released, so 2 is no longer accepted.
//
// Every message is decoded strictly (unknown fields are refused), so any
// added field or type bumps Protocol.
package proto

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/idlegrid/idlegrid/shared/hw"
)

// Protocol is the version this build speaks.
const Protocol = 3

// MinProtocol is the oldest agent protocol the server still accepts.
const MinProtocol = 3

// MaxMessageBytes bounds any single message; larger ones close the link
// with websocket code 1009 (message too big).
const MaxMessageBytes = 64 << 10

// Limits on what a heartbeat may carry, so one agent can't flood the store.
const (
	MaxGPUs     = 16
	maxNameLen  = 128
	maxFieldLen = 256
)

// Message types.
const (
	TypeHello     = "hello"
	TypeAuth      = "auth"
	TypeWelcome   = "welcome"
	TypeHeartbeat = "heartbeat"
	// Server → agent: compute this challenge.
	TypeChallenge = "challenge"
	// Agent → server: the Merkle root of the product, and the time taken.
	TypeChallengeCommit = "challenge_commit"
	// Server → agent: open these rows.
	TypeChallengeOpen = "challenge_open"
	// Agent → server: one opened row with its proof.
	TypeChallengeProof = "challenge_proof"
	// Agent → server: a finished benchmark run.
	TypeBenchReport = "bench_report"
	// Server → agent: what the control plane thinks of the device
	// (verification, tier, reputation), so the supplier sees it.
	TypeDeviceStatus = "device_status"
	// Agent → server: the payout wallet chosen in the app.
	TypePayoutWallet = "payout_wallet"
)

// Websocket close codes (4000–4999 are the application's own).
const (
	CloseReplaced         = 4000 // a newer connection of the same device took over
	CloseVersion          = 4001 // protocol version not supported
	CloseAuthFailed       = 4003 // bad signature
	CloseUnknownDevice    = 4004 // no such device: pair again
	CloseBadMessage       = 4400 // malformed or out-of-order message
	CloseDeviceRemoved    = 4010 // the owner removed this device
	CloseHandshakeTimeout = 4008 // no auth in time
)

// Envelope frames every message.
type Envelope struct {
	Type string          `json:"type"`
	Body json.RawMessage `json:"body"`
}

// Hello is the server's first message.
type Hello struct {
	MinProtocol int    `json:"min_protocol"`
	MaxProtocol int    `json:"max_protocol"`
	Nonce       []byte `json:"nonce"` // 32 random bytes, base64 on the wire
}

// Auth is the agent's answer to Hello: who it is, proven by a signature.
type Auth struct {
	Protocol     int       `json:"protocol"`
	DeviceID     string    `json:"device_id"`
	Signature    []byte    `json:"signature"`
	AgentVersion string    `json:"agent_version"`
	Inventory    Inventory `json:"inventory"`
	// Runtimes the agent can run cluster work with; none means it only
	// supplies telemetry and benchmarks.
	Runtimes []RuntimeInfo `json:"runtimes,omitempty"`
	// Region is where the supplier says the machine is ("eu-west"); the
	// scheduler keeps a cluster's nodes in one region when it can.
	Region string `json:"region,omitempty"`
}

// Inventory is the device's hardware as the agent found it at start-up.
type Inventory struct {
	Host      hw.HostInfo  `json:"host"`
	GPUs      []hw.GPU     `json:"gpus"`
	GPUStatus hw.GPUStatus `json:"gpu_status"`
}

// Welcome ends the handshake.
type Welcome struct {
	DeviceID          string   `json:"device_id"`
	HeartbeatInterval Duration `json:"heartbeat_interval"`
	// IdleTimeout: the server pings well within it; an agent that hears
	// nothing for this long treats the link as dead and reconnects.
	IdleTimeout Duration  `json:"idle_timeout"`
	ServerTime  time.Time `json:"server_time"`
}

// Heartbeat carries liveness and one telemetry sample.
type Heartbeat struct {
	Seq    uint64    `json:"seq"`
	SentAt time.Time `json:"sent_at"` // agent clock, informational only
	State  string    `json:"state"`   // State*
	// PauseReason says why a paused device is not taking work, in words.
	PauseReason string         `json:"pause_reason,omitempty"`
	GPUs        []hw.GPUSample `json:"gpus"`
	Host        hw.HostSample  `json:"host"`
}

// Agent states reported in heartbeats.
const (
	StateAvailable = "available" // ready to take work
	StatePaused    = "paused"    // the supplier paused supplying
)

// Duration is a time.Duration carried as milliseconds.
type Duration time.Duration

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).Milliseconds())
}

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var ms int64
	if err := json.Unmarshal(b, &ms); err != nil {
		return fmt.Errorf("duration must be milliseconds: %w", err)
	}
	*d = Duration(time.Duration(ms) * time.Millisecond)
	return nil
}

// Encode wraps body in an Envelope of the given type.
func Encode(typ string, body any) ([]byte, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("encoding %s: %w", typ, err)
	}
	return json.Marshal(Envelope{Type: typ, Body: b})
}

// ErrMalformed is wrapped by every decoding error.
var ErrMalformed = errors.New("malformed message")

// Decode parses one message, checks it and returns its typed body
// (*Hello, *Auth, *Welcome or *Heartbeat). Unknown fields, unknown types and
// out-of-range values are errors wrapping ErrMalformed.
func Decode(data []byte) (any, error) {
	if len(data) > MaxMessageBytes {
		return nil, fmt.Errorf("%w: %d bytes is over the %d-byte limit", ErrMalformed, len(data), MaxMessageBytes)
	}
	// Messages as Encode writes them are read in one pass: the body
	// straight into its type. Anything else, or anything that fails there,
	// takes the general path, which also words the error.
	if typ, body, ok := splitEncoded(data); ok {
		if typ == TypeHeartbeat {
			if hb, ok := decodeHeartbeatFast(body); ok && hb.validate() == nil {
				return hb, nil
			}
		}
		if msg := bodyFor(typ); msg != nil && strictUnmarshal(body, msg) == nil && msg.validate() == nil {
			return msg, nil
		}
	}
	return decodeEnvelope(data)
}

// splitEncoded splits a message of exactly Encode's form,
// {"type":"T","body":B}, into T and B.
func splitEncoded(data []byte) (typ string, body []byte, ok bool) {
	const head, mid = `{"type":"`, `","body":`
	if !bytes.HasPrefix(data, []byte(head)) || len(data) == 0 || data[len(data)-1] != '}' {
		return "", nil, false
	}
	rest := data[len(head):]
	end := bytes.IndexByte(rest, '"')
	if end <= 0 || bytes.IndexByte(rest[:end], '\\') >= 0 || !bytes.HasPrefix(rest[end:], []byte(mid)) {
		return "", nil, false
	}
	return string(rest[:end]), rest[end+len(mid) : len(rest)-1], true
}

// bodyFor returns a new body of the message type typ, or nil.
func bodyFor(typ string) interface{ validate() error } {
	switch typ {
	case TypeHello:
		return &Hello{}
	case TypeAuth:
		return &Auth{}
	case TypeWelcome:
		return &Welcome{}
	case TypeHeartbeat:
		return &Heartbeat{}
	case TypeChallenge:
		return &Challenge{}
	case TypeChallengeCommit:
		return &ChallengeCommit{}
	case TypeChallengeOpen:
		return &ChallengeOpen{}
	case TypeChallengeProof:
		return &ChallengeProof{}
	case TypeBenchReport:
		return &BenchReport{}
	case TypeDeviceStatus:
		return &DeviceStatus{}
	case TypePayoutWallet:
		return &PayoutWallet{}
	case TypeRuntimeStart:
		return &RuntimeStart{}
	case TypeRuntimeStop:
		return &RuntimeStop{}
	case TypeRuntimeStatus:
		return &RuntimeStatus{}
	}
	return nil
}

// decodeEnvelope is Decode's general path.
func decodeEnvelope(data []byte) (any, error) {
	var env Envelope
	if err := strictUnmarshal(data, &env); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	body := bodyFor(env.Type)
	switch {
	case env.Type == "":
		return nil, fmt.Errorf("%w: missing type", ErrMalformed)
	case body == nil:
		return nil, fmt.Errorf("%w: unknown type %q", ErrMalformed, truncate(env.Type, 32))
	case len(env.Body) == 0:
		return nil, fmt.Errorf("%w: %s without a body", ErrMalformed, env.Type)
	}
	if err := strictUnmarshal(env.Body, body); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, env.Type, err)
	}
	if err := body.validate(); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, env.Type, err)
	}
	return body, nil
}

func strictUnmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	// Only space may follow the value (More would let a stray '}' or ']'
	// through).
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func (h *Hello) validate() error {
	if len(h.Nonce) != NonceSize {
		return fmt.Errorf("nonce must be %d bytes, got %d", NonceSize, len(h.Nonce))
	}
	if h.MinProtocol < 1 || h.MaxProtocol < h.MinProtocol {
		return fmt.Errorf("bad protocol range %d..%d", h.MinProtocol, h.MaxProtocol)
	}
	return nil
}

func (a *Auth) validate() error {
	switch {
	case a.Protocol < 1:
		return fmt.Errorf("protocol must be positive, got %d", a.Protocol)
	case a.DeviceID == "" || len(a.DeviceID) > 64:
		return errors.New("device_id must be 1..64 characters")
	case len(a.Signature) != SignatureSize:
		return fmt.Errorf("signature must be %d bytes, got %d", SignatureSize, len(a.Signature))
	case len(a.AgentVersion) > 64:
		return errors.New("agent_version is over 64 characters")
	case len(a.Runtimes) > maxRuntimes:
		return fmt.Errorf("%d runtimes is over the limit of %d", len(a.Runtimes), maxRuntimes)
	case len(a.Inventory.GPUs) > MaxGPUs:
		return fmt.Errorf("%d GPUs is over the limit of %d", len(a.Inventory.GPUs), MaxGPUs)
	}
	if !ValidRegion(a.Region) {
		return fmt.Errorf("region %q must be up to 32 lowercase letters, digits and dashes", truncate(a.Region, 40))
	}
	for _, rt := range a.Runtimes {
		if rt.Name == "" || len(rt.Name) > 32 || len(rt.Version) > 64 {
			return errors.New("a runtime needs a name of at most 32 and a version of at most 64 characters")
		}
	}
	for i, g := range a.Inventory.GPUs {
		if len(g.Name) > maxNameLen || len(g.UUID) > maxNameLen || len(g.Driver) > maxNameLen {
			return fmt.Errorf("gpu %d: name, uuid or driver over %d characters", i, maxNameLen)
		}
	}
	h := a.Inventory.Host
	for _, s := range []string{h.Hostname, h.OS, h.Platform, h.Kernel, h.Arch, h.CPUModel, a.Inventory.GPUStatus.Reason, a.Inventory.GPUStatus.Driver} {
		if len(s) > maxFieldLen {
			return fmt.Errorf("inventory text field over %d characters", maxFieldLen)
		}
	}
	return nil
}

func (w *Welcome) validate() error {
	if w.HeartbeatInterval <= 0 || w.IdleTimeout <= 0 {
		return errors.New("heartbeat_interval and idle_timeout must be positive")
	}
	return nil
}

func (h *Heartbeat) validate() error {
	if h.Seq == 0 {
		return errors.New("seq must start at 1")
	}
	if h.State != StateAvailable && h.State != StatePaused {
		return fmt.Errorf("unknown state %q", truncate(h.State, 32))
	}
	if len(h.PauseReason) > maxFieldLen {
		return fmt.Errorf("pause_reason over %d characters", maxFieldLen)
	}
	if len(h.GPUs) > MaxGPUs {
		return fmt.Errorf("%d GPUs is over the limit of %d", len(h.GPUs), MaxGPUs)
	}
	for i, g := range h.GPUs {
		switch {
		case len(g.Name) > maxNameLen || len(g.UUID) > maxNameLen:
			return fmt.Errorf("gpu %d: name or uuid over %d characters", i, maxNameLen)
		case g.UtilPct < 0 || g.UtilPct > 100 || g.FanPct < 0 || g.FanPct > 100:
			return fmt.Errorf("gpu %d: percentages must be 0..100", i)
		case g.TempC < -50 || g.TempC > 200:
			return fmt.Errorf("gpu %d: temperature %d °C is not plausible", i, g.TempC)
		case g.MemoryUsed > g.MemoryTotal:
			return fmt.Errorf("gpu %d: memory used exceeds total", i)
		case len(g.Missing) > 16:
			return fmt.Errorf("gpu %d: too many missing fields", i)
		}
	}
	if h.Host.CPUPct < 0 || h.Host.CPUPct > 100 {
		return errors.New("host cpu_pct must be 0..100")
	}
	return nil
}

// TypeOf names a decoded message's type, as it goes on the wire.
func TypeOf(msg any) string {
	switch msg.(type) {
	case *Hello:
		return TypeHello
	case *Auth:
		return TypeAuth
	case *Welcome:
		return TypeWelcome
	case *Heartbeat:
		return TypeHeartbeat
	case *Challenge:
		return TypeChallenge
	case *ChallengeCommit:
		return TypeChallengeCommit
	case *ChallengeOpen:
		return TypeChallengeOpen
	case *ChallengeProof:
		return TypeChallengeProof
	case *BenchReport:
		return TypeBenchReport
	case *DeviceStatus:
		return TypeDeviceStatus
	case *PayoutWallet:
		return TypePayoutWallet
	case *RuntimeStart:
		return TypeRuntimeStart
	case *RuntimeStop:
		return TypeRuntimeStop
	case *RuntimeStatus:
		return TypeRuntimeStatus
	}
	return fmt.Sprintf("%T", msg)
}
