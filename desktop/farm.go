package desktop

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"github.com/idlegrid/idlegrid/shared/farm"
	"github.com/idlegrid/idlegrid/shared/money"
)

// farmScreen shows every rig and GPU of a farm in one grid, worst first,
// with the active alerts above it. The rigs, their polling and the alerts
// are farm.View's; this screen renders them and notifies.
type farmScreen struct {
	ui      *UI
	view    *farm.View
	content fyne.CanvasObject
	// notify shows a desktop notification; the app's by default, a
	// recorder in tests.
	notify func(*fyne.Notification)

	summary   *widget.Label
	alertsBox *fyne.Container
	gridBox   *fyne.Container
	cells     [][]*widget.Label // one row of farmColumns per grid row

	addr, token *widget.Entry
	add         *widget.Button
	msg         *widget.Label
	farmToken   *widget.Entry
	saveToken   *widget.Button
	manualBox   *fyne.Container
	tokenMsg    *widget.Label
	manage      *widget.Button // opens the farm token and the hand-typed rigs
	settings    fyne.CanvasObject
	remove      map[string]*widget.Button // by address
	shownManual []farm.ManualRig          // what manualBox lists
	discovery   *widget.Label
}

// farmColumns are the grid's columns and their relative widths.
var farmColumns = []struct {
	title string
	width float32
}{
	{"Rig", 1.5}, {"GPU", 1.6}, {"Temp", 0.7}, {"Power", 1.1}, {"Load", 0.6}, {"State", 2.2}, {"Earning", 0.9},
}

// stateColumn is the index of "State" in farmColumns.
const stateColumn = 5

func newFarmScreen(u *UI) *farmScreen {
	f := &farmScreen{ui: u, view: farm.NewView(u.app.Preferences()), notify: u.app.SendNotification, remove: map[string]*widget.Button{}}
	f.view.Alerter.OnChange = f.onAlert
	f.view.OnUpdate = func() { fyne.Do(f.refresh) }

	f.summary = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	f.summary.Wrapping = fyne.TextWrapWord
	f.alertsBox = container.NewVBox()
	f.gridBox = container.NewVBox()

	f.addr = widget.NewEntry()
	f.addr.SetPlaceHolder("rig address, like 192.168.1.20:9400")
	f.addr.OnSubmitted = func(string) { f.onAdd() }
	f.token = widget.NewPasswordEntry()
	f.token.SetPlaceHolder("its farm token (optional)")
	f.add = widget.NewButton("Add", f.onAdd)
	f.msg = para("")
	f.msg.Hide()
	f.tokenMsg = para("")
	f.tokenMsg.Hide()
	f.farmToken = widget.NewPasswordEntry()
	f.farmToken.SetText(f.view.Token())
	f.farmToken.SetPlaceHolder("the --farm-token the rigs were started with")
	f.saveToken = widget.NewButton("Save token", f.onSaveToken)
	f.manualBox = container.NewVBox()
	f.manage = widget.NewButton("Farm token and rigs…", f.showSettings)
	f.discovery = para("")

	header := container.New(columnsLayout{})
	for _, c := range farmColumns {
		header.Add(widget.NewLabelWithStyle(c.title, fyne.TextAlignLeading, fyne.TextStyle{Bold: true}))
	}
	add := container.NewBorder(nil, nil, nil, f.add, container.NewGridWithColumns(2, f.addr, f.token))
	f.settings = container.NewVBox(
		widget.NewCard("Farm token", "sent to every rig without a token of its own, found on the LAN or typed by hand",
			container.NewVBox(container.NewBorder(nil, nil, nil, f.saveToken, f.farmToken), f.tokenMsg)),
		widget.NewCard("Rigs typed by hand", "", f.manualBox),
	)
	f.content = container.NewBorder(
		container.NewVBox(f.summary, f.alertsBox, widget.NewSeparator(), header),
		container.NewVBox(widget.NewSeparator(), add, f.msg, container.NewBorder(nil, nil, nil, f.manage, f.discovery)),
		nil, nil,
		container.NewVScroll(f.gridBox),
	)
	f.refresh()
	return f
}

// start polls (and, for a farm, browses the LAN) until ctx ends. A desktop
// with no rigs yet only browses once the Farm tab is opened.
func (f *farmScreen) start(ctx context.Context) {
	if len(f.view.Manual()) > 0 || f.view.Token() != "" {
		f.view.EnableDiscovery()
	}
	go func() { _ = f.view.Serve(ctx) }()
}

// opened is called when the Farm tab is selected.
func (f *farmScreen) opened() {
	f.view.EnableDiscovery()
	f.refresh()
}

func (f *farmScreen) now() time.Time {
	if f.view.Now != nil {
		return f.view.Now()
	}
	return time.Now()
}

// onAlert notifies the farmer of an alert raised, and briefly of one
// cleared. It runs on the polling goroutine.
func (f *farmScreen) onAlert(e farm.Event) {
	n := fyne.NewNotification("Farm alert: "+e.Alert.Kind.Title(), e.Message)
	if !e.Raised {
		n = fyne.NewNotification("Farm: cleared", e.Message)
	}
	fyne.Do(func() { f.notify(n) })
}

