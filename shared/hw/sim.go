package hw

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// SimModel describes a simulated card. The numbers are close to the real
// card's so demos look plausible on a dashboard; they are not benchmarks.
type SimModel struct {
	Key          string  // short name ParseSimSpec accepts, e.g. "RTX 4090"
	Name         string  // as NVML would report it, e.g. "NVIDIA GeForce RTX 4090"
	MemoryTotal  uint64  // bytes
	TDPMW        uint32  // default and highest power limit, milliwatts
	IdleMW       uint32  // draw at 0% utilisation, milliwatts
	IdleClockMHz int     // SM clock at rest
	MaxClockMHz  int     // SM boost clock
	ThermalCPerW float64 // steady-state °C above ambient per watt drawn
	Passive      bool    // no fan of its own (datacenter cards): fan is Missing
}

const (
	gib = 1 << 30
	mib = 1 << 20
)

// simModels is the table ParseSimSpec knows. Thermal coefficients put each
// card in the low-to-high 70s °C at full TDP, as a well-cooled card runs.
var simModels = []SimModel{
	{Key: "RTX 3060", Name: "NVIDIA GeForce RTX 3060", MemoryTotal: 12 * gib, TDPMW: 170_000, IdleMW: 15_000, IdleClockMHz: 210, MaxClockMHz: 1777, ThermalCPerW: 0.24},
	{Key: "RTX 3070", Name: "NVIDIA GeForce RTX 3070", MemoryTotal: 8 * gib, TDPMW: 220_000, IdleMW: 15_000, IdleClockMHz: 210, MaxClockMHz: 1725, ThermalCPerW: 0.19},
	{Key: "RTX 3080", Name: "NVIDIA GeForce RTX 3080", MemoryTotal: 10 * gib, TDPMW: 320_000, IdleMW: 20_000, IdleClockMHz: 210, MaxClockMHz: 1710, ThermalCPerW: 0.14},
	{Key: "RTX 3090", Name: "NVIDIA GeForce RTX 3090", MemoryTotal: 24 * gib, TDPMW: 350_000, IdleMW: 25_000, IdleClockMHz: 210, MaxClockMHz: 1695, ThermalCPerW: 0.14},
	{Key: "RTX 4070", Name: "NVIDIA GeForce RTX 4070", MemoryTotal: 12 * gib, TDPMW: 200_000, IdleMW: 12_000, IdleClockMHz: 210, MaxClockMHz: 2475, ThermalCPerW: 0.20},
	{Key: "RTX 4080", Name: "NVIDIA GeForce RTX 4080", MemoryTotal: 16 * gib, TDPMW: 320_000, IdleMW: 15_000, IdleClockMHz: 210, MaxClockMHz: 2505, ThermalCPerW: 0.12},
	{Key: "RTX 4090", Name: "NVIDIA GeForce RTX 4090", MemoryTotal: 24 * gib, TDPMW: 450_000, IdleMW: 25_000, IdleClockMHz: 210, MaxClockMHz: 2520, ThermalCPerW: 0.095},
	{Key: "RTX 5090", Name: "NVIDIA GeForce RTX 5090", MemoryTotal: 32 * gib, TDPMW: 575_000, IdleMW: 30_000, IdleClockMHz: 210, MaxClockMHz: 2407, ThermalCPerW: 0.08},
	{Key: "A100 40GB", Name: "NVIDIA A100-PCIE-40GB", MemoryTotal: 40960 * mib, TDPMW: 250_000, IdleMW: 35_000, IdleClockMHz: 210, MaxClockMHz: 1410, ThermalCPerW: 0.17, Passive: true},
	{Key: "A100 80GB", Name: "NVIDIA A100-SXM4-80GB", MemoryTotal: 81920 * mib, TDPMW: 400_000, IdleMW: 60_000, IdleClockMHz: 210, MaxClockMHz: 1410, ThermalCPerW: 0.10, Passive: true},
	{Key: "H100 80GB", Name: "NVIDIA H100 80GB HBM3", MemoryTotal: 81559 * mib, TDPMW: 700_000, IdleMW: 70_000, IdleClockMHz: 345, MaxClockMHz: 1980, ThermalCPerW: 0.06, Passive: true},
	{Key: "L4", Name: "NVIDIA L4", MemoryTotal: 23034 * mib, TDPMW: 72_000, IdleMW: 16_000, IdleClockMHz: 210, MaxClockMHz: 2040, ThermalCPerW: 0.55, Passive: true},
}

