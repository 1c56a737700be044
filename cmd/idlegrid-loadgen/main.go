// Command idlegrid-loadgen measures how far a control plane holds: it
// starts idlegrid-server as a child process on loopback, enrolls N
// simulated agents over the real API, keeps them heartbeating over real
// websockets with telemetry, and reports the server's CPU and RSS,
// heartbeat-to-stored latency, telemetry samples stored per second and,
// after restarting the server, how long all agents take to reconnect. It
// stops by itself.
//
//	go build -o bin/ ./cmd/idlegrid-server ./cmd/idlegrid-loadgen
//	bin/idlegrid-loadgen --server-bin bin/idlegrid-server --agents 2000 --interval 5s --duration 60s
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if os.Getenv(workerEnv) == "1" {
		os.Exit(worker(ctx, os.Stdin, os.Stdout))
	}
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// Config is one load run.
type Config struct {
	ServerBin string
	Agents    int
	GPUs      int // per agent
	Interval  time.Duration
	Duration  time.Duration
	Ramp      time.Duration // spread connecting over this long
	Probes    int           // agents whose heartbeats are timed to the store
	Restart   bool          // restart the server and time the reconnect storm
	DataDir   string
	// APIRate, when positive, reads single objects from the API at this many
	// requests per second while measuring, spread over enough accounts to
	// stay within each account's request budget.
	APIRate int
	// DebugListen is passed to the server, to profile it while it is
	// measured (go tool pprof http://ADDR/debug/pprof/profile).
	DebugListen string
	// PerWorker is the most agents one worker process runs (default
	// agentsPerWorker).
	PerWorker int
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("idlegrid-loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c Config
	fs.StringVar(&c.ServerBin, "server-bin", "bin/idlegrid-server", "the idlegrid-server binary to start and measure")
	fs.IntVar(&c.Agents, "agents", 1000, "simulated agents (1..50000)")
	fs.IntVar(&c.GPUs, "gpus", 2, "GPUs per agent (1..8)")
	fs.DurationVar(&c.Interval, "interval", 5*time.Second, "heartbeat interval the server tells agents")
	fs.DurationVar(&c.Duration, "duration", time.Minute, "how long to measure once every agent is connected (max 30m)")
	fs.DurationVar(&c.Ramp, "ramp", 10*time.Second, "spread the agents' first connections over this long")
	fs.IntVar(&c.Probes, "probes", 20, "agents whose heartbeats are timed until stored")
	fs.BoolVar(&c.Restart, "restart", true, "restart the server at the end and time the reconnect storm")
	fs.StringVar(&c.DataDir, "data", "", "data directory for the server (default: a new temp dir, removed after)")
	fs.IntVar(&c.APIRate, "api-rate", 0, "also read single objects from the API at this many requests/s while measuring (0: don't)")
	fs.StringVar(&c.DebugListen, "debug-listen", "", "have the server serve its profiler here, e.g. 127.0.0.1:6060")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	overhead := fs.Bool("agent-overhead", false, "instead: measure one real idlegrid-agent's own CPU and RSS for --duration (and node_exporter's beside it, with --node-exporter)")
	agentBin := fs.String("agent-bin", "bin/idlegrid-agent", "the idlegrid-agent binary, for --agent-overhead")
	warmup := fs.Duration("warmup", time.Minute, "with --agent-overhead: run the agent this long before measuring")
	nodeExporter := fs.String("node-exporter", "", "a prometheus-node-exporter binary to measure beside the agent, for --agent-overhead")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	switch {
	case c.Agents < 1 || c.Agents > 50000:
		fmt.Fprintln(stderr, "idlegrid-loadgen: --agents must be 1..50000")
		return 2
	case c.GPUs < 1 || c.GPUs > 8:
		fmt.Fprintln(stderr, "idlegrid-loadgen: --gpus must be 1..8")
		return 2
	case c.Interval < 100*time.Millisecond || c.Duration <= 0 || c.Duration > 30*time.Minute:
		fmt.Fprintln(stderr, "idlegrid-loadgen: --interval must be at least 100ms and --duration 0..30m")
		return 2
	}
	if *overhead {
		us, err := Overhead(ctx, OverheadConfig{ServerBin: c.ServerBin, AgentBin: *agentBin, NodeExporter: *nodeExporter, Warmup: *warmup, Duration: c.Duration},
			func(format string, a ...any) { fmt.Fprintf(stderr, format+"\n", a...) })
		if err != nil {
			fmt.Fprintf(stderr, "idlegrid-loadgen: %v\n", err)
			return 1
		}
		if *asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			_ = enc.Encode(us)
			return 0
		}
		for _, u := range us {
			fmt.Fprintf(stdout, "%s: %.2f%% of one core, RSS %.1f MiB, %d scrapes (%d failed)\n", u.Name, u.CPUPct, u.RSSMiB, u.Scrapes, u.Failures)
		}
		return 0
	}
	c.Probes = min(c.Probes, c.Agents)
	rep, err := Run(ctx, c, func(format string, a ...any) { fmt.Fprintf(stderr, format+"\n", a...) })
	if err != nil {
		fmt.Fprintf(stderr, "idlegrid-loadgen: %v\n", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
		return 0
	}
	rep.Print(stdout)
	return 0
}
