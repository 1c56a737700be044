package score

import (
	"math"
	"testing"
)

// referenceHost is the reference desktop of hostFactors, measured exactly:
// it scores 100 host points.
var referenceHost = []Result{
	{Kind: CPU, CPUGFLOPS: 100, CPUSingleGFLOPS: 15},
	{Kind: Memory, MemGBps: 40},
	{Kind: Disk, DiskReadMBps: 2000, DiskWriteMBps: 1000},
	{Kind: Network, NetLatencyMS: 30, NetDownMbps: 100, NetUpMbps: 20},
}

func withGPUs(host []Result, gpus ...GPUResult) Report {
	r := Report{Results: append([]Result(nil), host...)}
	return Report{Results: append(r.Results, Result{Kind: GPU, GPUs: gpus})}
}

func card(name string, tflops, gbps float64) GPUResult {
	return GPUResult{Name: name, FP32TFLOPS: tflops, MemGBps: gbps, Available: true}
}

// Datasheet figures (FP32 TFLOPS at boost clock, memory bandwidth GB/s).
var (
	rtx5090 = card("RTX 5090", 104.8, 1792)
	rtx4090 = card("RTX 4090", 82.58, 1008)
	rtx4080 = card("RTX 4080", 48.74, 716.8)
	rtx3090 = card("RTX 3090", 35.58, 936)
	rtx4070 = card("RTX 4070", 29.15, 504)
	rtx4060 = card("RTX 4060", 15.11, 272)
	rtx3060 = card("RTX 3060", 12.74, 360)
	rtx2060 = card("RTX 2060", 6.45, 336)
	gtx1060 = card("GTX 1060 6GB", 4.38, 192)
)

func scaled(g GPUResult, f float64) GPUResult {
	g.FP32TFLOPS *= f
	g.MemGBps *= f
	return g
}

func TestScoreReferenceCards(t *testing.T) {
	cases := []struct {
		name      string
		report    Report
		wantScore float64 // exact: the published examples of docs/BENCHMARKS.md
		wantTier  string
	}{
		{"RTX 5090", withGPUs(referenceHost, rtx5090), 7175, TierPlatinum},
		{"RTX 4090", withGPUs(referenceHost, rtx4090), 5139, TierPlatinum},
		{"RTX 4080", withGPUs(referenceHost, rtx4080), 3245, TierGold},
		{"RTX 3090", withGPUs(referenceHost, rtx3090), 2833, TierGold},
		{"RTX 4070", withGPUs(referenceHost, rtx4070), 2075, TierGold},
		{"RTX 4060", withGPUs(referenceHost, rtx4060), 1136, TierSilver},
		{"RTX 3060", withGPUs(referenceHost, rtx3060), 1100, TierSilver},
		{"RTX 2060", withGPUs(referenceHost, rtx2060), 708, TierSilver},
		{"GTX 1060", withGPUs(referenceHost, gtx1060), 492, TierBronze},
		{"CPU only, reference desktop", Report{Results: referenceHost}, 100, TierBronze},
		{"nothing measured", Report{}, 0, TierBronze},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			score, tier := Score(tc.report)
			if score != tc.wantScore || tier != tc.wantTier {
				t.Errorf("Score = %v %q, want %v %q", score, tier, tc.wantScore, tc.wantTier)
			}
		})
	}
}

// What the tiers are for: the flagship is top, the mainstream card below
// it, a CPU alone lowest — also at the 85% of datasheet figures a real
// measurement tends to reach.
func TestScoreTierOrderHoldsAtMeasuredFigures(t *testing.T) {
	for _, f := range []float64{1, 0.85} {
		s4090, t4090 := Score(withGPUs(referenceHost, scaled(rtx4090, f)))
		s3060, t3060 := Score(withGPUs(referenceHost, scaled(rtx3060, f)))
		sCPU, tCPU := Score(Report{Results: referenceHost})
		if t4090 != TierPlatinum || t3060 != TierSilver || tCPU != TierBronze {
			t.Errorf("at %v of datasheet: 4090 %s, 3060 %s, CPU-only %s; want platinum, silver, bronze", f, t4090, t3060, tCPU)
		}
		if !(s4090 > s3060 && s3060 > sCPU) {
			t.Errorf("at %v of datasheet: scores 4090 %v, 3060 %v, CPU-only %v not in order", f, s4090, s3060, sCPU)
		}
	}
}

func TestScoreCPUOnlyIsAlwaysBronze(t *testing.T) {
	// A host beyond every reference on every figure still earns at most
	// 400 points and the lowest tier.
	monster := []Result{
		{CPUGFLOPS: 1e6, CPUSingleGFLOPS: 1e6, MemGBps: 1e6, DiskReadMBps: 1e6, DiskWriteMBps: 1e6,
			NetLatencyMS: 0.001, NetDownMbps: 1e6, NetUpMbps: 1e6},
	}
	score, tier := Score(Report{Results: monster})
	if score != 400 || tier != TierBronze {
		t.Errorf("Score = %v %q, want 400 bronze", score, tier)
	}
}

func TestScoreHostPart(t *testing.T) {
	cases := []struct {
		name    string
		results []Result
		want    float64
	}{
		{"reference desktop", referenceHost, 100},
		{"skipped kinds neither earn nor cost", referenceHost[:1], 100},
		{"twice the reference everywhere", []Result{{CPUGFLOPS: 200, CPUSingleGFLOPS: 30, MemGBps: 80, DiskReadMBps: 4000,
			DiskWriteMBps: 2000, NetLatencyMS: 15, NetDownMbps: 200, NetUpMbps: 40}}, 200},
		{"half the CPU only", []Result{{CPUGFLOPS: 50}}, 50},
		{"a zero figure is not measured", []Result{{CPUGFLOPS: 100, MemGBps: 0}}, 100},
		{"infinite figure ignored", []Result{{CPUGFLOPS: 100, MemGBps: math.Inf(1)}}, 100},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := hostPoints(tc.results); math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("hostPoints = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestScoreUsesTheBestAvailableGPU(t *testing.T) {
	broken := rtx4090
	broken.Available = false
	broken.Reason = "out of GPU memory (CUDA error 2)"
	score, tier := Score(withGPUs(referenceHost, rtx3060, broken, gtx1060))
	if score != 1100 || tier != TierSilver {
		t.Errorf("3060 + unavailable 4090 + 1060 = %v %q, want the 3060's 1100 silver", score, tier)
	}
	score, _ = Score(withGPUs(referenceHost, rtx3060, rtx4090))
	if score != 5139 {
		t.Errorf("3060 + 4090 = %v, want the 4090's 5139", score)
	}
}

func TestHostFactorWeightsSumToOne(t *testing.T) {
	var sum float64
	for _, f := range hostFactors {
		sum += f.weight
	}
	if math.Abs(sum-1) > 1e-12 {
		t.Errorf("weights sum to %v", sum)
	}
}
