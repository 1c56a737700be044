package proto

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Limits of the challenge messages (see shared/challenge for the scheme).
const (
	challengeMinN = 64
	challengeMaxN = 4096
	challengeMaxK = 64
	maxProofDepth = 13 // ⌈log2 4096⌉ + 1
	maxIDLen      = 64
)

// Challenge asks the device to compute the seeded product.
type Challenge struct {
	ID   string `json:"id"`
	Seed []byte `json:"seed"` // 32 bytes
	N    int    `json:"n"`
}

// ChallengeCommit is the device's commitment to its product.
type ChallengeCommit struct {
	ID        string `json:"id"`
	Root      []byte `json:"root"` // 32 bytes
	ElapsedMS int64  `json:"elapsed_ms"`
}

// ChallengeOpen names the rows the device must reveal.
type ChallengeOpen struct {
	ID   string `json:"id"`
	Rows []int  `json:"rows"`
}

// ChallengeProof reveals one row: its values (int64 little-endian) and
// its Merkle path.
type ChallengeProof struct {
	ID    string   `json:"id"`
	Index int      `json:"index"`
	Row   []byte   `json:"row"`
	Proof [][]byte `json:"proof"`
}

func checkID(id string) error {
	if id == "" || len(id) > maxIDLen {
		return fmt.Errorf("id must be 1..%d characters", maxIDLen)
	}
	return nil
}

func (c *Challenge) validate() error {
	if err := checkID(c.ID); err != nil {
		return err
	}
	if len(c.Seed) != 32 {
		return fmt.Errorf("seed must be 32 bytes, got %d", len(c.Seed))
	}
	if c.N < challengeMinN || c.N > challengeMaxN {
		return fmt.Errorf("n must be %d..%d", challengeMinN, challengeMaxN)
	}
	return nil
}

func (c *ChallengeCommit) validate() error {
	if err := checkID(c.ID); err != nil {
		return err
	}
	if len(c.Root) != 32 {
		return fmt.Errorf("root must be 32 bytes, got %d", len(c.Root))
	}
	if c.ElapsedMS < 0 || c.ElapsedMS > int64(24*time.Hour/time.Millisecond) {
		return errors.New("elapsed_ms out of range")
	}
	return nil
}

func (c *ChallengeOpen) validate() error {
	if err := checkID(c.ID); err != nil {
		return err
	}
	if len(c.Rows) == 0 || len(c.Rows) > challengeMaxK {
		return fmt.Errorf("between 1 and %d rows", challengeMaxK)
	}
	for _, r := range c.Rows {
		if r < 0 || r >= challengeMaxN {
			return fmt.Errorf("row %d out of range", r)
		}
	}
	return nil
}

func (c *ChallengeProof) validate() error {
	if err := checkID(c.ID); err != nil {
		return err
	}
	switch {
	case c.Index < 0 || c.Index >= challengeMaxN:
		return fmt.Errorf("row %d out of range", c.Index)
	case len(c.Row) == 0 || len(c.Row)%8 != 0 || len(c.Row) > 8*challengeMaxN:
		return errors.New("row must be 1..4096 int64 values")
	case len(c.Proof) > maxProofDepth:
		return errors.New("proof too long")
	}
	for _, p := range c.Proof {
		if len(p) != 32 {
			return errors.New("every proof hash must be 32 bytes")
		}
	}
	return nil
}

// BenchReport is a finished benchmark run, as measured by the device.
type BenchReport struct {
	At      time.Time     `json:"at"`
	Score   float64       `json:"score"`
	Tier    string        `json:"tier"`
	Results []BenchResult `json:"results"`
	Host    string        `json:"host"`
}

// BenchResult is one benchmark kind's figures; Skipped says why there are
// none.
type BenchResult struct {
	Kind            string           `json:"kind"`
	DurationMS      int64            `json:"duration_ms"`
	CPUGFLOPS       float64          `json:"cpu_gflops,omitempty"`
	CPUSingleGFLOPS float64          `json:"cpu_single_gflops,omitempty"`
	MemGBps         float64          `json:"mem_gbps,omitempty"`
	DiskReadMBps    float64          `json:"disk_read_mbps,omitempty"`
	DiskWriteMBps   float64          `json:"disk_write_mbps,omitempty"`
	NetLatencyMS    float64          `json:"net_latency_ms,omitempty"`
	NetDownMbps     float64          `json:"net_down_mbps,omitempty"`
	NetUpMbps       float64          `json:"net_up_mbps,omitempty"`
	GPUs            []BenchGPUResult `json:"gpus,omitempty"`
	Skipped         string           `json:"skipped,omitempty"`
	Note            string           `json:"note,omitempty"`
}

