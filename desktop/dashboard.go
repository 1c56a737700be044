package desktop

import (
	"fmt"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/idlegrid/idlegrid/shared/agent"
	"github.com/idlegrid/idlegrid/shared/hw"
	"github.com/idlegrid/idlegrid/shared/money"
	"github.com/idlegrid/idlegrid/shared/proto"
)

// dashboardScreen shows every GPU live, the host, the link and the guard.
type dashboardScreen struct {
	ui      *UI
	content fyne.CanvasObject

	status   *widget.Label // connection + guard, one line
	reason   *widget.Label
	work     *widget.Label
	standing *widget.Label // verification, tier, reputation
	host     *widget.Label
	noGPU    *widget.Label
	pause    *widget.Button
	cardsBox *fyne.Container
	cards    []*gpuCard
}

// gpuCard is one GPU's live figures and chart.
type gpuCard struct {
	card                                *widget.Card
	temp, power, util, vram, fan, clock *widget.Label
	chart                               *lineChart
}

// chartPoints is the chart's width in samples: 10 minutes at 1 per second.
const chartPoints = 600

func newDashboard(u *UI) *dashboardScreen {
	d := &dashboardScreen{ui: u}
	d.status = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	d.status.Truncation = fyne.TextTruncateEllipsis
	d.reason = para("")
	d.work = widget.NewLabel("")
	d.standing = para("")
	d.host = widget.NewLabel("")
	d.noGPU = para("")
	d.pause = widget.NewButton("Pause supplying", u.togglePause)
	d.cardsBox = container.NewGridWithColumns(2)
	header := container.NewBorder(nil, nil, nil, d.pause, container.NewVBox(d.status, d.reason))
	d.content = container.NewBorder(
		container.NewVBox(header, widget.NewSeparator()),
		container.NewVBox(widget.NewSeparator(), d.standing, d.host, d.work),
		nil, nil,
		container.NewVScroll(container.NewVBox(d.noGPU, d.cardsBox)),
	)
	return d
}

func newGPUCard(g hw.GPU) *gpuCard {
	c := &gpuCard{
		temp: widget.NewLabel("—"), power: widget.NewLabel("—"), util: widget.NewLabel("—"),
		vram: widget.NewLabel("—"), fan: widget.NewLabel("—"), clock: widget.NewLabel("—"),
		chart: newLineChart(chartPoints),
	}
	grid := container.NewGridWithColumns(2,
		widget.NewLabel("Temperature"), c.temp,
		widget.NewLabel("Power"), c.power,
		widget.NewLabel("Utilisation"), c.util,
		widget.NewLabel("VRAM"), c.vram,
		widget.NewLabel("Fan"), c.fan,
		widget.NewLabel("SM clock"), c.clock,
	)
	sub := gib(g.MemoryTotal)
	if g.Simulated {
		sub += " · simulated"
	}
	legends := container.NewHBox(legend(colTemp, "°C (0–100)"), legend(colPower, "power vs limit"), legend(colUtil, "load %"))
	c.card = widget.NewCard(fmt.Sprintf("GPU %d · %s", g.Index, g.Name), sub, container.NewVBox(grid, c.chart, legends))
	return c
}

func (d *dashboardScreen) refresh() {
	sup := d.ui.sup
	d.status.SetText(statusLine(sup))
	st := sup.Agent.Status()
	switch {
	case st.LastError != "" && st.Conn != agent.ConnOnline:
		d.reason.SetText(st.LastError)
	case !sup.Decision().Supply && len(sup.Decision().Reasons) > 0:
		d.reason.SetText("Why: " + sup.Decision().Reason())
	default:
		d.reason.SetText("")
	}
	if sup.Settings().Paused {
		d.pause.SetText("Resume supplying")
	} else {
		d.pause.SetText("Pause supplying")
	}
	d.work.SetText("Current work: none yet. Jobs appear here with the cluster, since when, and the rate you earn.")
	d.standing.SetText(standingText(st.Device))

	gpu := sup.Monitor.GPU
	if !gpu.Status().Available {
		d.noGPU.SetText("No GPU offered: " + gpu.Status().Reason)
		d.noGPU.Show()
	} else {
		d.noGPU.Hide()
	}
	gpus := gpu.GPUs()
	if len(d.cards) != len(gpus) {
		d.cards = d.cards[:0]
		d.cardsBox.Objects = nil
		for _, g := range gpus {
			c := newGPUCard(g)
			d.cards = append(d.cards, c)
			d.cardsBox.Add(c.card)
		}
	}
	history := sup.Monitor.History()
	latest, ok := sup.Monitor.Latest()
	if !ok {
		return
	}
	d.host.SetText(fmt.Sprintf("Host: CPU %.0f %% · RAM %s of %s", latest.Host.CPUPct, gib(latest.Host.MemUsed), gib(latest.Host.MemTotal)))
	for _, s := range latest.GPUs {
		if s.Index < 0 || s.Index >= len(d.cards) {
			continue
		}
		d.cards[s.Index].show(s, history)
	}
}

func (c *gpuCard) show(s hw.GPUSample, history []agent.Sample) {
	c.temp.SetText(fmt.Sprintf("%d °C", s.TempC))
	c.power.SetText(fmt.Sprintf("%d W of %d W", s.PowerMW/1000, s.PowerLimitMW/1000))
	c.util.SetText(fmt.Sprintf("%d %%", s.UtilPct))
	c.vram.SetText(fmt.Sprintf("%s of %s", gib(s.MemoryUsed), gib(s.MemoryTotal)))
	c.fan.SetText(missingOr(s, "fan", fmt.Sprintf("%d %%", s.FanPct)))
	c.clock.SetText(fmt.Sprintf("%d MHz", s.SMClockMHz))
	var temp, power, util []float64
	for _, h := range history {
		for _, g := range h.GPUs {
			if g.Index == s.Index {
				temp = append(temp, float64(g.TempC))
				power = append(power, float64(g.PowerMW))
				util = append(util, float64(g.UtilPct))
			}
		}
	}
	c.chart.SetSeries([]Series{
		{Color: colTemp, Max: 100, Values: temp},
		{Color: colPower, Max: float64(max(s.PowerLimitMW, 1)), Values: power},
		{Color: colUtil, Max: 100, Values: util},
	})
}

func missingOr(s hw.GPUSample, field, text string) string {
	for _, m := range s.Missing {
		if m == field {
			return "not reported"
		}
	}
	return text
}

// standingText says what the network thinks of this PC.
func standingText(ds proto.DeviceStatus) string {
	if ds.Verification == "" {
		return "Verification: waiting for the control plane."
	}
	v := "Verified: this PC proved its compute."
	if !ds.Verified {
		v = "Not verified (" + ds.Verification + ")"
		if ds.VerificationReason != "" {
			v += ": " + ds.VerificationReason
		}
		v += "."
	}
	tier := "no benchmark yet"
	if ds.Tier != "" {
		tier = fmt.Sprintf("tier %s (score %.0f)", ds.Tier, ds.Score)
	}
	earns := ""
	if ds.EarnsPerHour > 0 {
		earns = " · earns " + money.Micros(ds.EarnsPerHour).USD() + " per hour while rented"
	}
	return fmt.Sprintf("%s · %s · reputation %.0f %%%s", v, tier, ds.Reputation*100, earns)
}
