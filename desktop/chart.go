package desktop

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/widget"
)

// Series is one line of a chart: values scaled to 0..Max.
type Series struct {
	Color  color.Color
	Max    float64
	Values []float64
}

// lineChart draws series as polylines with canvas primitives (no chart
// widget is maintained for Fyne 2.8 that we can depend on).
type lineChart struct {
	widget.BaseWidget
	series []Series
	points int // samples the x axis spans
}

func newLineChart(points int) *lineChart {
	c := &lineChart{points: points}
	c.ExtendBaseWidget(c)
	return c
}

// SetSeries replaces the data and redraws; call on the UI goroutine.
func (c *lineChart) SetSeries(s []Series) {
	c.series = s
	c.Refresh()
}

func (c *lineChart) CreateRenderer() fyne.WidgetRenderer {
	bg := canvas.NewRectangle(color.NRGBA{R: 0x20, G: 0x26, B: 0x30, A: 0xff})
	bg.CornerRadius = 4
	r := &chartRenderer{chart: c, bg: bg}
	r.rebuild()
	return r
}

type chartRenderer struct {
	chart *lineChart
	bg    *canvas.Rectangle
	lines []*canvas.Line
	size  fyne.Size
}

func (r *chartRenderer) rebuild() {
	n := 0
	for _, s := range r.chart.series {
		if len(s.Values) > 1 {
			n += len(s.Values) - 1
		}
	}
	for len(r.lines) < n {
		l := canvas.NewLine(color.White)
		l.StrokeWidth = 1.5
		r.lines = append(r.lines, l)
	}
	r.lines = r.lines[:n]
}

func (r *chartRenderer) Layout(size fyne.Size) {
	r.size = size
	r.bg.Resize(size)
	r.place()
}

func (r *chartRenderer) place() {
	w, h := r.size.Width, r.size.Height
	points := max(r.chart.points, 2)
	step := w / float32(points-1)
	i := 0
	for _, s := range r.chart.series {
		if s.Max <= 0 || len(s.Values) < 2 {
			continue
		}
		// Newest sample at the right edge.
		x0 := w - step*float32(len(s.Values)-1)
		y := func(v float64) float32 {
			v = min(max(v/s.Max, 0), 1)
			return h - 2 - float32(v)*(h-4)
		}
		for j := 1; j < len(s.Values); j++ {
			l := r.lines[i]
			l.StrokeColor = s.Color
			l.Position1 = fyne.NewPos(x0+step*float32(j-1), y(s.Values[j-1]))
			l.Position2 = fyne.NewPos(x0+step*float32(j), y(s.Values[j]))
			i++
		}
	}
}

func (r *chartRenderer) MinSize() fyne.Size { return fyne.NewSize(200, 70) }

func (r *chartRenderer) Refresh() {
	r.rebuild()
	r.place()
	for _, l := range r.lines {
		l.Refresh()
	}
	r.bg.Refresh()
}

func (r *chartRenderer) Objects() []fyne.CanvasObject {
	objs := make([]fyne.CanvasObject, 0, len(r.lines)+1)
	objs = append(objs, r.bg)
	for _, l := range r.lines {
		objs = append(objs, l)
	}
	return objs
}

func (r *chartRenderer) Destroy() {}
