package desktop

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"
)

// guardScreen edits the limits that keep the PC the gamer's.
type guardScreen struct {
	ui      *UI
	content fyne.CanvasObject

	maxTemp, maxPower, idleMin *widget.Entry
	onlyIdle, schedOn          *widget.Check
	from, to                   *widget.Select
	save                       *widget.Button
	msg, capNote               *widget.Label
}

func hours() []string {
	h := make([]string, 24)
	for i := range h {
		h[i] = fmt.Sprintf("%02d:00", i)
	}
	return h
}

func newGuardScreen(u *UI) *guardScreen {
	g := &guardScreen{ui: u}
	g.maxTemp, g.maxPower, g.idleMin = widget.NewEntry(), widget.NewEntry(), widget.NewEntry()
	g.onlyIdle = widget.NewCheck("Only while I'm away from the PC", nil)
	g.schedOn = widget.NewCheck("Only during these hours", nil)
	g.from, g.to = widget.NewSelect(hours(), nil), widget.NewSelect(hours(), nil)
	g.msg, g.capNote = para(""), para("")
	g.save = primary("Save limits", g.doSave)
	g.load()
	form := widget.NewForm(
		widget.NewFormItem("Max GPU temperature (°C)", g.maxTemp),
		widget.NewFormItem("Max power per GPU (W, 0 = none)", g.maxPower),
		widget.NewFormItem("", g.onlyIdle),
		widget.NewFormItem("Away after (minutes without input)", g.idleMin),
		widget.NewFormItem("", g.schedOn),
		widget.NewFormItem("From", g.from),
		widget.NewFormItem("To", g.to),
	)
	g.content = container.NewVScroll(container.NewVBox(
		para("Idlegrid steps aside when you play, when a game or another program uses the GPU, and when the card runs hotter or hungrier than you allow. Work is handed back within seconds."),
		form, g.save, g.msg, g.capNote,
	))
	return g
}

func (g *guardScreen) load() {
	l := g.ui.sup.Settings().Limits
	g.maxTemp.SetText(strconv.Itoa(l.MaxTempC))
	g.maxPower.SetText(strconv.Itoa(l.MaxPowerW))
	g.onlyIdle.SetChecked(l.OnlyWhenIdle)
	g.idleMin.SetText(strconv.Itoa(int(l.IdleAfter / time.Minute)))
	g.schedOn.SetChecked(l.Schedule.Enabled)
	g.from.SetSelectedIndex(l.Schedule.From)
	g.to.SetSelectedIndex(l.Schedule.To)
}

func (g *guardScreen) doSave() {
	s := g.ui.sup.Settings()
	var bad []string
	num := func(e *widget.Entry, what string) int {
		n, err := strconv.Atoi(strings.TrimSpace(e.Text))
		if err != nil {
			bad = append(bad, what+" must be a whole number")
		}
		return n
	}
	s.Limits.MaxTempC = num(g.maxTemp, "the temperature")
	s.Limits.MaxPowerW = num(g.maxPower, "the power limit")
	s.Limits.IdleAfter = time.Duration(num(g.idleMin, "the away time")) * time.Minute
	s.Limits.OnlyWhenIdle = g.onlyIdle.Checked
	s.Limits.Schedule.Enabled = g.schedOn.Checked
	s.Limits.Schedule.From, s.Limits.Schedule.To = g.from.SelectedIndex(), g.to.SelectedIndex()
	if len(bad) > 0 {
		g.msg.SetText(strings.Join(bad, "; "))
		return
	}
	if err := g.ui.sup.SaveSettings(s); err != nil {
		g.msg.SetText(err.Error())
		return
	}
	g.msg.SetText("Saved. The guard uses the new limits now.")
	g.refreshNote()
}

func (g *guardScreen) refreshNote() {
	g.capNote.SetText(g.ui.sup.Guard.PowerCapNote())
}
