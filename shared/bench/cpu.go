package bench

import (
	"context"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// runCPU measures float64 multiply-add throughput on all cores, then on
// one.
func runCPU(ctx context.Context, opt Options, step stepFunc) (Result, error) {
	step("CPU: all cores", 0)
	all, err := fmaGFLOPS(ctx, runtime.GOMAXPROCS(0), opt.PerKind)
	if err != nil {
		return Result{}, err
	}
	step("CPU: one core", 0.5)
	one, err := fmaGFLOPS(ctx, 1, opt.PerKind)
	if err != nil {
		return Result{}, err
	}
	return Result{CPUGFLOPS: all, CPUSingleGFLOPS: one}, nil
}

const (
	// fmaChains independent accumulators per worker: enough to cover a
	// floating-point unit's latency (about 4 cycles) times its issue width
	// (2 per cycle on current x86 and arm64 cores), so the figure is
	// throughput, not latency.
	fmaChains = 8
	// fmaChunk iterations between looks at the stop flag: about 100 µs of
	// work, short enough to stop on time, long enough that the look costs
	// nothing.
	fmaChunk = 1 << 14
)

// cpuSink receives every worker's accumulators, so the compiler cannot prove
// the FMA loop's results unused and drop it.
var cpuSink atomic.Uint64

// fmaGFLOPS runs workers goroutines of multiply-add chains for budget (or
// until ctx ends) and returns the rate in 10^9 floating-point operations per
// second, a multiply-add counting as two.
//
// Each worker watches the clock and ctx itself between chunks, rather than
// waiting for a timer goroutine to tell it to stop: with every P busy, that
// goroutine could wait for a P as long as the workers keep them.
func fmaGFLOPS(ctx context.Context, workers int, budget time.Duration) (float64, error) {
	counts := make([]uint64, workers)
	sums := make([]float64, workers)
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(budget)
	for w := range workers {
		wg.Go(func() {
			// Seeds differ per worker and come from a runtime value, so no
			// chain is a compile-time constant.
			var acc [fmaChains]float64
			for i := range acc {
				acc[i] = 1 + float64(w*fmaChains+i)/64
			}
			var n uint64
			for keepGoing(ctx, deadline) {
				fmaLoop(&acc, fmaChunk)
				n += fmaChunk
			}
			counts[w] = n
			for _, a := range acc {
				sums[w] += a
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := ctx.Err(); err != nil {
		return 0, err
	}

	var ops, total float64
	for w := range workers {
		ops += float64(counts[w]) * fmaChains
		total += sums[w]
	}
	cpuSink.Store(math.Float64bits(total))
	return 2 * ops / elapsed.Seconds() / 1e9, nil
}

// fmaLoop advances each chain n times by a ← a·m + c. With m just below 1
// the chains converge towards c/(1−m) = 1 instead of overflowing or going
// denormal, either of which would slow some CPUs and skew the figure.
//
// The expression is a·m + c rather than math.FMA: where the compiler
// targets FMA (arm64, ppc64, s390x, amd64 from GOAMD64=v3) it fuses it into
// one instruction anyway, and on baseline amd64 math.FMA checks the CPU
// before every call and spills the chains around a fallback call, halving
// the rate; a separate multiply and add is the honest rate of such a build.
func fmaLoop(acc *[fmaChains]float64, n int) {
	const m, c = 0.999999, 0.000001
	a0, a1, a2, a3 := acc[0], acc[1], acc[2], acc[3]
	a4, a5, a6, a7 := acc[4], acc[5], acc[6], acc[7]
	for range n {
		a0 = a0*m + c
		a1 = a1*m + c
		a2 = a2*m + c
		a3 = a3*m + c
		a4 = a4*m + c
		a5 = a5*m + c
		a6 = a6*m + c
		a7 = a7*m + c
	}
	acc[0], acc[1], acc[2], acc[3] = a0, a1, a2, a3
	acc[4], acc[5], acc[6], acc[7] = a4, a5, a6, a7
}

// keepGoing reports whether a measurement should run another chunk.
func keepGoing(ctx context.Context, deadline time.Time) bool {
	return ctx.Err() == nil && time.Now().Before(deadline)
}
