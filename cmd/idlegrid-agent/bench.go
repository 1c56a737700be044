package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/idlegrid/idlegrid/shared/bench"
)

// runBench is `idlegrid-agent bench`: measure, print, and keep the report
// in the data dir, from where the running agent sends it to the control
// plane.
func runBench(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("idlegrid-agent bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", envOr("IDLEGRID_DATA", filepath.Join(userDataDir(), "idlegrid-agent")), "the agent's data directory (disk test, history)")
	server := fs.String("server", envOr("IDLEGRID_SERVER", ""), "control plane URL for the network test (default: the paired server)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	only := fs.String("only", "", "comma-separated kinds to run: cpu,memory,disk,network,gpu (default all)")
	budget := fs.Duration("budget", 2*time.Second, "time spent on each CPU, memory and GPU measurement")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	kinds, err := parseKinds(*only)
	if err != nil {
		fmt.Fprintf(stderr, "idlegrid-agent bench: %v\n", err)
		return 2
	}
	if *server == "" {
		*server = pairedServer(*data)
	}
	if err := os.MkdirAll(*data, 0o700); err != nil {
		fmt.Fprintf(stderr, "idlegrid-agent bench: %v\n", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := bench.Run(ctx, kinds, bench.Options{DataDir: *data, ServerURL: *server, PerKind: *budget}, func(p bench.Progress) {
		fmt.Fprintf(stderr, "\r%3.0f%%  %-50s", p.Fraction*100, p.Step)
	})
	fmt.Fprintln(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "idlegrid-agent bench: %v\n", err)
		return 1
	}
	if err := bench.Save(*data, rep); err != nil {
		fmt.Fprintf(stderr, "idlegrid-agent bench: keeping the report: %v\n", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return 1
		}
		return 0
	}
	fmt.Fprintf(stdout, "Score %.0f, tier %s (%s)\n", rep.Score, rep.Tier, rep.Host)
	for _, r := range rep.Results {
		fmt.Fprintf(stdout, "  %-8s %s\n", bench.Labels[r.Kind], bench.Describe(r))
	}
	return 0
}

func parseKinds(s string) ([]bench.Kind, error) {
	// bench.Run refuses unknown kinds with a clear error.
	if s == "" {
		return nil, nil
	}
	var out []bench.Kind
	for _, k := range strings.Split(s, ",") {
		if k = strings.TrimSpace(k); k != "" {
			out = append(out, bench.Kind(k))
		}
	}
	if len(out) == 0 {
		return nil, errors.New("--only names no benchmark")
	}
	return out, nil
}

// pairedServer reads the server URL the agent paired with, if any.
func pairedServer(data string) string {
	b, err := os.ReadFile(filepath.Join(data, "state.json"))
	if err != nil {
		return ""
	}
	var st struct {
		ServerURL string `json:"server_url"`
	}
	_ = json.Unmarshal(b, &st)
	return st.ServerURL
}
