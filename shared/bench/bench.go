// Package bench measures what a supplier's machine can do: float64 FMA
// throughput of the CPU, memory copy bandwidth, sequential disk speed, the
// network path to the control plane and, where an NVIDIA driver is present,
// each GPU's FP32 throughput and memory bandwidth through the CUDA driver
// API. The agent runs it on first join and on demand; requesters pay by the
// Score it publishes, so a figure here is only ever something measured on
// this machine.
//
// A benchmark that cannot measure — no GPU, no server configured, rate
// limited — says why in Result.Skipped and leaves its figures zero: "no data"
// is a state, not an error. A measurement that should have worked and failed
// (a disk that refuses writes, a server answering 500) is an error.
//
// docs/BENCHMARKS.md describes each measurement and the score formula.
package bench

import (
	"context"
	"fmt"
	"net/http"
	"runtime/debug"
	"slices"
	"time"

	"github.com/idlegrid/idlegrid/shared/bench/score"
)

// The result types and the score live in the leaf package score, so the
// control plane can score reports without linking the benchmarks.
type (
	// Kind names one benchmark.
	Kind = score.Kind
	// GPUResult is one GPU's figures.
	GPUResult = score.GPUResult
	// Result is one benchmark's figures.
	Result = score.Result
	// Report is the outcome of one Run.
	Report = score.Report
)

// The benchmarks, in the order Run performs them.
const (
	CPU     = score.CPU
	Memory  = score.Memory
	Disk    = score.Disk
	Network = score.Network
	GPU     = score.GPU
)

// The tiers, lowest first.
const (
	TierBronze   = score.TierBronze
	TierSilver   = score.TierSilver
	TierGold     = score.TierGold
	TierPlatinum = score.TierPlatinum
)

// AllKinds returns every benchmark in the order Run performs them.
func AllKinds() []Kind { return score.AllKinds() }

// Score computes a report's published score and tier (see score.Score).
func Score(r Report) (float64, string) { return score.Score(r) }

func measured(x float64) bool { return score.Measured(x) }

// Progress is one step of a run, for a progress bar and a line of text.
type Progress struct {
	Kind Kind   `json:"kind,omitempty"` // empty on the final "Done" step
	Step string `json:"step"`           // in words: "CPU: all cores", "Disk: writing 256 MiB"
	// Fraction of the whole run completed, 0..1; never decreases within a
	// run and is exactly 1 on the last step of a run that succeeded.
	Fraction float64 `json:"fraction"`
}

// Options tune a run. The zero value measures with the defaults below, but
// skips the disk test (no DataDir) and the network test (no ServerURL).
type Options struct {
	DataDir    string           // the disk test's file goes here; removed afterwards even on cancel or error
	ServerURL  string           // control plane for the network test, e.g. "https://grid.example"
	HTTPClient *http.Client     // nil means a client of its own
	PerKind    time.Duration    // time budget of each CPU, memory and GPU measurement; default 2 s
	DiskBytes  int64            // size of the disk test file; default 256 MiB
	NetBytes   int64            // download and upload size; default 10 MB, at most 25 MB (the server's limit)
	Now        func() time.Time // stamps Report.At; default time.Now

	// memBytes is the size of each of the memory test's two buffers. Only
	// tests change it: the default is sized to dwarf any CPU cache, and
	// tests cannot afford to fault that much in on a 100 ms budget.
	memBytes int64
	// cudaLibrary overrides the CUDA driver's file name, so tests can take
	// the "driver not installed" path on a machine that has one.
	cudaLibrary string
}

const (
	defaultPerKind   = 2 * time.Second
	defaultDiskBytes = 256 << 20
	defaultNetBytes  = 10_000_000
	// MaxNetBytes is the most the control plane's speed-test endpoints
	// accept or send in one request.
	MaxNetBytes     = 25_000_000
	defaultMemBytes = 128 << 20
)

