package pricing

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/idlegrid/idlegrid/shared/bench/score"
)

// Unrated is the tier of a device that has no benchmark yet.
const Unrated = ""

// tiers are the device tiers a quote accepts, cheapest first. Config must
// price each of them, in this order of rates, so that a better tier is
// never cheaper.
var tiers = []string{Unrated, score.TierBronze, score.TierSilver, score.TierGold, score.TierPlatinum}

// Config holds the operator's pricing knobs. The bands of the factors
// (bandwidth, demand, peak surcharge, commitment) are constants in
// factors.go, published in docs/PRICING.md.
type Config struct {
	// FeeBasisPoints is the platform's share of the requester's price,
	// 0 ≤ fee < 10000 (500 = 5 %).
	FeeBasisPoints int64
	// BasePerHour is what a device of each tier earns per GPU-hour before
	// any factor, in micro-USD. Keys are the benchmark tiers and Unrated.
	BasePerHour map[string]int64
	// PeakHours is the local-time window [from, to) of the peak surcharge,
	// in whole hours 0..24. from > to wraps past midnight; from == to
	// means no peak hours.
	PeakHours [2]int
	// RegionOffsets is each known region's UTC offset in whole hours
	// (-12..14), used to find the local hour of a rental's start. Its keys
	// are the regions a quote accepts.
	RegionOffsets map[string]int
	// RegionBP is each region's multiplier in basis points; a known region
	// missing here is ×1.00.
	RegionBP map[string]int64
}

// DefaultConfig returns the published defaults (docs/PRICING.md).
//
// Base rates are set near the 2026 market for consumer GPUs, so that a
// requester's price at neutral factors (100–499 Mbit/s, under half the
// matching devices busy, off-peak, short commitment) lands where community
// clouds list the same cards: an RTX 4090 (platinum) at about $0.34/h
// against $0.31–0.45/h on Vast.ai and $0.34/h on RunPod; an RTX 3090 or
// 4080 (gold) at about $0.19/h against $0.18–0.30/h; an RTX 3060
// (silver) at about $0.08/h. Unrated devices earn less than bronze: their
// hardware is unproven.
//
// Regions are offsets of standard time; daylight saving is ignored, which
// moves the peak window by an hour in summer.
func DefaultConfig() Config {
	return Config{
		FeeBasisPoints: 500,
		BasePerHour: map[string]int64{
			Unrated:            20_000,
			score.TierBronze:   30_000,
			score.TierSilver:   80_000,
			score.TierGold:     180_000,
			score.TierPlatinum: 320_000,
		},
		PeakHours: [2]int{17, 23},
		RegionOffsets: map[string]int{
			"us-west":       -8,
			"us-central":    -6,
			"us-east":       -5,
			"south-america": -3,
			"eu-west":       1,
			"eu-east":       2,
			"asia":          8,
			"oceania":       10,
		},
		RegionBP: map[string]int64{
			"us-west":       bpOne,
			"us-central":    bpOne,
			"us-east":       bpOne,
			"south-america": bpOne,
			"eu-west":       bpOne,
			"eu-east":       bpOne,
			"asia":          bpOne,
			"oceania":       bpOne,
		},
	}
}

// Validate reports every problem with the config together.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if c.FeeBasisPoints < 0 || c.FeeBasisPoints >= bpOne {
		bad("fee must be 0 to 9999 basis points, got %d", c.FeeBasisPoints)
	}
	prev, prevTier := int64(0), ""
	for _, t := range tiers {
		rate, ok := c.BasePerHour[t]
		switch {
		case !ok:
			bad("no base rate for %s", tierName(t))
		case rate <= 0:
			bad("base rate for %s must be positive, got %d micro-USD", tierName(t), rate)
		case rate < prev:
			bad("base rate for %s (%d) is below %s (%d): a better tier must never be cheaper", tierName(t), rate, tierName(prevTier), prev)
		}
		if ok && rate >= prev {
			prev, prevTier = rate, t
		}
	}
	for t := range c.BasePerHour {
		if !slices.Contains(tiers, t) {
			bad("base rate for unknown tier %q: want %s", t, knownTiers())
		}
	}
	for i, h := range c.PeakHours {
		if h < 0 || h > 24 {
			bad("peak hours must be 0 to 24, got %d in position %d", h, i)
		}
	}
	for r, off := range c.RegionOffsets {
		if off < -12 || off > 14 {
			bad("region %q: UTC offset must be -12 to 14 hours, got %d", r, off)
		}
		if r == "" {
			bad("a region needs a name; the empty region means unknown")
		}
	}
	for r, bp := range c.RegionBP {
		if _, ok := c.RegionOffsets[r]; !ok {
			bad("region %q has a multiplier but no UTC offset", r)
		}
		if bp <= 0 {
			bad("region %q: multiplier must be positive basis points, got %d", r, bp)
		}
	}
	return errors.Join(errs...)
}

func tierName(t string) string {
	if t == Unrated {
		return "unrated devices"
	}
	return fmt.Sprintf("tier %q", t)
}

func knownTiers() string {
	return strings.Join(tiers[1:], ", ") + `, or "" for an unrated device`
}

func knownRegions(c Config) string {
	names := make([]string, 0, len(c.RegionOffsets))
	for r := range c.RegionOffsets {
		names = append(names, r)
	}
	slices.Sort(names)
	return strings.Join(names, ", ") + `, or "" if unknown`
}
