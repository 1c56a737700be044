// Package score holds the benchmark results' types and the published
// formula that turns them into a score and a tier. It has no dependencies,
// so the control plane can score reports without linking the benchmarks
// themselves (shared/bench re-exports everything here).
package score

import (
	"math"
	"time"
)

// Kind names one benchmark.
type Kind string

// The benchmarks, in the order Run performs them.
const (
	CPU     Kind = "cpu"
	Memory  Kind = "memory"
	Disk    Kind = "disk"
	Network Kind = "network"
	GPU     Kind = "gpu"
)

// AllKinds returns every benchmark in the order Run performs them.
func AllKinds() []Kind {
	return []Kind{CPU, Memory, Disk, Network, GPU}
}

// GPUResult is one GPU's figures. Available is false, with Reason in words,
// when the card was found but could not be measured.
type GPUResult struct {
	Index      int     `json:"index"`
	Name       string  `json:"name"`
	FP32TFLOPS float64 `json:"fp32_tflops,omitempty"`
	MemGBps    float64 `json:"mem_gbps,omitempty"` // device-to-device copy, bytes read + written
	Available  bool    `json:"available"`
	Reason     string  `json:"reason,omitempty"`
}

// Result is one benchmark's figures; only those of its Kind are set. A zero
// figure means "not measured", never "measured as zero".
type Result struct {
	Kind     Kind          `json:"kind"`
	Duration time.Duration `json:"duration_ns"`

	CPUGFLOPS       float64     `json:"cpu_gflops,omitempty"`        // float64 multiply-add (FMA) throughput, all cores
	CPUSingleGFLOPS float64     `json:"cpu_single_gflops,omitempty"` // the same on one core
	MemGBps         float64     `json:"mem_gbps,omitempty"`          // memory copy, bytes read + written
	DiskReadMBps    float64     `json:"disk_read_mbps,omitempty"`    // sequential, 10^6 bytes/s, in Options.DataDir
	DiskWriteMBps   float64     `json:"disk_write_mbps,omitempty"`   // sequential including the final fsync
	NetLatencyMS    float64     `json:"net_latency_ms,omitempty"`    // median HTTP round trip to the server
	NetDownMbps     float64     `json:"net_down_mbps,omitempty"`     // 10^6 bits/s
	NetUpMbps       float64     `json:"net_up_mbps,omitempty"`
	GPUs            []GPUResult `json:"gpus,omitempty"`

	// Skipped says why this kind produced no figures, in words; empty when
	// it measured.
	Skipped string `json:"skipped,omitempty"`
	// Note qualifies figures that were measured but may flatter the
	// machine, e.g. disk reads that went through the page cache.
	Note string `json:"note,omitempty"`
}

// Report is the outcome of one Run.
type Report struct {
	At      time.Time `json:"at"`
	Results []Result  `json:"results"`
	Score   float64   `json:"score"`
	Tier    string    `json:"tier"`
	Host    string    `json:"host"` // short hardware summary
}

// The tiers, lowest first. A device without a measured GPU is always
// TierBronze: requesters rent GPUs here, and a CPU alone is not one.
const (
	TierBronze   = "bronze"
	TierSilver   = "silver"
	TierGold     = "gold"
	TierPlatinum = "platinum"
)

// tierFloors are the least score of each tier above bronze, highest first.
// With datasheet GPU figures and the reference desktop's 100 host points
// (docs/BENCHMARKS.md): RTX 5090 7175 and RTX 4090 5139 are platinum;
// RTX 4080 3245, 3090 2833 and 4070 2075 gold; RTX 4060 1136, 3060 1100
// and 2060 708 silver; GTX 1060 492 bronze. Measured
// figures usually reach 85–95% of a datasheet's, and the floors leave room
// for that below the flagship and the mainstream cards.
var tierFloors = []struct {
	tier  string
	floor float64
}{
	{TierPlatinum, 3500},
	{TierGold, 1500},
	{TierSilver, 600},
}

// GPU part: a weighted geometric mean of FP32 throughput and memory
// bandwidth relative to an RTX 3060 (datasheet: 12.74 TFLOPS, 360 GB/s),
// which scores gpuRefPoints. Compute weighs more than bandwidth because most
// rented work (rendering, inference, training) is compute-bound first.
const (
	gpuRefTFLOPS  = 12.74
	gpuRefGBps    = 360
	gpuRefPoints  = 1000
	gpuWeightFLOP = 0.7
	gpuWeightMem  = 0.3
)

