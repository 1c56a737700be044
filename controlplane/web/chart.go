package web

import (
	"fmt"
	"html/template"
	"math"
	"strings"
	"time"
)

// Point is one sample of a chart.
type Point struct {
	At time.Time
	V  float64
}

// chartSVG draws a line chart of series as inline SVG (no script, no
// library): the last value is written large, min and max on the axis.
// An empty series says so.
func chartSVG(title, unit string, series []Point) template.HTML {
	const w, h, pad = 320.0, 120.0, 24.0
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s">`, w, h, template.HTMLEscapeString(title))
	fmt.Fprintf(&b, `<text x="4" y="14" class="chart-title">%s</text>`, template.HTMLEscapeString(title))
	if len(series) == 0 {
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" class="chart-empty" text-anchor="middle">no samples yet</text></svg>`, w/2, h/2+6)
		return template.HTML(b.String())
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, p := range series {
		lo, hi = min(lo, p.V), max(hi, p.V)
	}
	if lo >= 0 && lo < hi/2 || hi-lo < 1e-9 && lo >= 0 {
		lo = 0 // counts, watts and percentages read best from zero
	}
	if hi-lo < 1e-9 {
		hi = lo + 1
	}
	t0, t1 := series[0].At, series[len(series)-1].At
	span := t1.Sub(t0).Seconds()
	if span <= 0 {
		span = 1
	}
	var pts []string
	for _, p := range series {
		x := pad + (w-2*pad)*p.At.Sub(t0).Seconds()/span
		y := h - pad - (h-2*pad)*(p.V-lo)/(hi-lo)
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
	}
	fmt.Fprintf(&b, `<polyline class="chart-line" fill="none" points="%s"/>`, strings.Join(pts, " "))
	fmt.Fprintf(&b, `<text x="%.0f" y="14" class="chart-now" text-anchor="end">%s %s</text>`, w-4, trim(series[len(series)-1].V), template.HTMLEscapeString(unit))
	fmt.Fprintf(&b, `<text x="4" y="%.0f" class="chart-axis">%s</text>`, pad+4, trim(hi))
	fmt.Fprintf(&b, `<text x="4" y="%.0f" class="chart-axis">%s</text>`, h-pad+4, trim(lo))
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" class="chart-axis">%s</text>`, pad, h-4, t0.UTC().Format("15:04"))
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" class="chart-axis" text-anchor="end">%s</text></svg>`, w-pad, h-4, t1.UTC().Format("15:04"))
	return template.HTML(b.String())
}

func trim(v float64) string {
	if math.Abs(v) >= 100 || v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

// bars draws a bar chart (e.g. earnings per day) as inline SVG.
func barsSVG(title, unit string, labels []string, values []float64) template.HTML {
	const w, h, pad = 640.0, 160.0, 24.0
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart wide" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s">`, w, h, template.HTMLEscapeString(title))
	fmt.Fprintf(&b, `<text x="4" y="14" class="chart-title">%s</text>`, template.HTMLEscapeString(title))
	top := 0.0
	for _, v := range values {
		top = max(top, v)
	}
	if len(values) == 0 || top <= 0 {
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" class="chart-empty" text-anchor="middle">nothing yet</text></svg>`, w/2, h/2+6)
		return template.HTML(b.String())
	}
	bw := (w - 2*pad) / float64(len(values))
	for i, v := range values {
		bh := (h - 2*pad) * v / top
		x := pad + float64(i)*bw
		fmt.Fprintf(&b, `<rect class="chart-bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s: %s %s</title></rect>`,
			x+1, h-pad-bh, max(bw-2, 1), bh, template.HTMLEscapeString(labels[i]), trim(v), template.HTMLEscapeString(unit))
	}
	fmt.Fprintf(&b, `<text x="%.0f" y="14" class="chart-now" text-anchor="end">max %s %s</text>`, w-4, trim(top), template.HTMLEscapeString(unit))
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" class="chart-axis">%s</text>`, pad, h-4, template.HTMLEscapeString(labels[0]))
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" class="chart-axis" text-anchor="end">%s</text></svg>`, w-pad, h-4, template.HTMLEscapeString(labels[len(labels)-1]))
	return template.HTML(b.String())
}
