package desktop

import (
	"fmt"
	"image/color"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/dialog"

	"github.com/idlegrid/idlegrid/shared/supplier"
)

// Chart colours, picked to read on the dark and light themes alike.
var (
	colTemp  = color.NRGBA{R: 0xf8, G: 0x51, B: 0x49, A: 0xff}
	colPower = color.NRGBA{R: 0xd2, G: 0x99, B: 0x22, A: 0xff}
	colUtil  = color.NRGBA{R: 0x3f, G: 0xb9, B: 0x50, A: 0xff}
)

func showError(w fyne.Window, err error) {
	dialog.ShowError(err, w)
}

func gib(b uint64) string { return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30)) }

// statusLine is the one-line summary for the tray and the dashboard header.
func statusLine(s *supplier.Supplier) string {
	conn := supplier.ConnectionText(s.Agent.Status(), time.Now())
	d := s.Decision()
	switch {
	case s.Agent.Status().Conn != "online":
		return conn
	case d.Supply:
		return "Online · offering this PC"
	default:
		return "Online · not taking work"
	}
}

func legend(c color.Color, text string) fyne.CanvasObject {
	t := canvas.NewText("━ "+text, c)
	t.TextSize = 11
	return t
}
