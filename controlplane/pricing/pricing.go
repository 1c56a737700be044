// Package pricing prices a GPU-hour: Quote is the one function that says
// what a requester pays, what the device earns and what the platform keeps.
//
// No float touches money. Prices are int64 micro-USD; every multiplier is
// an integer in basis points (10000 = ×1.00), applied in a fixed order with
// exact a·b/c arithmetic (128-bit intermediate, rounded down at each step)
// that fails rather than overflows. docs/PRICING.md publishes the formula,
// every number in it and a worked example that the tests check to the
// micro-dollar; change the page, this package and its tests together.
package pricing

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Inputs describe one GPU-hour to price.
type Inputs struct {
	// Tier is the device's benchmark tier (shared/bench/score), or Unrated.
	// The price uses the tier, never the float score.
	Tier string
	// DownMbps is the device's measured download bandwidth; 0 if unmeasured.
	DownMbps int
	// Matching is how many devices match the request; Busy is how many of
	// those are already rented.
	Matching int
	Busy     int
	// At is when the rental starts; its hour in the region's local time
	// decides the peak surcharge, which then holds for the whole rental.
	At time.Time
	// Region is one of Config.RegionOffsets, or "" if unknown.
	Region string
	// Hours is the commitment length, MinHours..MaxHours.
	Hours int
}

// Factor is one multiplier that Quote applied, for display.
type Factor struct {
	Name        string // one of the Factor… constants
	BasisPoints int64  // 10000 = ×1.00
	Why         string // the input that chose it, in words
	After       int64  // the device's rate per hour after this factor, micro-USD
}

// Multiplier writes the factor as "×1.05".
func (f Factor) Multiplier() string { return formatBP(f.BasisPoints) }

// Price is a quote per GPU-hour, in micro-USD. The requester pays
// PricePerHour; of it, FeePerHour = ⌊PricePerHour × fee / 10000⌋ goes to
// the platform and SupplierPerHour, the rest, to the device's owner:
//
//	SupplierPerHour + FeePerHour == PricePerHour
//
// SupplierPerHour is what suppliers see as "what your device earns per
// hour". It is the published formula exactly: BasePerHour times each
// Factor in order. PricePerHour is the least price whose fee leaves exactly
// that to the supplier.
type Price struct {
	BasePerHour     int64 // the tier's base rate, before any factor
	SupplierPerHour int64
	FeePerHour      int64
	PricePerHour    int64
	Factors         []Factor // in the order applied
}

// ErrInvalidInput is the kind of every *InputError.
var ErrInvalidInput = errors.New("invalid pricing input")

// ErrNoSupply means no device matches the request, so there's no price.
var ErrNoSupply = errors.New("no matching supply")

// InputError lists everything wrong with a quote's inputs, in words a
// requester can act on. errors.Is(err, ErrInvalidInput) holds.
type InputError struct {
	Problems []string
}

func (e *InputError) Error() string { return strings.Join(e.Problems, "; ") }

// Is makes every InputError an ErrInvalidInput.
func (e *InputError) Is(target error) bool { return target == ErrInvalidInput }

// Quote prices one GPU-hour. It checks the config and then the inputs,
// reporting all problems with the inputs together as an *InputError;
// no matching devices at all is ErrNoSupply.
//
// The device's rate starts at the tier's base rate and is multiplied, in
// this order and each time rounded down to the micro-dollar, by the
// bandwidth, demand, peak, commitment and region factors.
func Quote(in Inputs, cfg Config) (Price, error) {
	if err := cfg.Validate(); err != nil {
		return Price{}, fmt.Errorf("checking pricing config: %w", err)
	}
	if err := in.validate(cfg); err != nil {
		return Price{}, err
	}
	if in.Matching == 0 {
		return Price{}, ErrNoSupply
	}

	demand, err := demandFactor(in.Busy, in.Matching)
	if err != nil {
		return Price{}, fmt.Errorf("computing demand: %w", err)
	}
	p := Price{
		BasePerHour: cfg.BasePerHour[in.Tier],
		Factors: []Factor{
			bandwidthFactor(in.DownMbps),
			demand,
			peakFactor(in.At, in.Region, cfg),
			commitmentFactor(in.Hours),
			regionFactor(in.Region, cfg),
		},
	}
	rate := p.BasePerHour
	for i := range p.Factors {
		f := &p.Factors[i]
		if rate, err = mulDiv(rate, f.BasisPoints, bpOne); err != nil {
			return Price{}, fmt.Errorf("applying the %s factor: %w", f.Name, err)
		}
		f.After = rate
	}
	if rate == 0 {
		return Price{}, fmt.Errorf("pricing %s: the rate rounds to 0 micro-USD; raise the base rate", tierName(in.Tier))
	}
	p.SupplierPerHour = rate
	if p.PricePerHour, err = grossUp(rate, cfg.FeeBasisPoints); err != nil {
		return Price{}, fmt.Errorf("adding the platform fee: %w", err)
	}
	p.FeePerHour = p.PricePerHour - p.SupplierPerHour
	return p, nil
}