// Host part: a weighted geometric mean of the host's figures relative to a
// reference gaming desktop, which scores hostRefPoints. Each ratio is
// clamped to [hostRatioMin, hostRatioMax] so that no host, however strong,
// adds more than 400 points — less than the gap between two GPU tiers —
// and one bad figure cannot zero the rest.
const (
	hostRefPoints = 100
	hostRatioMin  = 0.01
	hostRatioMax  = 4
)

// hostFactors are the host figures, their weights (summing to 1) and the
// reference desktop's values: an 8-core, 16-thread CPU at about 4.5 GHz,
// dual-channel DDR4-3200, an NVMe SSD and a 100/20 Mbit/s line. They are
// round design values for a machine of that class, not a measurement; only
// their ratios to a measured figure enter the score.
var hostFactors = []struct {
	name   string
	weight float64
	ref    float64
	lower  bool // lower is better: the score uses ref/x
	get    func(Result) float64
}{
	{"CPU, all cores (GFLOPS)", 0.30, 100, false, func(r Result) float64 { return r.CPUGFLOPS }},
	{"CPU, one core (GFLOPS)", 0.10, 15, false, func(r Result) float64 { return r.CPUSingleGFLOPS }},
	{"memory copy (GB/s)", 0.20, 40, false, func(r Result) float64 { return r.MemGBps }},
	{"disk read (MB/s)", 0.10, 2000, false, func(r Result) float64 { return r.DiskReadMBps }},
	{"disk write (MB/s)", 0.10, 1000, false, func(r Result) float64 { return r.DiskWriteMBps }},
	{"download (Mbit/s)", 0.10, 100, false, func(r Result) float64 { return r.NetDownMbps }},
	{"upload (Mbit/s)", 0.05, 20, false, func(r Result) float64 { return r.NetUpMbps }},
	{"latency (ms)", 0.05, 30, true, func(r Result) float64 { return r.NetLatencyMS }},
}

// Score computes a report's published score and tier:
//
//	gpu   = 1000 × (TFLOPS / 12.74)^0.7 × (GB/s / 360)^0.3   for the best measured GPU, else 0
//	host  = 100 × Π clamp(x_i / ref_i, 0.01, 4)^(w_i / Σw)   over the host figures measured
//	score = round(gpu + host)
//
// and the tier from tierFloors, bronze whenever no GPU was measured. The best
// GPU rather than the sum, because a GPU is rented whole and one job does not
// span cards. A host figure that was not measured (a skipped kind) is left
// out and the remaining weights are rescaled, so a skipped test neither
// earns nor costs points. docs/BENCHMARKS.md publishes this formula; change
// both together.
func Score(r Report) (float64, string) {
	var gpu float64
	for _, res := range r.Results {
		for _, g := range res.GPUs {
			if g.Available && Measured(g.FP32TFLOPS) && Measured(g.MemGBps) {
				gpu = max(gpu, gpuPoints(g.FP32TFLOPS, g.MemGBps))
			}
		}
	}
	score := math.Round(gpu + hostPoints(r.Results))
	if gpu == 0 {
		return score, TierBronze
	}
	for _, t := range tierFloors {
		if score >= t.floor {
			return score, t.tier
		}
	}
	return score, TierBronze
}

func gpuPoints(tflops, gbps float64) float64 {
	return gpuRefPoints *
		math.Pow(tflops/gpuRefTFLOPS, gpuWeightFLOP) *
		math.Pow(gbps/gpuRefGBps, gpuWeightMem)
}

func hostPoints(results []Result) float64 {
	var logSum, weights float64
	for _, f := range hostFactors {
		var x float64
		for _, res := range results {
			if v := f.get(res); Measured(v) {
				x = v
				break
			}
		}
		if !Measured(x) {
			continue
		}
		ratio := x / f.ref
		if f.lower {
			ratio = f.ref / x
		}
		logSum += f.weight * math.Log(min(max(ratio, hostRatioMin), hostRatioMax))
		weights += f.weight
	}
	if weights == 0 {
		return 0
	}
	return hostRefPoints * math.Exp(logSum/weights)
}

// Measured reports whether x is a figure: zero means "not measured", and a
// non-finite value can only come from a broken measurement.
func Measured(x float64) bool {
	return x > 0 && !math.IsInf(x, 1)
}
