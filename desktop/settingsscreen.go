package desktop

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"
)

// settingsScreen holds the payout wallet, start-at-login and this device.
type settingsScreen struct {
	ui        *UI
	content   fyne.CanvasObject
	wallet    *widget.Entry
	walletMsg *widget.Label
	autostart *widget.Check
	device    *widget.Label
}

func newSettingsScreen(u *UI) *settingsScreen {
	s := &settingsScreen{ui: u, walletMsg: para(""), device: para("")}
	s.wallet = widget.NewEntry()
	s.wallet.SetText(u.sup.Settings().Wallet)
	s.wallet.SetPlaceHolder("Solana wallet address (public)")
	saveWallet := widget.NewButton("Save wallet", func() {
		if err := u.sup.SetWallet(s.wallet.Text); err != nil {
			s.walletMsg.SetText(err.Error())
			return
		}
		s.walletMsg.SetText("Saved.")
	})
	s.autostart = widget.NewCheck("Start Idlegrid when I log in", func(on bool) {
		if u.autostart == nil {
			return
		}
		if err := u.autostart(on); err != nil {
			u.showError(err)
			return
		}
		st := u.sup.Settings()
		st.StartAtLogin = on
		_ = u.sup.SaveSettings(st)
	})
	s.autostart.Checked = u.sup.Settings().StartAtLogin
	if u.autostart == nil {
		s.autostart.Disable()
	}
	s.refresh()
	s.content = container.NewVScroll(container.NewVBox(
		widget.NewCard("Payout wallet", "public address only — never a private key or seed phrase",
			container.NewVBox(container.NewBorder(nil, nil, nil, saveWallet, s.wallet), s.walletMsg)),
		widget.NewCard("Start-up", "", s.autostart),
		widget.NewCard("This PC", "", s.device),
	))
	return s
}

func (s *settingsScreen) refresh() {
	st := s.ui.sup.Agent.State()
	s.device.SetText("Device " + orDash(st.DeviceID) + " (" + orDash(st.Name) + ") on " + orDash(st.ServerURL))
}