// withDefaults fills what the caller left zero.
func (o Options) withDefaults() Options {
	if o.PerKind <= 0 {
		o.PerKind = defaultPerKind
	}
	if o.DiskBytes <= 0 {
		o.DiskBytes = defaultDiskBytes
	}
	if o.NetBytes <= 0 {
		o.NetBytes = defaultNetBytes
	}
	o.NetBytes = min(o.NetBytes, MaxNetBytes)
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.memBytes <= 0 {
		o.memBytes = defaultMemBytes
	}
	return o
}

// stepFunc reports progress within one benchmark: words and the fraction of
// that benchmark done, 0..1.
type stepFunc func(step string, fraction float64)

// runner measures one kind. It returns ctx's error, wrapped or not, when ctx
// ends; Run checks ctx itself, so a runner need not distinguish.
type runner func(ctx context.Context, opt Options, step stepFunc) (Result, error)

var runners = map[Kind]runner{
	CPU:     runCPU,
	Memory:  runMemory,
	Disk:    runDisk,
	Network: runNetwork,
	GPU:     runGPU,
}

// Run performs the benchmarks in kinds (nil or empty means all), in the order
// of AllKinds whatever the order given, each at most once. progress, if not
// nil, is called on Run's goroutine.
//
// When ctx ends Run returns promptly with an error wrapping ctx's, discards
// the figures measured so far and leaves no file behind. Benchmarks compete
// for the same hardware, so callers must not run two at once.
func Run(ctx context.Context, kinds []Kind, opt Options, progress func(Progress)) (Report, error) {
	kinds, err := normalize(kinds)
	if err != nil {
		return Report{}, err
	}
	opt = opt.withDefaults()
	// The memory and disk tests allocate hundreds of MiB: give it back to
	// the system when done, so an agent idling after its benchmark is
	// small again at once, not after the runtime's slow scavenging.
	defer debug.FreeOSMemory()
	p := progressor{fn: progress, n: len(kinds)}

	rep := Report{At: opt.Now()}
	for i, k := range kinds {
		if err := ctx.Err(); err != nil {
			return Report{}, fmt.Errorf("starting the %s benchmark: %w", k, err)
		}
		start := time.Now()
		res, err := runners[k](ctx, opt, func(step string, f float64) { p.report(i, k, step, f) })
		if ctxErr := ctx.Err(); ctxErr != nil {
			// Whatever the runner made of the cancellation, the caller
			// asked for it and gets exactly that back.
			return Report{}, fmt.Errorf("running the %s benchmark: %w", k, ctxErr)
		}
		if err != nil {
			return Report{}, fmt.Errorf("running the %s benchmark: %w", k, err)
		}
		res.Kind = k
		res.Duration = time.Since(start)
		rep.Results = append(rep.Results, res)
	}
	rep.Host = hostSummary(ctx, rep.Results)
	rep.Score, rep.Tier = Score(rep)
	p.done()
	return rep, nil
}

// normalize puts kinds in run order without duplicates and rejects unknown
// ones, so a typo in a caller's list is an error rather than a silent gap.
func normalize(kinds []Kind) ([]Kind, error) {
	if len(kinds) == 0 {
		return AllKinds(), nil
	}
	var out []Kind
	for _, k := range AllKinds() {
		if slices.Contains(kinds, k) {
			out = append(out, k)
		}
	}
	for _, k := range kinds {
		if !slices.Contains(out, k) {
			return nil, fmt.Errorf("checking benchmark kinds: unknown kind %q", k)
		}
	}
	return out, nil
}

// progressor maps each benchmark's own 0..1 onto an equal slice of the
// whole run and keeps the fraction from ever going back, whatever a runner
// reports.
type progressor struct {
	fn   func(Progress)
	n    int
	last float64
}

func (p *progressor) report(i int, k Kind, step string, f float64) {
	if p.fn == nil {
		return
	}
	f = (float64(i) + min(max(f, 0), 1)) / float64(p.n)
	f = max(f, p.last)
	p.last = f
	p.fn(Progress{Kind: k, Step: step, Fraction: f})
}

func (p *progressor) done() {
	if p.fn != nil {
		p.fn(Progress{Step: "Done", Fraction: 1})
	}
}
