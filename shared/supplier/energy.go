package supplier

import (
	"time"

	"github.com/idlegrid/idlegrid/shared/agent"
	"github.com/idlegrid/idlegrid/shared/proto"
)

// Energy is the electricity the GPUs used over the kept window, projected
// to a day at the supplier's price. It is an estimate for display: money
// that is owed or paid is never a float (see shared/money).
type Energy struct {
	AvgPowerW  float64
	KWhPerDay  float64
	CostPerDay float64
	Currency   string
	Window     time.Duration // how much history the average covers
}

// EstimateEnergy integrates measured GPU power over the samples
// (trapezoids between consecutive samples) and projects it to 24 hours.
func EstimateEnergy(samples []agent.Sample, pricePerKWh float64, currency string) Energy {
	e := Energy{Currency: currency}
	if len(samples) < 2 {
		return e
	}
	var joules float64
	for i := 1; i < len(samples); i++ {
		dt := samples[i].At.Sub(samples[i-1].At).Seconds()
		if dt <= 0 {
			continue
		}
		joules += (gpuWatts(samples[i-1]) + gpuWatts(samples[i])) / 2 * dt
	}
	e.Window = samples[len(samples)-1].At.Sub(samples[0].At)
	if e.Window <= 0 {
		return e
	}
	e.AvgPowerW = joules / e.Window.Seconds()
	e.KWhPerDay = e.AvgPowerW * 24 / 1000
	e.CostPerDay = e.KWhPerDay * pricePerKWh
	return e
}

func gpuWatts(s agent.Sample) float64 {
	var mw uint64
	for _, g := range s.GPUs {
		mw += uint64(g.PowerMW)
	}
	return float64(mw) / 1000
}

// Earnings is what the account has earned and been paid, as the control
// plane last said (micro-USD), with its latest payouts.
type Earnings struct {
	Known           bool // false until the control plane has told us
	Pending         int64
	Payable         int64
	Paid            int64
	Wallet          string
	NextPayoutAfter time.Time
	Payouts         []proto.PayoutLine
}

// EarningsNow returns what the control plane last sent.
func (s *Supplier) EarningsNow() Earnings {
	ds := s.Agent.Status().Device
	if ds.Verification == "" {
		return Earnings{}
	}
	return Earnings{Known: true, Pending: ds.Pending, Payable: ds.Payable, Paid: ds.Paid, Wallet: ds.Wallet, NextPayoutAfter: ds.NextPayoutAfter, Payouts: ds.Payouts}
}