// SimModels lists the models ParseSimSpec knows, for help text and pickers.
func SimModels() []SimModel { return slices.Clone(simModels) }

// maxSimGPUs bounds a spec so a typo like "RTX 4090x2000" is caught instead
// of building a dashboard nobody can read.
const maxSimGPUs = 64

// ParseSimSpec turns a spec like "RTX 4090x2,A100 80GB" into one SimModel per
// card. Model names are matched ignoring case, spaces, dashes and an
// "NVIDIA"/"GeForce" prefix; the count after "x" defaults to 1.
func ParseSimSpec(spec string) ([]SimModel, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, errors.New(`parsing GPU spec: it is empty; want e.g. "RTX 4090x2,A100 80GB"`)
	}
	var out []SimModel
	for i, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			return nil, fmt.Errorf("parsing GPU spec %q: part %d is empty", spec, i+1)
		}
		m, n, err := parseSimPart(part)
		if err != nil {
			return nil, fmt.Errorf("parsing GPU spec %q: %w", spec, err)
		}
		if len(out)+n > maxSimGPUs {
			return nil, fmt.Errorf("parsing GPU spec %q: more than %d GPUs", spec, maxSimGPUs)
		}
		for range n {
			out = append(out, m)
		}
	}
	return out, nil
}

// parseSimPart reads one "MODEL" or "MODELxN". A whole-part match is tried
// first, and "xN" is a count only after a known model, since model names
// contain x's of their own: "RTX 9999" is an unknown model, not 9999 "RT"s.
func parseSimPart(part string) (SimModel, int, error) {
	if m, ok := lookupSimModel(part); ok {
		return m, 1, nil
	}
	if i := strings.LastIndexAny(part, "xX"); i >= 0 {
		name, rest := strings.TrimSpace(part[:i]), strings.TrimSpace(part[i+1:])
		// Only something that starts like a number is a count.
		if rest != "" && strings.ContainsAny(rest[:1], "+-0123456789") {
			if name == "" {
				return SimModel{}, 0, fmt.Errorf("%q: no model before the count", part)
			}
			if m, ok := lookupSimModel(name); ok {
				n, err := strconv.Atoi(rest)
				if err != nil || n < 1 || n > maxSimGPUs {
					return SimModel{}, 0, fmt.Errorf("%q: count %q is not a whole number from 1 to %d", part, rest, maxSimGPUs)
				}
				return m, n, nil
			}
		}
	}
	keys := make([]string, len(simModels))
	for i, m := range simModels {
		keys[i] = m.Key
	}
	return SimModel{}, 0, fmt.Errorf("unknown GPU model %q; known models: %s", part, strings.Join(keys, ", "))
}

func lookupSimModel(name string) (SimModel, bool) {
	want := normModel(name)
	for _, m := range simModels {
		if normModel(m.Key) == want || normModel(m.Name) == want {
			return m, true
		}
	}
	return SimModel{}, false
}

func normModel(s string) string {
	s = strings.ToLower(s)
	s = strings.NewReplacer(" ", "", "-", "", "_", "").Replace(s)
	s = strings.TrimPrefix(s, "nvidia")
	return strings.TrimPrefix(s, "geforce")
}

// Constants of the simulated physics.
const (
	simDriver       = "simulated"
	simAmbientC     = 30.0 // air temperature the cards cool towards
	simTauS         = 30.0 // thermal time constant, seconds
	simThrottleC    = 83.0 // above this the card sheds clock and power
	simUtilNoisePct = 3.0  // ± jitter on utilisation under load
	simBoostAtUtil  = 0.2  // utilisation from which the clock is at boost
	simMaxStepS     = 1.0  // integration step; keeps the throttle loop stable
	simSettledS     = 10 * simTauS
)

// Sim simulates GPUs for demos and tests. Its physics advance by the time
// between two Samples on the injected clock, so it needs no goroutine and
// tests can run simulated minutes in microseconds.
type Sim struct {
	mu    sync.Mutex
	now   func() time.Time
	rng   *rand.Rand
	last  time.Time
	cards []simCard
	procs []GPUProcess
}

