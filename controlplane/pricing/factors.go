package pricing

import (
	"fmt"
	"strings"
	"time"
)

// bpOne is ×1.00 in basis points.
const bpOne int64 = 10_000

// Factor names, in the order Quote applies them.
const (
	FactorBandwidth  = "bandwidth"
	FactorDemand     = "demand"
	FactorPeak       = "peak"
	FactorCommitment = "commitment"
	FactorRegion     = "region"
)

// The commitment a quote accepts, in hours: up to 30 days.
const (
	MinHours = 1
	MaxHours = 720
)

// bandwidthBands price the device's measured download speed, highest band
// first. Jobs load models and data sets over it, so a slow line costs the
// requester time. A device whose bandwidth wasn't measured (0) is in the
// lowest band: unproven is priced as slow.
var bandwidthBands = []struct {
	fromMbps int
	bp       int64
	label    string
}{
	{1000, 11_000, "1000 Mbit/s or more"},
	{500, 10_500, "500–999 Mbit/s"},
	{100, bpOne, "100–499 Mbit/s"},
	{0, 9_000, "below 100 Mbit/s"},
}

// Demand: the share u of matching devices already rented. Below the knee
// the price doesn't move; from the knee it rises linearly to demandFullBP
// when every matching device is busy:
//
//	bp = 10000 + (u − 5000) × (15000 − 10000) / (10000 − 5000)   for u ≥ 5000
//
// which with these numbers is simply 10000 + (u − 5000): one basis point
// of price per basis point of utilisation above half.
const (
	demandKneeBP int64 = 5_000
	demandFullBP int64 = 15_000
)

// peakBP is the surcharge when a rental starts in the region's local peak
// hours (Config.PeakHours): the evenings, when gamers want their GPU back
// and fewer devices are idle.
const peakBP int64 = 11_500

// commitmentBands discount longer commitments, longest first: a device
// booked for days is worth more to its supplier than one rented by the
// hour.
var commitmentBands = []struct {
	fromHours int
	bp        int64
	label     string
}{
	{168, 9_000, "168 h (a week) or more"},
	{24, 9_500, "24–167 h"},
	{MinHours, bpOne, "1–23 h"},
}

func bandwidthFactor(downMbps int) Factor {
	b := bandwidthBands[len(bandwidthBands)-1]
	for _, c := range bandwidthBands {
		if downMbps >= c.fromMbps {
			b = c
			break
		}
	}
	return Factor{Name: FactorBandwidth, BasisPoints: b.bp,
		Why: fmt.Sprintf("%d Mbit/s download is in the %s band", downMbps, b.label)}
}

// demandFactor needs 0 ≤ busy ≤ matching and matching > 0.
func demandFactor(busy, matching int) (Factor, error) {
	u, err := mulDiv(int64(busy), bpOne, int64(matching))
	if err != nil {
		return Factor{}, err
	}
	f := Factor{Name: FactorDemand, BasisPoints: bpOne,
		Why: fmt.Sprintf("%d of %d matching devices busy (%s)", busy, matching, percent(u))}
	if u < demandKneeBP {
		f.Why += fmt.Sprintf(", below %s", percent(demandKneeBP))
		return f, nil
	}
	extra, err := mulDiv(u-demandKneeBP, demandFullBP-bpOne, bpOne-demandKneeBP)
	if err != nil {
		return Factor{}, err
	}
	f.BasisPoints += extra
	return f, nil
}

// peakFactor judges the start hour in the region's local time; an unknown
// region is judged in UTC.
func peakFactor(at time.Time, region string, cfg Config) Factor {
	off := cfg.RegionOffsets[region]
	hour := at.UTC().Add(time.Duration(off) * time.Hour).Hour()
	from, to := cfg.PeakHours[0], cfg.PeakHours[1]
	var peak bool
	switch {
	case from < to:
		peak = from <= hour && hour < to
	case from > to: // wraps past midnight
		peak = hour >= from || hour < to
	}
	where := fmt.Sprintf("local in %s (UTC%+d)", region, off)
	if region == "" {
		where = "UTC (region unknown)"
	}
	window := fmt.Sprintf("%02d:00–%02d:00", from, to)
	if from == to {
		window = "none"
	}
	if peak {
		return Factor{Name: FactorPeak, BasisPoints: peakBP,
			Why: fmt.Sprintf("starts %02d:00 %s, in peak hours (%s)", hour, where, window)}
	}
	return Factor{Name: FactorPeak, BasisPoints: bpOne,
		Why: fmt.Sprintf("starts %02d:00 %s, off-peak (peak hours: %s)", hour, where, window)}
}

func commitmentFactor(hours int) Factor {
	b := commitmentBands[len(commitmentBands)-1]
	for _, c := range commitmentBands {
		if hours >= c.fromHours {
			b = c
			break
		}
	}
	return Factor{Name: FactorCommitment, BasisPoints: b.bp,
		Why: fmt.Sprintf("%d h commitment is in the %s band", hours, b.label)}
}

func regionFactor(region string, cfg Config) Factor {
	if region == "" {
		return Factor{Name: FactorRegion, BasisPoints: bpOne, Why: "region unknown"}
	}
	bp, ok := cfg.RegionBP[region]
	if !ok {
		bp = bpOne
	}
	return Factor{Name: FactorRegion, BasisPoints: bp, Why: region}
}

// formatBP writes basis points as a multiplier with two to four decimals:
// 10500 → "×1.05", 11666 → "×1.1666".
func formatBP(bp int64) string {
	frac := strings.TrimRight(fmt.Sprintf("%04d", bp%bpOne), "0")
	for len(frac) < 2 {
		frac += "0"
	}
	return fmt.Sprintf("×%d.%s", bp/bpOne, frac)
}

// percent writes basis points as a percentage: 8000 → "80.00 %".
func percent(bp int64) string {
	return fmt.Sprintf("%d.%02d %%", bp/100, bp%100)
}