func (f *farmScreen) onAdd() {
	addr, err := f.view.AddManual(f.addr.Text, f.token.Text)
	if err != nil {
		f.say(err.Error())
		return
	}
	f.addr.SetText("")
	f.token.SetText("")
	f.say("Checking " + addr + "…")
	f.refresh()
	f.ui.async(func() {
		f.view.Poll(context.Background())
		fyne.Do(func() { f.say(f.addedText(addr)) })
	})
}

// addedText says how the first poll of a rig just added went.
func (f *farmScreen) addedText(addr string) string {
	name, gpus := addr, 0
	for _, r := range f.view.Rows() {
		if r.Addr != addr || !r.Manual {
			continue
		}
		switch r.State {
		case farm.RigUnreachable:
			return "Added " + addr + ", but: " + r.Reason
		case farm.RigChecking:
			return "Added " + addr + "; checking it…"
		}
		name = r.Rig
		if r.GPU >= 0 {
			gpus++
		}
	}
	if name == addr {
		return fmt.Sprintf("Added %s: %s.", addr, plural(gpus, "GPU"))
	}
	return fmt.Sprintf("Added %s (%s): %s.", name, addr, plural(gpus, "GPU"))
}

// say shows msg under the address entry.
func (f *farmScreen) say(msg string) { note(f.msg, msg) }

// note sets a message label; an empty one takes no room.
func note(l *widget.Label, text string) {
	l.SetText(text)
	if text == "" {
		l.Hide()
	} else {
		l.Show()
	}
}

// showSettings opens the farm token and the list of rigs typed by hand,
// which are set once and so stay out of the grid's way.
func (f *farmScreen) showSettings() {
	note(f.tokenMsg, "")
	d := dialog.NewCustom("Farm token and rigs", "Close", container.NewVScroll(f.settings), f.ui.win)
	d.Resize(fyne.NewSize(620, 440))
	d.Show()
}

func (f *farmScreen) onSaveToken() {
	f.view.SetToken(f.farmToken.Text)
	note(f.tokenMsg, "Saved; checking the rigs with it…")
	f.ui.async(func() {
		f.view.Poll(context.Background())
		fyne.Do(func() { note(f.tokenMsg, "Saved.") })
	})
}

func (f *farmScreen) onRemove(addr string) {
	f.view.RemoveManual(addr)
	f.say("Removed " + addr + ".")
	f.refresh()
}

// refresh redraws the screen from the view (UI goroutine).
func (f *farmScreen) refresh() {
	rows := f.view.Rows()
	now := f.now()
	f.refreshSummary(rows)
	f.refreshAlerts(rows, now)
	f.refreshGrid(rows)
	f.refreshManual()
	f.refreshDiscovery()
}

func (f *farmScreen) refreshSummary(rows []farm.Row) {
	rigs, gpus, down := map[string]bool{}, 0, map[string]bool{}
	for _, r := range rows {
		rigs[r.Rig] = true
		if r.GPU >= 0 {
			gpus++
		}
		if r.State == farm.RigUnreachable {
			down[r.Rig] = true
		}
	}
	if len(rigs) == 0 {
		f.summary.SetText("No rigs yet. Rigs whose agent runs with --lan appear here by themselves; or type a rig's address below.")
		return
	}
	text := fmt.Sprintf("%s · %s · %s", plural(len(rigs), "rig"), plural(gpus, "GPU"), plural(len(f.view.Alerter.Active()), "alert"))
	if len(down) > 0 {
		text += fmt.Sprintf(" · %d not answering", len(down))
	}
	f.summary.SetText(text)
}

// refreshAlerts lists the active alerts, then what to do about each rig
// that does not answer (which is not an alert until it has been down a
// while).
func (f *farmScreen) refreshAlerts(rows []farm.Row, now time.Time) {
	var objs []fyne.CanvasObject
	for _, a := range f.view.Alerter.Active() {
		l := para(fmt.Sprintf("⚠ %s · %s · %s · %s", a.Kind.Title(), a.Rig, a.Message, farm.SinceText(a, now)))
		l.Importance = widget.DangerImportance
		objs = append(objs, l)
	}
	if len(objs) == 0 {
		objs = append(objs, widget.NewLabel("No active alerts."))
	}
	told := map[string]bool{}
	for _, r := range rows {
		if r.State != farm.RigUnreachable || told[r.Rig] {
			continue
		}
		told[r.Rig] = true
		l := para(r.Reason)
		l.Importance = widget.WarningImportance
		objs = append(objs, l)
	}
	f.alertsBox.Objects = objs
	f.alertsBox.Refresh()
}

