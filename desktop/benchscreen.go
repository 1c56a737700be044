package desktop

import (
	"context"
	"fmt"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/idlegrid/idlegrid/shared/bench"
)

// benchScreen runs benchmarks with progress and shows results, tier and
// history.
type benchScreen struct {
	ui      *UI
	content fyne.CanvasObject

	run     *widget.Button
	cancel  *widget.Button
	bar     *widget.ProgressBar
	step    *widget.Label
	result  *widget.Label
	history *widget.Label
	stop    context.CancelFunc
}

func newBenchScreen(u *UI) *benchScreen {
	b := &benchScreen{ui: u, bar: widget.NewProgressBar(), step: widget.NewLabel(""), result: para(""), history: para("")}
	b.run = primary("Run benchmarks", b.start)
	b.cancel = widget.NewButton("Cancel", func() {
		if b.stop != nil {
			b.stop()
		}
	})
	b.cancel.Disable()
	b.content = container.NewVScroll(container.NewVBox(
		para("Benchmarks measure your GPU, CPU, memory, disk and connection to the network. Your tier sets what your PC earns per hour. A run takes under a minute; your PC should be idle while it runs."),
		container.NewHBox(b.run, b.cancel),
		b.bar, b.step,
		widget.NewCard("Latest result", "", b.result),
		widget.NewCard("History", "", b.history),
	))
	b.showHistory()
	return b
}

// start runs every benchmark off the UI goroutine.
func (b *benchScreen) start() {
	ctx, cancel := context.WithCancel(context.Background())
	b.stop = cancel
	b.run.Disable()
	b.cancel.Enable()
	b.bar.SetValue(0)
	b.ui.async(func() {
		defer cancel()
		rep, err := b.ui.sup.RunBenchmark(ctx, nil, func(p bench.Progress) {
			fyne.Do(func() {
				b.bar.SetValue(p.Fraction)
				b.step.SetText(p.Step)
			})
		})
		fyne.Do(func() {
			b.run.Enable()
			b.cancel.Disable()
			if err != nil {
				b.step.SetText("Stopped: " + err.Error())
				return
			}
			b.step.SetText("Done.")
			b.showHistory()
			_ = rep
		})
	})
}

func (b *benchScreen) showHistory() {
	hist, err := b.ui.sup.BenchHistory()
	switch {
	case err != nil:
		b.result.SetText("Past results could not be read: " + err.Error())
		return
	case len(hist) == 0:
		b.result.SetText("No benchmark yet. Run one to get your tier.")
		b.history.SetText("")
		return
	}
	b.result.SetText(describeReport(hist[0]))
	var lines []string
	for _, r := range hist {
		lines = append(lines, fmt.Sprintf("%s · score %.0f · %s", r.At.Local().Format("2006-01-02 15:04"), r.Score, r.Tier))
	}
	b.history.SetText(strings.Join(lines, "\n"))
}

// describeReport lists a report's figures, and why a kind has none.
func describeReport(r bench.Report) string {
	lines := []string{fmt.Sprintf("Score %.0f · tier %s · %s · %s", r.Score, r.Tier, r.Host, r.At.Local().Format(time.DateTime))}
	for _, res := range r.Results {
		lines = append(lines, bench.Labels[res.Kind]+": "+bench.Describe(res))
	}
	return strings.Join(lines, "\n")
}
