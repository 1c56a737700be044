// Package desktop is the supplier's desktop app: Fyne screens and widgets
// over shared/supplier, which owns the connection, the guard and the
// settings. Nothing here talks to the network or decides anything; screens
// render the supplier's state and call its methods.
package desktop

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	fdesktop "fyne.io/fyne/v2/driver/desktop"

	"github.com/idlegrid/idlegrid/shared/supplier"
)

// UI is the app's window and tray.
type UI struct {
	app fyne.App
	win fyne.Window
	sup *supplier.Supplier
	// autostart turns start-at-login on or off; nil disables the option.
	autostart func(on bool) error
	// async runs slow work (network) off the UI goroutine; tests run it
	// inline so they need no waiting.
	async func(func())

	onboarding *onboardingScreen
	dashboard  *dashboardScreen
	guard      *guardScreen
	earnings   *earningsScreen
	bench      *benchScreen
	settings   *settingsScreen
	farm       *farmScreen
	tabs       *container.AppTabs
	trayStatus *fyne.MenuItem
	trayPause  *fyne.MenuItem
	tray       *fyne.Menu

	stop context.CancelFunc
}

// New builds the window: onboarding on first run, the dashboard after.
// autostart switches start-at-login (nil where the OS offers none).
func New(a fyne.App, sup *supplier.Supplier, autostart func(on bool) error) *UI {
	u := &UI{app: a, sup: sup, win: a.NewWindow("Idlegrid"), autostart: autostart, async: func(f func()) { go f() }}
	u.win.Resize(fyne.NewSize(960, 680))
	u.dashboard = newDashboard(u)
	u.guard = newGuardScreen(u)
	u.earnings = newEarningsScreen(u)
	u.bench = newBenchScreen(u)
	u.settings = newSettingsScreen(u)
	u.farm = newFarmScreen(u)
	u.tabs = container.NewAppTabs(
		container.NewTabItem("Dashboard", u.dashboard.content),
		container.NewTabItem("Earnings", u.earnings.content),
		container.NewTabItem("Benchmark", u.bench.content),
		container.NewTabItem("Guard", u.guard.content),
		container.NewTabItem("Farm", u.farm.content),
		container.NewTabItem("Settings", u.settings.content),
	)
	u.tabs.OnSelected = func(t *container.TabItem) {
		if t.Content == u.farm.content {
			u.farm.opened()
		}
	}
	if sup.Settings().Onboarded {
		u.win.SetContent(u.tabs)
	} else {
		u.onboarding = newOnboarding(u)
		u.win.SetContent(u.onboarding.content)
	}
	u.setupTray()
	return u
}

// Tabs are the main window's tabs, by the name --tab takes.
var Tabs = []string{"dashboard", "earnings", "benchmark", "guard", "farm", "settings"}

// ShowTab selects a tab by name (see Tabs), once onboarding is done; it
// is how `idlegrid --tab farm` opens on the farm.
func (u *UI) ShowTab(name string) error {
	i := slices.Index(Tabs, strings.ToLower(name))
	if i < 0 {
		return fmt.Errorf("no tab %q: use one of %s", name, strings.Join(Tabs, ", "))
	}
	u.tabs.SelectIndex(i)
	return nil
}

// AddRig adds a rig to the Farm tab by its address (host:port of its
// agent's status API), as typing it there would; it is kept.
func (u *UI) AddRig(addr, token string) error {
	_, err := u.farm.view.AddManual(addr, token)
	return err
}

// Window is the main window.
func (u *UI) Window() fyne.Window { return u.win }

// Start keeps the screens in step with the supplier until Close.
func (u *UI) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	u.stop = cancel
	u.farm.start(ctx)
	ch, unsub := u.sup.Subscribe()
	go func() {
		defer unsub()
		tick := time.NewTicker(time.Second) // countdowns move even when nothing else does
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-ch:
			case <-tick.C:
			}
			fyne.Do(u.Refresh)
		}
	}()
	u.Refresh()
}

// Close stops the refresh loop.
func (u *UI) Close() {
	if u.stop != nil {
		u.stop()
	}
}

// Refresh redraws every screen from the supplier's state (UI goroutine).
func (u *UI) Refresh() {
	u.dashboard.refresh()
	u.earnings.refresh()
	u.guard.refreshNote()
	u.settings.refresh()
	u.refreshTray()
}

// showMain replaces onboarding with the tabs.
func (u *UI) showMain() {
	u.onboarding = nil
	u.win.SetContent(u.tabs)
	u.tabs.SelectIndex(0)
	u.Refresh()
}

// setupTray puts status and pause/resume in the system tray where there is
// one; closing the window then hides it instead of quitting.
func (u *UI) setupTray() {
	desk, ok := u.app.(fdesktop.App)
	if !ok {
		return
	}
	u.trayStatus = fyne.NewMenuItem("Starting…", nil)
	u.trayStatus.Disabled = true
	u.trayPause = fyne.NewMenuItem("Pause supplying", func() { u.togglePause() })
	open := fyne.NewMenuItem("Open Idlegrid", func() { u.win.Show(); u.win.RequestFocus() })
	u.tray = fyne.NewMenu("Idlegrid", u.trayStatus, u.trayPause, fyne.NewMenuItemSeparator(), open)
	desk.SetSystemTrayMenu(u.tray)
	u.win.SetCloseIntercept(func() { u.win.Hide() })
}

func (u *UI) refreshTray() {
	if u.tray == nil {
		return
	}
	u.trayStatus.Label = statusLine(u.sup)
	if u.sup.Settings().Paused {
		u.trayPause.Label = "Resume supplying"
	} else {
		u.trayPause.Label = "Pause supplying"
	}
	u.tray.Refresh()
}

func (u *UI) togglePause() {
	if err := u.sup.SetPaused(!u.sup.Settings().Paused); err != nil {
		u.showError(err)
	}
	u.Refresh()
}

func (u *UI) showError(err error) {
	showError(u.win, err)
}