var (
	_ GPUProbe      = (*Sim)(nil)
	_ ProcessLister = (*Sim)(nil)
	_ PowerLimiter  = (*Sim)(nil)
)

// SetProcesses sets what GPUProcesses reports, to play a game starting on a
// simulated card.
func (s *Sim) SetProcesses(procs []GPUProcess) {
	s.mu.Lock()
	s.procs = append([]GPUProcess(nil), procs...)
	s.mu.Unlock()
}

// GPUProcesses implements ProcessLister.
func (s *Sim) GPUProcesses(context.Context) ([]GPUProcess, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]GPUProcess(nil), s.procs...), nil
}

type simCard struct {
	gpu     GPU
	model   SimModel
	load    float64 // 0..1, set by SetLoad
	limitMW uint32
	tempC   float64
}

// NewSim builds one simulated card per model. seed fixes the UUIDs and the
// noise, so two Sims with the same seed, models and clock readings produce
// the same samples. now may be nil for the wall clock.
func NewSim(models []SimModel, seed int64, now func() time.Time) *Sim {
	if now == nil {
		now = time.Now
	}
	s := &Sim{now: now, rng: rand.New(rand.NewPCG(uint64(seed), 0x5eed)), last: now()}
	for i, m := range models {
		// Guard hand-made models against values the physics cannot use.
		m.TDPMW = max(m.TDPMW, m.IdleMW, 1)
		m.MaxClockMHz = max(m.MaxClockMHz, m.IdleClockMHz)
		s.cards = append(s.cards, simCard{
			gpu: GPU{
				Index: i, UUID: simUUID(seed, i), Name: m.Name,
				MemoryTotal: m.MemoryTotal, Driver: simDriver, Simulated: true,
			},
			model:   m,
			limitMW: m.TDPMW,
			tempC:   simAmbientC + m.ThermalCPerW*watts(m.IdleMW), // settled at idle
		})
	}
	return s
}

// simUUID makes a UUID shaped like NVML's ("GPU-" and 8-4-4-4-12 hex digits)
// with "sim-" in it, so a simulated card is recognisable in any log.
func simUUID(seed int64, i int) string {
	r := rand.New(rand.NewPCG(uint64(seed), uint64(i)))
	a, b := r.Uint64(), r.Uint64()
	return fmt.Sprintf("GPU-sim-%08x-%04x-%04x-%04x-%012x",
		a>>32, (a>>16)&0xffff, a&0xffff, b>>48, b&0xffff_ffff_ffff)
}

// Status says the simulated cards are available; an empty Sim says why not.
func (s *Sim) Status() GPUStatus {
	if len(s.cards) == 0 {
		return GPUStatus{Reason: "no simulated GPUs configured"}
	}
	return GPUStatus{Available: true, Driver: simDriver}
}

// GPUs lists the simulated cards.
func (s *Sim) GPUs() []GPU {
	// Only the immutable gpu field is read, by index, so no lock is needed
	// while SetLoad writes other fields of the same card.
	out := make([]GPU, len(s.cards))
	for i := range s.cards {
		out[i] = s.cards[i].gpu
	}
	return out
}

// Close does nothing: there is no driver to release.
func (s *Sim) Close() error { return nil }

// SetLoad sets how busy card index is, from 0 (idle) to 1 (flat out);
// values outside are clamped and NaN counts as idle.
func (s *Sim) SetLoad(index int, load float64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.card(index)
	if err != nil {
		return fmt.Errorf("setting load: %w", err)
	}
	c.load = clampLoad(load)
	return nil
}

// SetLoadAll sets the load of every card.
func (s *Sim) SetLoadAll(load float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.cards {
		s.cards[i].load = clampLoad(load)
	}
}

// SetPowerLimit sets the enforced power limit of card index, clamped between
// 30% of TDP (and never under idle draw) and TDP, as drivers refuse limits
// outside the card's range. It returns the limit applied.
func (s *Sim) SetPowerLimit(index int, mW uint32) (uint32, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.card(index)
	if err != nil {
		return 0, fmt.Errorf("setting power limit: %w", err)
	}
	lo := max(uint32(uint64(c.model.TDPMW)*3/10), c.model.IdleMW)
	c.limitMW = min(max(mW, lo), c.model.TDPMW)
	return c.limitMW, nil
}

