package proto

import (
	"time"

	"github.com/idlegrid/idlegrid/shared/bench/score"
)

// BenchReportOf puts a benchmark report on the wire.
func BenchReportOf(r score.Report) BenchReport {
	out := BenchReport{At: r.At.UTC(), Score: r.Score, Tier: r.Tier, Host: r.Host}
	for _, res := range r.Results {
		br := BenchResult{
			Kind: string(res.Kind), DurationMS: res.Duration.Milliseconds(),
			CPUGFLOPS: res.CPUGFLOPS, CPUSingleGFLOPS: res.CPUSingleGFLOPS, MemGBps: res.MemGBps,
			DiskReadMBps: res.DiskReadMBps, DiskWriteMBps: res.DiskWriteMBps,
			NetLatencyMS: res.NetLatencyMS, NetDownMbps: res.NetDownMbps, NetUpMbps: res.NetUpMbps,
			Skipped: res.Skipped, Note: res.Note,
		}
		for _, g := range res.GPUs {
			br.GPUs = append(br.GPUs, BenchGPUResult(g))
		}
		out.Results = append(out.Results, br)
	}
	return out
}

// Report turns a received report back into score types, to score it
// with the published formula rather than trust the device's own score.
func (b BenchReport) Report() score.Report {
	out := score.Report{At: b.At, Host: b.Host}
	for _, br := range b.Results {
		res := score.Result{
			Kind: score.Kind(br.Kind), Duration: time.Duration(br.DurationMS) * time.Millisecond,
			CPUGFLOPS: br.CPUGFLOPS, CPUSingleGFLOPS: br.CPUSingleGFLOPS, MemGBps: br.MemGBps,
			DiskReadMBps: br.DiskReadMBps, DiskWriteMBps: br.DiskWriteMBps,
			NetLatencyMS: br.NetLatencyMS, NetDownMbps: br.NetDownMbps, NetUpMbps: br.NetUpMbps,
			Skipped: br.Skipped, Note: br.Note,
		}
		for _, g := range br.GPUs {
			res.GPUs = append(res.GPUs, score.GPUResult(g))
		}
		out.Results = append(out.Results, res)
	}
	out.Score, out.Tier = score.Score(out)
	return out
}