// BenchGPUResult is one GPU's measured compute.
type BenchGPUResult struct {
	Index      int     `json:"index"`
	Name       string  `json:"name"`
	FP32TFLOPS float64 `json:"fp32_tflops"`
	MemGBps    float64 `json:"mem_gbps"`
	Available  bool    `json:"available"`
	Reason     string  `json:"reason,omitempty"`
}

var benchKinds = map[string]bool{"cpu": true, "memory": true, "disk": true, "network": true, "gpu": true}

func finite(vals ...float64) bool {
	for _, v := range vals {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || v > 1e9 {
			return false
		}
	}
	return true
}

func (b *BenchReport) validate() error {
	if len(b.Results) == 0 || len(b.Results) > 16 {
		return errors.New("a report holds 1..16 results")
	}
	if !finite(b.Score) || len(b.Tier) > 32 || len(b.Host) > maxFieldLen {
		return errors.New("bad score, tier or host")
	}
	for _, r := range b.Results {
		if !benchKinds[r.Kind] {
			return fmt.Errorf("unknown benchmark kind %q", truncate(r.Kind, 16))
		}
		if !finite(r.CPUGFLOPS, r.CPUSingleGFLOPS, r.MemGBps, r.DiskReadMBps, r.DiskWriteMBps, r.NetLatencyMS, r.NetDownMbps, r.NetUpMbps) || r.DurationMS < 0 {
			return fmt.Errorf("%s: figures must be finite and non-negative", r.Kind)
		}
		if len(r.Skipped) > maxFieldLen || len(r.Note) > maxFieldLen || len(r.GPUs) > MaxGPUs {
			return fmt.Errorf("%s: too long", r.Kind)
		}
		for _, g := range r.GPUs {
			if !finite(g.FP32TFLOPS, g.MemGBps) || len(g.Name) > maxNameLen || len(g.Reason) > maxFieldLen {
				return fmt.Errorf("%s: bad GPU result", r.Kind)
			}
		}
	}
	return nil
}

// DeviceStatus is the control plane's view of the device.
type DeviceStatus struct {
	Verified           bool    `json:"verified"`
	Verification       string  `json:"verification"` // verified, pending, failed, stale, flagged, simulated
	VerificationReason string  `json:"verification_reason,omitempty"`
	Tier               string  `json:"tier,omitempty"`
	Score              float64 `json:"score,omitempty"`
	Reputation         float64 `json:"reputation"`
	// EarnsPerHour is what the device earns per hour at its tier, in
	// micro-USD (all its GPUs), before supply and demand.
	EarnsPerHour int64 `json:"earns_per_hour"`
	// Earnings are the account's, in micro-USD, with its latest payouts.
	Pending         int64        `json:"pending"`
	Payable         int64        `json:"payable"`
	Paid            int64        `json:"paid"`
	Wallet          string       `json:"wallet,omitempty"`
	NextPayoutAfter time.Time    `json:"next_payout_after,omitzero"`
	Payouts         []PayoutLine `json:"payouts,omitempty"`
}

// PayoutLine is one payout as the supplier's app shows it.
type PayoutLine struct {
	At          time.Time `json:"at"`
	Amount      int64     `json:"amount"` // micro-USD
	TokenAmount string    `json:"token_amount"`
	State       string    `json:"state"`
	Mode        string    `json:"mode"`
	Signature   string    `json:"signature,omitempty"`
	ExplorerURL string    `json:"explorer_url,omitempty"`
}

// PayoutWallet asks the control plane to pay the account to this
// address; it is accepted only while the account has none (changing it
// takes the owner's sign-in in the console).
type PayoutWallet struct {
	Address string `json:"address"`
}

func (p *PayoutWallet) validate() error {
	if len(p.Address) < 32 || len(p.Address) > 44 {
		return errors.New("address must be 32..44 characters")
	}
	return nil
}

func (d *DeviceStatus) validate() error {
	if len(d.Payouts) > 20 || len(d.Wallet) > 64 {
		return errors.New("bad device status")
	}
	if len(d.Verification) > 32 || len(d.VerificationReason) > maxFieldLen || len(d.Tier) > 32 || !finite(d.Score, d.Reputation) || d.EarnsPerHour < 0 {
		return errors.New("bad device status")
	}
	return nil
}
