package bench

import (
	"context"
	"fmt"
	"runtime"
	"strings"

	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/mem"
)

// hostSummary describes the machine in one line, for a requester to read
// next to the figures: "AMD Ryzen 7 5800X, 16 threads, 31.9 GiB RAM,
// linux/amd64; GPU 0: NVIDIA GeForce RTX 3060". It is a label, not a
// measurement: what cannot be read is left out rather than failing the run.
func hostSummary(ctx context.Context, results []Result) string {
	var parts []string
	if infos, err := cpu.InfoWithContext(ctx); err == nil && len(infos) > 0 {
		if model := strings.Join(strings.Fields(infos[0].ModelName), " "); model != "" {
			parts = append(parts, model)
		}
	}
	parts = append(parts, fmt.Sprintf("%d threads", runtime.NumCPU()))
	if vm, err := mem.VirtualMemoryWithContext(ctx); err == nil && vm.Total > 0 {
		parts = append(parts, fmt.Sprintf("%.1f GiB RAM", float64(vm.Total)/(1<<30)))
	}
	parts = append(parts, runtime.GOOS+"/"+runtime.GOARCH)
	s := strings.Join(parts, ", ")

	for _, r := range results {
		for _, g := range r.GPUs {
			s += fmt.Sprintf("; GPU %d: %s", g.Index, g.Name)
		}
	}
	return s
}
