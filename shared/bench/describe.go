package bench

import (
	"fmt"
	"strings"
)

// Labels name each kind for people.
var Labels = map[Kind]string{CPU: "CPU", Memory: "Memory", Disk: "Disk", Network: "Network", GPU: "GPU"}

// Describe puts a result's figures in words, or why there are none, with
// its note; front ends prefix Labels[r.Kind].
func Describe(r Result) string {
	if r.Skipped != "" {
		return "not measured: " + r.Skipped
	}
	var s string
	switch r.Kind {
	case CPU:
		s = fmt.Sprintf("%.1f GFLOPS on all cores, %.1f on one", r.CPUGFLOPS, r.CPUSingleGFLOPS)
	case Memory:
		s = fmt.Sprintf("%.1f GB/s", r.MemGBps)
	case Disk:
		s = fmt.Sprintf("read %.0f MB/s, write %.0f MB/s", r.DiskReadMBps, r.DiskWriteMBps)
	case Network:
		s = fmt.Sprintf("%.1f ms, down %.0f Mbit/s, up %.0f Mbit/s", r.NetLatencyMS, r.NetDownMbps, r.NetUpMbps)
	case GPU:
		var gs []string
		for _, g := range r.GPUs {
			if g.Available {
				gs = append(gs, fmt.Sprintf("GPU %d %s: %.1f TFLOPS FP32, %.0f GB/s", g.Index, g.Name, g.FP32TFLOPS, g.MemGBps))
			} else {
				gs = append(gs, fmt.Sprintf("GPU %d: %s", g.Index, g.Reason))
			}
		}
		s = strings.Join(gs, "; ")
	}
	if r.Note != "" {
		s += " (" + r.Note + ")"
	}
	return s
}
