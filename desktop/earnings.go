package desktop

import (
	"fmt"
	"strconv"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/idlegrid/idlegrid/shared/supplier"
)

// earningsScreen shows balances, jobs and payouts (an honest empty state
// until the network meters and pays), and the electricity the GPUs use.
type earningsScreen struct {
	ui      *UI
	content fyne.CanvasObject

	balance *widget.Label
	price   *widget.Entry
	energy  *widget.Label
	msg     *widget.Label
}

func newEarningsScreen(u *UI) *earningsScreen {
	e := &earningsScreen{ui: u, balance: para(""), energy: para(""), msg: widget.NewLabel("")}
	e.price = widget.NewEntry()
	e.price.SetText(strconv.FormatFloat(u.sup.Settings().PricePerKWh, 'f', -1, 64))
	save := widget.NewButton("Save price", e.savePrice)
	e.content = container.NewVScroll(container.NewVBox(
		widget.NewCard("Balance", "earned · pending payout · paid", e.balance),
		widget.NewCard("Jobs and payouts", "", para("No jobs or payouts yet. Each payout will show its amount, token, Solana transaction signature and a link to the explorer.")),
		widget.NewCard("Electricity", "estimated from the measured GPU power draw",
			container.NewVBox(widget.NewForm(widget.NewFormItem("Price per kWh", container.NewBorder(nil, nil, nil, save, e.price))), e.energy, e.msg)),
	))
	return e
}

func (e *earningsScreen) refresh() {
	earn := e.ui.sup.EarningsNow()
	e.balance.SetText(earn.Note)
	s := e.ui.sup.Settings()
	en := supplier.EstimateEnergy(e.ui.sup.Monitor.History(), s.PricePerKWh, s.Currency)
	if en.Window <= 0 {
		e.energy.SetText("Measuring power draw…")
		return
	}
	e.energy.SetText(fmt.Sprintf("GPU draw %.0f W on average over the last %s → %.2f kWh a day → %.2f %s a day.\nNet profit today: %.2f %s (earnings 0.00 − electricity).",
		en.AvgPowerW, en.Window.Round(1e9), en.KWhPerDay, en.CostPerDay, en.Currency, -en.CostPerDay, en.Currency))
}

func (e *earningsScreen) savePrice() {
	p, err := strconv.ParseFloat(strings.TrimSpace(strings.ReplaceAll(e.price.Text, ",", ".")), 64)
	if err != nil {
		e.msg.SetText("The price must be a number, like 0.30")
		return
	}
	s := e.ui.sup.Settings()
	s.PricePerKWh = p
	if err := e.ui.sup.SaveSettings(s); err != nil {
		e.msg.SetText(err.Error())
		return
	}
	e.msg.SetText("Saved.")
	e.refresh()
}
