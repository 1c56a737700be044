package bench

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"
)

// runMemory measures memory copy bandwidth on all cores.
func runMemory(ctx context.Context, opt Options, step stepFunc) (Result, error) {
	step(fmt.Sprintf("Memory: copying %s", sizeWords(opt.memBytes)), 0)
	gbps, err := copyGBps(ctx, runtime.GOMAXPROCS(0), opt.memBytes, opt.PerKind)
	if err != nil {
		return Result{}, err
	}
	return Result{MemGBps: gbps}, nil
}

// copyGBps copies a size-byte buffer into another, split into one stripe
// per worker, over and over for budget, and returns 10^9 bytes per second
// counting each copied byte twice: once read, once written, as STREAM's
// "copy" does. (Write-allocate caches also read the destination first; that
// traffic is real but not counted, so the figure is conservative.)
//
// Every worker copies at once because a single core cannot saturate a
// modern memory controller, and jobs rented here use all cores.
func copyGBps(ctx context.Context, workers int, size int64, budget time.Duration) (float64, error) {
	src := make([]byte, size)
	dst := make([]byte, size)
	for i := range src {
		src[i] = byte(i)
	}
	// Untimed first pass: faults dst's pages in, so the figure is the
	// memory's speed rather than the kernel's page-fault path.
	copy(dst, src)
	if err := ctx.Err(); err != nil {
		return 0, err
	}

	stripe := size / int64(workers)
	copied := make([]int64, workers)
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(budget)
	for w := range workers {
		lo, hi := int64(w)*stripe, int64(w+1)*stripe
		if w == workers-1 {
			hi = size
		}
		wg.Go(func() {
			var n int64
			for keepGoing(ctx, deadline) {
				n += int64(copy(dst[lo:hi], src[lo:hi]))
				// copy runs in assembly the scheduler cannot preempt;
				// yielding between copies lets the rest of the process
				// (the agent's heartbeat, a cancel) run while every P
				// is copying.
				runtime.Gosched()
			}
			copied[w] = n
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var total int64
	for _, n := range copied {
		total += n
	}
	return 2 * float64(total) / elapsed.Seconds() / 1e9, nil
}

// sizeWords renders a byte count for a progress step: "256 MiB", "4 KiB".
func sizeWords(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	default:
		return fmt.Sprintf("%d bytes", n)
	}
}
