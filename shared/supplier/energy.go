package supplier

import (
	"time"

	"github.com/idlegrid/idlegrid/shared/agent"
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

// Earnings is what the supplier has earned and been paid. Until metering
// and payouts exist on the control plane, Available is false and Note says
// so: the screen shows an honest empty state, never invented figures.
type Earnings struct {
	Available bool
	Note      string
}

// EarningsNow returns the earnings view.
func (s *Supplier) EarningsNow() Earnings {
	return Earnings{Note: "No earnings yet. Earnings start when your GPU runs its first job; the network's metering and payouts are being switched on."}
}