func (s *Sim) card(index int) (*simCard, error) {
	if index < 0 || index >= len(s.cards) {
		return nil, fmt.Errorf("no simulated GPU %d (have %d)", index, len(s.cards))
	}
	return &s.cards[index], nil
}

func clampLoad(load float64) float64 {
	if math.IsNaN(load) {
		return 0
	}
	return min(max(load, 0), 1)
}

// Sample advances the simulation to now and reads every card.
func (s *Sim) Sample(ctx context.Context) ([]GPUSample, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sampling simulated GPUs: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	dt := now.Sub(s.last).Seconds()
	if dt > 0 {
		s.last = now
	} else {
		dt = 0 // a clock that stepped back holds the state rather than rewinding it
	}
	out := make([]GPUSample, 0, len(s.cards))
	for i := range s.cards {
		out = append(out, s.cards[i].step(dt, s.rng))
	}
	return out, nil
}

// step advances one card by dt seconds and reads it. Temperature follows a
// first-order lag towards ambient + coefficient × power; the card throttles
// on the temperature it had at the previous instant, like a real controller.
// The lag is integrated in steps of at most a second, since a coarse step
// makes that feedback loop oscillate; past ten time constants every card has
// settled, so only the last of them is simulated.
func (c *simCard) step(dt float64, rng *rand.Rand) GPUSample {
	m := c.model
	util := c.load * 100
	if c.load > 0 {
		util += (rng.Float64()*2 - 1) * simUtilNoisePct
	}
	util = min(max(util, 0), 100)

	dt = min(dt, simSettledS)
	n := max(1, int(math.Ceil(dt/simMaxStepS)))
	h := dt / float64(n)
	var powerW, headroom float64
	for range n {
		powerW, headroom = c.power(util / 100)
		target := simAmbientC + m.ThermalCPerW*powerW
		c.tempC += (target - c.tempC) * (1 - math.Exp(-h/simTauS))
	}

	s := GPUSample{
		Index: c.gpu.Index, UUID: c.gpu.UUID, Name: c.gpu.Name,
		MemoryTotal:  m.MemoryTotal,
		MemoryUsed:   c.memoryUsed(),
		TempC:        int(math.Round(c.tempC)),
		PowerMW:      min(uint32(math.Round(powerW*1000)), c.limitMW),
		PowerLimitMW: c.limitMW,
		UtilPct:      int(math.Round(util)),
		SMClockMHz:   c.clock(util/100, headroom),
	}
	if m.Passive {
		s.Missing = []string{FieldFan}
	} else {
		// 30% at or below 40 °C, full speed at 80 °C.
		s.FanPct = int(math.Round(min(max(30+(c.tempC-40)*70/40, 30), 100)))
	}
	return s
}

// power returns the draw in watts at utilisation u (0..1) and the share of
// the dynamic (above-idle) power the card is allowed, which is below 1 when
// the power limit or the temperature holds it back.
func (c *simCard) power(u float64) (powerW, headroom float64) {
	idle, tdp, limit := watts(c.model.IdleMW), watts(c.model.TDPMW), watts(c.limitMW)
	want := idle + (tdp-idle)*u
	headroom = 1.0
	if want > limit && want > idle {
		headroom = (limit - idle) / (want - idle)
	}
	if c.tempC > simThrottleC {
		headroom = min(headroom, max(0.5, 1-0.05*(c.tempC-simThrottleC)))
	}
	return idle + (want-idle)*headroom, headroom
}

// clock returns the SM clock: GPUs race to boost as soon as they have work,
// and a card held to a share of its power runs at about the cube root of
// that share of its clock range (power grows roughly with f·V²).
func (c *simCard) clock(u, headroom float64) int {
	m := c.model
	busy := min(u/simBoostAtUtil, 1)
	span := float64(m.MaxClockMHz - m.IdleClockMHz)
	return m.IdleClockMHz + int(math.Round(span*busy*math.Cbrt(headroom)))
}

// memoryUsed follows the load, not the noisy utilisation: a job holds its
// memory while its kernels come and go. The driver keeps about 3% at rest.
func (c *simCard) memoryUsed() uint64 {
	total := float64(c.model.MemoryTotal)
	base := total * 0.03
	return uint64(base + (total*0.90-base)*c.load)
}

func watts(mW uint32) float64 { return float64(mW) / 1000 }
