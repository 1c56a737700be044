package farm

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
)

// The sample Grafana dashboard charts only metrics the agent exports, and
// filters by labels they carry (or Prometheus adds).
func TestGrafanaDashboardMatchesTheExporter(t *testing.T) {
	b, err := os.ReadFile("../../installer/grafana/idlegrid-farm.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("the dashboard is not valid JSON: %v", err)
	}
	addr := startServer(t, &Server{Host: "rig-01", Source: func() Snapshot { return simSnapshot(t) }})
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	names := regexp.MustCompile(`\b((?:DCGM_FI_DEV|idlegrid_agent)_[A-Za-z_]+)\{([^}]*)\}`)
	n := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, m := range names.FindAllStringSubmatch(tg.Expr, -1) {
				n++
				if !regexp.MustCompile(`\n` + m[1] + `[{ ]`).Match(text) {
					t.Errorf("panel %q charts %s, which /metrics does not have", p.Title, m[1])
				}
				for _, sel := range strings.Split(m[2], ",") {
					label, _, _ := strings.Cut(sel, "=")
					label = strings.TrimRight(label, "~!")
					// instance is added by Prometheus to every scraped series.
					if label != "instance" && !regexp.MustCompile(`\n`+m[1]+`\{[^}]*\b`+label+`=`).Match(text) {
						t.Errorf("panel %q filters %s by %s, a label it does not carry", p.Title, m[1], label)
					}
				}
			}
		}
	}
	if n < 8 {
		t.Fatalf("only %d metrics found in the dashboard's queries", n)
	}
}
