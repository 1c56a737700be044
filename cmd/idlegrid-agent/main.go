// Command idlegrid-agent is the headless supplier agent for rigs and farms:
// the same core as the desktop app (shared/agent) without a window. Built
// with cgo it reads NVIDIA GPUs through NVML; without cgo it says so at
// start-up and offers only simulated GPUs.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"golang.org/x/sync/errgroup"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/idlegrid/idlegrid/shared/agent"
	"github.com/idlegrid/idlegrid/shared/bench"
	"github.com/idlegrid/idlegrid/shared/farm"
	"github.com/idlegrid/idlegrid/shared/hw"
	"github.com/idlegrid/idlegrid/shared/hw/nvidia"
	"github.com/idlegrid/idlegrid/shared/proto"
	igruntime "github.com/idlegrid/idlegrid/shared/runtime"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) > 0 && args[0] == "bench" {
		return runBench(args[1:], os.Stdout, os.Stderr)
	}
	fs := flag.NewFlagSet("idlegrid-agent", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: idlegrid-agent [flags]        run the supplier agent\n       idlegrid-agent bench [--json]  measure this machine\n\n")
		fs.PrintDefaults()
	}
	defaultData := filepath.Join(userDataDir(), "idlegrid-agent")
	var (
		server  = fs.String("server", envOr("IDLEGRID_SERVER", "http://127.0.0.1:8080"), "control plane URL (env IDLEGRID_SERVER)")
		data    = fs.String("data", envOr("IDLEGRID_DATA", defaultData), "directory for the device key and state (env IDLEGRID_DATA)")
		pair    = fs.String("pair", "", "pairing code from the console, to join your account (once)")
		enroll  = fs.String("enroll", envOr("IDLEGRID_ENROLL", ""), "farm enrollment token, to join its account (once; env IDLEGRID_ENROLL)")
		name    = fs.String("name", "", "device name shown in the console (default: host name)")
		simGPUs = fs.String("sim-gpus", "", `simulate GPUs instead of reading NVIDIA ones, e.g. "RTX 4090x2" (demos and tests)`)
		level   = fs.String("log-level", envOr("IDLEGRID_LOG_LEVEL", "info"), "debug, info, warn or error")
		region  = fs.String("region", envOr("IDLEGRID_REGION", ""), "where this machine is, e.g. eu-west (env IDLEGRID_REGION)")
		runtime = fs.String("clusters", envOr("IDLEGRID_CLUSTERS", "ray"), "cluster runtime to offer: ray, or off (env IDLEGRID_CLUSTERS)")
		rayBin  = fs.String("ray-bin", "ray", `the ray command (pip install "ray[default]")`)
		rayIP   = fs.String("ray-node-ip", "", "address Ray advertises to the cluster's other nodes (default: Ray picks the host's address)")
		rayCPUs = fs.Int("ray-num-cpus", 0, "CPUs a Ray node offers (0: the control plane or Ray decides)")
		rayMiB  = fs.Int("ray-object-store-mib", 0, "object store size of a Ray node in MiB (0: the control plane or Ray decides)")
		metrics = fs.String("metrics-listen", envOr("IDLEGRID_METRICS_LISTEN", farm.DefaultListen), "address of the local status API and Prometheus /metrics (DCGM names); empty: off")
		lan     = fs.Bool("lan", false, "farm mode: serve status and metrics on the LAN (0.0.0.0:9400 unless --metrics-listen says otherwise; needs --farm-token) and announce this rig over mDNS")
		token   = fs.String("farm-token", envOr("IDLEGRID_FARM_TOKEN", ""), "token the farm's tools send as 'Authorization: Bearer …' to read status and metrics off the LAN (env IDLEGRID_FARM_TOKEN)")
	)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	metricsSet := false
	fs.Visit(func(f *flag.Flag) { metricsSet = metricsSet || f.Name == "metrics-listen" })
	if *lan && !metricsSet && os.Getenv("IDLEGRID_METRICS_LISTEN") == "" {
		*metrics = fmt.Sprintf("0.0.0.0:%d", farm.DefaultPort)
	}
	if *metrics != "" {
		if need, err := farm.NeedsToken(*metrics); err != nil {
			fmt.Fprintf(os.Stderr, "idlegrid-agent: --metrics-listen %q: %v\n", *metrics, err)
			return 2
		} else if need && *token == "" {
			fmt.Fprintf(os.Stderr, "idlegrid-agent: serving status and metrics on %s (the LAN) needs a token: pass --farm-token, e.g. --farm-token %s\n", *metrics, farm.NewToken())
			return 2
		}
	}
	if *pair != "" && *enroll != "" {
		fmt.Fprintln(os.Stderr, "idlegrid-agent: use --pair or --enroll, not both")
		return 2
	}
	log := newLogger(*level)

	var gpu hw.GPUProbe
	if *simGPUs != "" {
		models, err := hw.ParseSimSpec(*simGPUs)
		if err != nil {
			fmt.Fprintf(os.Stderr, "idlegrid-agent: --sim-gpus: %v\n", err)
			return 2
		}
		gpu = hw.NewSim(models, 1, nil)
		fmt.Fprintf(os.Stderr, "GPUs: %d simulated (%s); they are labelled simulated and never paid.\n", len(models), *simGPUs)
	} else {
		gpu = nvidia.Open()
		st := gpu.Status()
		if st.Available {
			fmt.Fprintf(os.Stderr, "GPUs: %d NVIDIA (driver %s)\n", len(gpu.GPUs()), st.Driver)
		} else {
			fmt.Fprintf(os.Stderr, "GPUs: none offered: %s\n", st.Reason)
		}
	}
	defer gpu.Close()

	host := hw.NewHost(*data)
	// One sampler for heartbeats and the local status API alike.
	mon := &agent.Monitor{GPU: gpu, Host: host, Every: 5 * time.Second}
	cfg := agent.Config{
		DataDir: *data, ServerURL: *server, Name: *name, Version: version,
		GPU: gpu, Host: host, Monitor: mon, Log: log, Region: *region,
	}
	switch *runtime {
	case "ray":
		cfg.Runtime = igruntime.NewRay(igruntime.RayConfig{Binary: *rayBin, NodeIP: *rayIP, DataDir: filepath.Join(*data, "ray"),
			Log: log.With("part", "ray"), NumCPUs: *rayCPUs, ObjectStoreMiB: *rayMiB})
	case "off":
		fmt.Fprintln(os.Stderr, "Clusters: off (--clusters off); this device only supplies telemetry and benchmarks.")
	default:
		fmt.Fprintf(os.Stderr, "idlegrid-agent: --clusters %q: use ray or off\n", *runtime)
		return 2
	}
	a, err := agent.New(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "idlegrid-agent: %v\n", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	joined := false
	switch {
	case *pair != "":
		err, joined = a.Pair(ctx, *pair), true
	case *enroll != "" && !a.Paired():
		err, joined = a.Enroll(ctx, *enroll), true
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "idlegrid-agent: %v\n", err)
		return 1
	}
	// On first join the rig measures itself; later runs come from
	// `idlegrid-agent bench`. The newest report is (re)sent at every start.
	hist, _ := bench.History(*data)
	if joined && len(hist) == 0 {
		fmt.Fprintln(os.Stderr, "Running the first benchmark (under a minute)…")
		rep, err := bench.Run(ctx, nil, bench.Options{DataDir: *data, ServerURL: a.State().ServerURL}, nil)
		if err != nil {
			fmt.Fprintf(os.Stderr, "idlegrid-agent: first benchmark: %v (run `idlegrid-agent bench` later)\n", err)
		} else if err := bench.Save(*data, rep); err == nil {
			fmt.Fprintf(os.Stderr, "Benchmark: score %.0f, tier %s\n", rep.Score, rep.Tier)
			hist = []bench.Report{rep}
		}
	}
	if len(hist) > 0 {
		a.SendBenchReport(proto.BenchReportOf(hist[0]))
	}
	st := a.State()
	if st.DeviceID != "" {
		fmt.Fprintf(os.Stderr, "Device %s (%s) at %s\n", st.DeviceID, st.Name, st.ServerURL)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return mon.Serve(gctx) })
	if *metrics != "" {
		src := farm.AgentSource{Agent: a, Monitor: mon, GPUs: gpu.GPUs(), Version: version, Runtimes: a.Runtimes}
		srv := &farm.Server{Listen: *metrics, Token: *token, Source: src.Snapshot, Log: log.With("part", "farm")}
		fmt.Fprintf(os.Stderr, "Status and metrics: http://%s/status and /metrics\n", *metrics)
		g.Go(func() error { return srv.Serve(gctx) })
		if *lan {
			_, port, _ := net.SplitHostPort(*metrics)
			p, _ := strconv.Atoi(port)
			g.Go(func() error {
				return farm.Announce(gctx, farm.Service{Instance: a.State().Name, Port: p, DeviceID: a.State().DeviceID, Version: version, TokenRequired: *token != ""})
			})
		}
	}
	err = a.Serve(gctx)
	stop() // the agent ended: end the rest with it
	if gerr := g.Wait(); err == nil && gerr != nil && ctx.Err() == nil {
		err = gerr
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "idlegrid-agent: %v\n", err)
		return 1
	}
	return 0
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func userDataDir() string {
	if d, err := os.UserConfigDir(); err == nil {
		return d
	}
	return "."
}
