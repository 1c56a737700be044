package sched

import (
	"container/heap"
	"slices"
)

// Candidate is one free device that matches a request, priced.
type Candidate struct {
	DeviceID, SupplierID, GPUModel, Region, Tier       string
	GPUs                                               int
	PricePerGPUHour, SupplierPerGPUHour, FeePerGPUHour int64
	Bench                                              float64 // benchmark score (docs/BENCHMARKS.md); 0: none yet
	Reputation                                         float64 // 0..1
	DownMbps                                           int
	Verified                                           bool
	Simulated                                          bool
}

// Weights of the placement score; they add up to 1.
const (
	weightPrice      = 0.5
	weightBench      = 0.2
	weightReputation = 0.2
	weightBandwidth  = 0.1
	fullBandwidth    = 1000 // Mbps that earn the whole bandwidth weight
)

// Place picks devices covering gpus GPUs: the best-scoring devices of one
// region when any region alone has enough, else the best overall. A
// device's score mixes price (cheapest is best), benchmark, reputation and
// bandwidth, each relative to the candidates at hand. ok is false when the
// candidates hold fewer GPUs than asked. Place does not change cands; it
// runs in O(n log gpus).
func Place(cands []Candidate, gpus int) (picked []Candidate, ok bool) {
	return PlaceExcept(cands, gpus, nil)
}

// PlaceExcept is Place leaving out the devices in except. It keeps
// len(except) more offers per region rather than looking every candidate
// up in except, so a few exclusions cost next to nothing.
func PlaceExcept(cands []Candidate, gpus int, except map[string]bool) (picked []Candidate, ok bool) {
	if gpus < 1 || len(cands) == 0 {
		return nil, gpus < 1
	}
	minPrice, maxBench := cands[0].PricePerGPUHour, 0.0
	for _, c := range cands {
		minPrice = min(minPrice, c.PricePerGPUHour)
		maxBench = max(maxBench, c.Bench)
	}
	benchWeight := 0.0 // per unit of benchmark score
	if maxBench > 0 {
		benchWeight = weightBench / maxBench
	}
	priceWeight := weightPrice * float64(minPrice)
	score := func(c *Candidate) float64 {
		s := weightReputation*c.Reputation + benchWeight*c.Bench + weightBandwidth*min(float64(c.DownMbps)/fullBandwidth, 1)
		if c.PricePerGPUHour > 0 {
			return s + priceWeight/float64(c.PricePerGPUHour)
		}
		return s + weightPrice
	}
	// The best gpus devices of each region and overall are enough: every
	// device holds at least one GPU. Regions are few: a short list, with
	// the last one found tried first, is much cheaper than a map lookup per
	// device (measured: 4.3 → 2 ms for 100,000 devices).
	var regions []*regionTop
	var last *regionTop
	keep := gpus + len(except) // enough that gpus remain after leaving except out
	all := &topK{k: keep}
	for i := range cands {
		c := &cands[i]
		s := scored{c: c, score: score(c)}
		if last == nil || last.region != c.Region {
			last = nil
			for _, r := range regions {
				if r.region == c.Region {
					last = r
					break
				}
			}
			if last == nil {
				last = &regionTop{region: c.Region, topK: topK{k: keep}}
				regions = append(regions, last)
			}
		}
		last.offer(s)
		all.offer(s)
	}
	var best []scored
	var bestMean float64
	for _, t := range regions {
		sel, covered := t.take(gpus, except)
		if !covered {
			continue
		}
		if mean := meanScore(sel); best == nil || mean > bestMean || (mean == bestMean && sel[0].c.Region < best[0].c.Region) {
			best, bestMean = sel, mean
		}
	}
	if best == nil {
		var covered bool
		if best, covered = all.take(gpus, except); !covered {
			return nil, false
		}
	}
	out := make([]Candidate, len(best))
	for i, s := range best {
		out[i] = *s.c
	}
	return out, true
}

// regionTop is the best offers within one region.
type regionTop struct {
	region string
	topK
}

type scored struct {
	c     *Candidate
	score float64
}

// better orders by score, then device id, so placement is deterministic.
func better(a, b scored) bool {
	if a.score != b.score {
		return a.score > b.score
	}
	return a.c.DeviceID < b.c.DeviceID
}

// topK keeps the k best offers in a min-heap (worst on top).
type topK struct {
	k  int
	xs []scored
}

func (t *topK) Len() int           { return len(t.xs) }
func (t *topK) Less(i, j int) bool { return better(t.xs[j], t.xs[i]) }
func (t *topK) Swap(i, j int)      { t.xs[i], t.xs[j] = t.xs[j], t.xs[i] }
func (t *topK) Push(x any)         { t.xs = append(t.xs, x.(scored)) }
func (t *topK) Pop() any {
	x := t.xs[len(t.xs)-1]
	t.xs = t.xs[:len(t.xs)-1]
	return x
}

func (t *topK) offer(s scored) {
	if len(t.xs) < t.k {
		heap.Push(t, s)
		return
	}
	if better(s, t.xs[0]) {
		t.xs[0] = s
		heap.Fix(t, 0)
	}
}

// take returns the best offers not in except, best first, up to the first
// that covers gpus GPUs.
func (t *topK) take(gpus int, except map[string]bool) ([]scored, bool) {
	sorted := slices.DeleteFunc(slices.Clone(t.xs), func(s scored) bool { return except[s.c.DeviceID] })
	slices.SortFunc(sorted, func(a, b scored) int {
		switch {
		case better(a, b):
			return -1
		case better(b, a):
			return 1
		}
		return 0
	})
	got := 0
	for i, s := range sorted {
		got += s.c.GPUs
		if got >= gpus {
			return sorted[:i+1], true
		}
	}
	return nil, false
}

func meanScore(xs []scored) float64 {
	var sum float64
	for _, s := range xs {
		sum += s.score
	}
	return sum / float64(len(xs))
}