func (f *farmScreen) refreshGrid(rows []farm.Row) {
	if len(f.cells) != len(rows) {
		f.cells = f.cells[:0]
		f.gridBox.Objects = nil
		for range rows {
			line := container.New(columnsLayout{})
			cells := make([]*widget.Label, len(farmColumns))
			for i := range cells {
				cells[i] = widget.NewLabel("")
				cells[i].Truncation = fyne.TextTruncateEllipsis
				line.Add(cells[i])
			}
			f.cells = append(f.cells, cells)
			f.gridBox.Add(line)
		}
		f.gridBox.Refresh()
	}
	for i, r := range rows {
		text := farmCells(r)
		// A row in trouble is red throughout; a paused or offline rig only
		// in its state.
		row, state := widget.MediumImportance, widget.MediumImportance
		switch {
		case len(r.Alerts) > 0 || r.State == farm.RigUnreachable:
			row, state = widget.DangerImportance, widget.DangerImportance
		case r.State == farm.RigPaused || r.State == farm.RigOffline:
			state = widget.WarningImportance
		}
		for j, l := range f.cells[i] {
			l.Importance = row
			if j == stateColumn {
				l.Importance = state
			}
			l.SetText(text[j])
		}
	}
}

// farmCells is one grid row as text, in farmColumns order.
func farmCells(r farm.Row) []string {
	gpu := r.Model
	if r.GPU >= 0 {
		gpu = fmt.Sprintf("%d · %s", r.GPU, r.Model)
	}
	temp, power, load := "—", "—", "—"
	if r.Reading {
		temp = fmt.Sprintf("%d °C", r.TempC)
		power = fmt.Sprintf("%d / %d W", r.PowerW, r.PowerLimitW)
		load = fmt.Sprintf("%d %%", r.UtilPct)
	}
	state := r.State
	switch r.State {
	case farm.RigPaused, farm.RigOffline:
		if r.Reason != "" {
			state += ": " + r.Reason
		}
	case farm.RigChecking:
		state = "checking…"
	}
	if len(r.Alerts) > 0 {
		kinds := make([]string, 0, len(r.Alerts))
		for _, a := range r.Alerts {
			kinds = append(kinds, a.Kind.Title())
		}
		state = "⚠ " + strings.Join(kinds, ", ") + " · " + state
	}
	earn := "—"
	if r.EarnsPerHour > 0 {
		earn = money.Micros(r.EarnsPerHour).USD() + "/h"
	}
	return []string{orDash(r.Rig), orDash(gpu), temp, power, load, state, earn}
}

// refreshManual lists the rigs typed by hand, rebuilt only when the list
// changed so a Remove button is not replaced under the pointer.
func (f *farmScreen) refreshManual() {
	manual := f.view.Manual()
	if f.shownManual != nil && slices.Equal(manual, f.shownManual) {
		return
	}
	f.shownManual = append([]farm.ManualRig{}, manual...)
	f.manage.SetText(fmt.Sprintf("Farm token and rigs (%d)…", len(manual)))
	f.remove = map[string]*widget.Button{}
	var objs []fyne.CanvasObject
	for _, m := range manual {
		label := m.Addr
		if m.Token != "" {
			label += " · own token"
		}
		b := widget.NewButton("Remove", func() { f.onRemove(m.Addr) })
		f.remove[m.Addr] = b
		objs = append(objs, container.NewBorder(nil, nil, nil, b, widget.NewLabel(label)))
	}
	if len(objs) == 0 {
		objs = append(objs, widget.NewLabel("None: add one above."))
	}
	f.manualBox.Objects = objs
	f.manualBox.Refresh()
}

func (f *farmScreen) refreshDiscovery() {
	d := f.view.Discovery()
	switch {
	case !d.On:
		f.discovery.SetText("")
	case d.At.IsZero():
		f.discovery.SetText("Looking for rigs on the LAN (mDNS)…")
	case d.Err != nil:
		f.discovery.SetText("Could not look for rigs on the LAN: " + d.Err.Error() + ". Type their addresses instead.")
	default:
		f.discovery.SetText(fmt.Sprintf("%s answered on the LAN at %s (mDNS, asked every %s).",
			plural(d.Found, "rig"), d.At.Local().Format("15:04:05"), cmp.Or(f.view.DiscoverEvery, farm.DefaultDiscoverEvery)))
	}
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// columnsLayout lays objects out side by side in farmColumns' proportions,
// so the header and every row of the grid line up.
type columnsLayout struct{}

func (columnsLayout) MinSize(objs []fyne.CanvasObject) fyne.Size {
	var s fyne.Size
	for _, o := range objs {
		m := o.MinSize()
		s.Width += m.Width
		s.Height = max(s.Height, m.Height)
	}
	return s
}

func (columnsLayout) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	var total float32
	for _, c := range farmColumns {
		total += c.width
	}
	x := float32(0)
	for i, o := range objs {
		if i >= len(farmColumns) {
			break
		}
		w := size.Width * farmColumns[i].width / total
		o.Move(fyne.NewPos(x, 0))
		o.Resize(fyne.NewSize(w, size.Height))
		x += w
	}
}
