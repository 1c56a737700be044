package supplier

import (
	"context"
	"fmt"

	"github.com/idlegrid/idlegrid/shared/bench"
	"github.com/idlegrid/idlegrid/shared/proto"
)

// RunBenchmark measures this machine (every kind unless kinds are given),
// keeps the report in the device's history and sends it to the control
// plane (now, or when the link is next up). progress may be nil.
func (s *Supplier) RunBenchmark(ctx context.Context, kinds []bench.Kind, progress func(bench.Progress)) (bench.Report, error) {
	opt := s.cfg.Bench
	opt.DataDir = s.cfg.DataDir
	if st := s.Agent.State(); st.ServerURL != "" {
		opt.ServerURL = st.ServerURL
	} else {
		opt.ServerURL = s.Settings().ServerURL
	}
	rep, err := bench.Run(ctx, kinds, opt, progress)
	if err != nil {
		return bench.Report{}, fmt.Errorf("running benchmarks: %w", err)
	}
	if err := bench.Save(s.cfg.DataDir, rep); err != nil {
		return rep, fmt.Errorf("saving the benchmark: %w", err)
	}
	if s.Agent.Paired() {
		s.Agent.SendBenchReport(proto.BenchReportOf(rep))
	}
	s.notify()
	return rep, nil
}

// BenchHistory lists past runs, newest first.
func (s *Supplier) BenchHistory() ([]bench.Report, error) {
	return bench.History(s.cfg.DataDir)
}
