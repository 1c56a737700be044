package desktop

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/idlegrid/idlegrid/shared/money"
	"github.com/idlegrid/idlegrid/shared/supplier"
)

// earningsScreen shows balances, jobs and payouts (an honest empty state
// until the network meters and pays), and the electricity the GPUs use.
type earningsScreen struct {
	ui      *UI
	content fyne.CanvasObject

	balance *widget.Label
	payouts *fyne.Container
	price   *widget.Entry
	energy  *widget.Label
	msg     *widget.Label
}

func newEarningsScreen(u *UI) *earningsScreen {
	e := &earningsScreen{ui: u, balance: para(""), energy: para(""), msg: widget.NewLabel("")}
	e.price = widget.NewEntry()
	e.price.SetText(strconv.FormatFloat(u.sup.Settings().PricePerKWh, 'f', -1, 64))
	save := widget.NewButton("Save price", e.savePrice)
	e.payouts = container.NewVBox()
	e.content = container.NewVScroll(container.NewVBox(
		widget.NewCard("Balance", "earned · pending payout · paid", e.balance),
		widget.NewCard("Payouts", "amount, token, state and the Solana transaction", e.payouts),
		widget.NewCard("Electricity", "estimated from the measured GPU power draw",
			container.NewVBox(widget.NewForm(widget.NewFormItem("Price per kWh", container.NewBorder(nil, nil, nil, save, e.price))), e.energy, e.msg)),
	))
	return e
}

func (e *earningsScreen) refresh() {
	earn := e.ui.sup.EarningsNow()
	e.showEarnings(earn)
	s := e.ui.sup.Settings()
	en := supplier.EstimateEnergy(e.ui.sup.Monitor.History(), s.PricePerKWh, s.Currency)
	if en.Window <= 0 {
		e.energy.SetText("Measuring power draw…")
		return
	}
	e.energy.SetText(fmt.Sprintf("GPU draw %.0f W on average over the last %s → %.2f kWh a day → %.2f %s a day of electricity.",
		en.AvgPowerW, en.Window.Round(1e9), en.KWhPerDay, en.CostPerDay, en.Currency))
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

// showEarnings renders balances and payouts, or says they are not known yet.
func (e *earningsScreen) showEarnings(earn supplier.Earnings) {
	if !earn.Known {
		e.balance.SetText("Connect this PC to see your earnings.")
		e.payouts.Objects = []fyne.CanvasObject{para("No payouts yet.")}
		e.payouts.Refresh()
		return
	}
	text := fmt.Sprintf("Pending %s · ready to pay %s · paid %s", money.Micros(earn.Pending).USD(), money.Micros(earn.Payable).USD(), money.Micros(earn.Paid).USD())
	switch {
	case earn.Wallet == "":
		text += "\nSet a payout wallet in Settings to be paid."
	case !earn.NextPayoutAfter.IsZero():
		text += "\nNext payout after " + earn.NextPayoutAfter.Local().Format("2006-01-02 15:04") + " to " + earn.Wallet
	default:
		text += "\nPayouts go to " + earn.Wallet + " once enough is ready."
	}
	e.balance.SetText(text)
	objs := []fyne.CanvasObject{}
	for _, p := range earn.Payouts {
		line := fmt.Sprintf("%s · %s (%s tokens) · %s", p.At.Local().Format("2006-01-02"), money.Micros(p.Amount).USD(), p.TokenAmount, p.State)
		if p.Mode == "ledger" {
			line += " · recorded off chain"
		}
		row := container.NewHBox(widget.NewLabel(line))
		if p.ExplorerURL != "" {
			if u, err := url.Parse(p.ExplorerURL); err == nil {
				row.Add(widget.NewHyperlink("transaction", u))
			}
		}
		objs = append(objs, row)
	}
	if len(objs) == 0 {
		objs = append(objs, para("No payouts yet."))
	}
	e.payouts.Objects = objs
	e.payouts.Refresh()
}