// grossUp returns the least requester price P whose fee ⌊P·fee/10000⌋
// leaves exactly s to the supplier. P − ⌊P·fee/10000⌋ = ⌈P·(10000−fee)/10000⌉
// climbs by 0 or 1 as P climbs by 1, so every s is reached, first at
//
//	P = ⌊(s − 1) · 10000 / (10000 − fee)⌋ + 1   (s > 0).
//
// Rounding P up from s/(1−fee) instead would sometimes overshoot by a
// micro-dollar and pay the supplier more than the formula says.
func grossUp(s, feeBP int64) (int64, error) {
	if s <= 0 {
		return 0, nil
	}
	q, err := mulDiv(s-1, bpOne, bpOne-feeBP)
	if err != nil {
		return 0, err
	}
	if q == math.MaxInt64 {
		return 0, ErrOverflow
	}
	return q + 1, nil
}

func (in Inputs) validate(cfg Config) error {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	if !slices.Contains(tiers, in.Tier) {
		bad("unknown tier %q: want %s", in.Tier, knownTiers())
	}
	if _, ok := cfg.RegionOffsets[in.Region]; !ok && in.Region != "" {
		bad("unknown region %q: want %s", in.Region, knownRegions(cfg))
	}
	if in.DownMbps < 0 {
		bad("download bandwidth can't be negative, got %d Mbit/s", in.DownMbps)
	}
	if in.Matching < 0 {
		bad("the number of matching devices can't be negative, got %d", in.Matching)
	}
	if in.Busy < 0 {
		bad("the number of busy devices can't be negative, got %d", in.Busy)
	}
	if in.Busy > in.Matching && in.Matching >= 0 {
		bad("%d devices busy but only %d match: busy devices are counted among the matching ones", in.Busy, in.Matching)
	}
	if in.Hours < MinHours || in.Hours > MaxHours {
		bad("commitment must be %d to %d hours, got %d", MinHours, MaxHours, in.Hours)
	}
	if in.At.IsZero() {
		bad("the rental's start time is missing")
	}
	if problems != nil {
		return &InputError{Problems: problems}
	}
	return nil
}

// Total is what the requester pays for gpus GPUs over hours hours at p:
// PricePerHour × gpus × hours. The fee and the supplier's share of a total
// are FeePerHour and SupplierPerHour times the same count, so the split
// stays exact.
func Total(p Price, gpus, hours int) (int64, error) {
	var problems []string
	if p.PricePerHour < 0 {
		problems = append(problems, fmt.Sprintf("price per hour can't be negative, got %d micro-USD", p.PricePerHour))
	}
	if gpus < 1 {
		problems = append(problems, fmt.Sprintf("need at least 1 GPU, got %d", gpus))
	}
	if hours < 1 {
		problems = append(problems, fmt.Sprintf("need at least 1 hour, got %d", hours))
	}
	if problems != nil {
		return 0, &InputError{Problems: problems}
	}
	perHour, err := mul(p.PricePerHour, int64(gpus))
	if err != nil {
		return 0, fmt.Errorf("totalling %d GPUs × %d h: %w", gpus, hours, err)
	}
	total, err := mul(perHour, int64(hours))
	if err != nil {
		return 0, fmt.Errorf("totalling %d GPUs × %d h: %w", gpus, hours, err)
	}
	return total, nil
}
