package agent

import (
	"context"
	"sync"
	"time"

	"github.com/idlegrid/idlegrid/shared/hw"
)

// Sample is one reading of the whole machine at one moment.
type Sample struct {
	At   time.Time
	GPUs []hw.GPUSample
	Host hw.HostSample
	Err  string // why the GPUs could not be read, if they could not
}

// Monitor samples the machine on a fixed period and keeps a window of
// history for charts and the guard. One monitor per process: heartbeats,
// the dashboard and the guard all read from it, so the driver is asked once
// per period however many readers there are.
type Monitor struct {
	GPU    hw.GPUProbe
	Host   hw.HostProbe
	Every  time.Duration // default 1 s
	Window time.Duration // history kept; default 10 min
	Now    func() time.Time

	mu      sync.Mutex
	history []Sample // oldest first
	subs    map[chan struct{}]struct{}
}

func (m *Monitor) defaults() {
	if m.Every <= 0 {
		m.Every = time.Second
	}
	if m.Window <= 0 {
		m.Window = 10 * time.Minute
	}
	if m.Now == nil {
		m.Now = time.Now
	}
	if m.GPU == nil {
		m.GPU = hw.None("no GPU probe configured")
	}
}

// Serve samples until ctx ends.
func (m *Monitor) Serve(ctx context.Context) error {
	m.defaults()
	t := time.NewTicker(m.Every)
	defer t.Stop()
	for {
		m.SampleNow(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// SampleNow takes one sample immediately (also used by tests to step the
// monitor without a ticker).
func (m *Monitor) SampleNow(ctx context.Context) Sample {
	m.defaults()
	s := Sample{At: m.Now()}
	gpus, err := m.GPU.Sample(ctx)
	if err != nil {
		s.Err = err.Error()
	}
	s.GPUs = gpus
	if m.Host != nil {
		s.Host, _ = m.Host.Sample(ctx) // a failed host read leaves zeros; GPUs matter more
	}
	m.mu.Lock()
	m.history = append(m.history, s)
	cut := 0
	for cut < len(m.history) && s.At.Sub(m.history[cut].At) > m.Window {
		cut++
	}
	if cut > 0 {
		m.history = append(m.history[:0:0], m.history[cut:]...)
	}
	if m.subs == nil {
		m.subs = map[chan struct{}]struct{}{}
	}
	for ch := range m.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	m.mu.Unlock()
	return s
}

// Latest returns the newest sample, or ok=false before the first.
func (m *Monitor) Latest() (Sample, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.history) == 0 {
		return Sample{}, false
	}
	return m.history[len(m.history)-1], true
}

// History returns a copy of the kept window, oldest first.
func (m *Monitor) History() []Sample {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Sample(nil), m.history...)
}

// Subscribe signals (coalesced) after every new sample.
func (m *Monitor) Subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	m.mu.Lock()
	if m.subs == nil {
		m.subs = map[chan struct{}]struct{}{}
	}
	m.subs[ch] = struct{}{}
	m.mu.Unlock()
	return ch, func() {
		m.mu.Lock()
		delete(m.subs, ch)
		m.mu.Unlock()
	}
}
