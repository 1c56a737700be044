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
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/idlegrid/idlegrid/shared/agent"
	"github.com/idlegrid/idlegrid/shared/hw"
	"github.com/idlegrid/idlegrid/shared/hw/nvidia"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fs := flag.NewFlagSet("idlegrid-agent", flag.ContinueOnError)
	defaultData := filepath.Join(userDataDir(), "idlegrid-agent")
	var (
		server  = fs.String("server", envOr("IDLEGRID_SERVER", "http://127.0.0.1:8080"), "control plane URL (env IDLEGRID_SERVER)")
		data    = fs.String("data", envOr("IDLEGRID_DATA", defaultData), "directory for the device key and state (env IDLEGRID_DATA)")
		pair    = fs.String("pair", "", "pairing code from the console, to join your account (once)")
		enroll  = fs.String("enroll", envOr("IDLEGRID_ENROLL", ""), "farm enrollment token, to join its account (once; env IDLEGRID_ENROLL)")
		name    = fs.String("name", "", "device name shown in the console (default: host name)")
		simGPUs = fs.String("sim-gpus", "", `simulate GPUs instead of reading NVIDIA ones, e.g. "RTX 4090x2" (demos and tests)`)
		level   = fs.String("log-level", envOr("IDLEGRID_LOG_LEVEL", "info"), "debug, info, warn or error")
	)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
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

	a, err := agent.New(agent.Config{
		DataDir: *data, ServerURL: *server, Name: *name, Version: version,
		GPU: gpu, Host: hw.NewHost(*data), Log: log,
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "idlegrid-agent: %v\n", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch {
	case *pair != "":
		err = a.Pair(ctx, *pair)
	case *enroll != "" && !a.Paired():
		err = a.Enroll(ctx, *enroll)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "idlegrid-agent: %v\n", err)
		return 1
	}
	st := a.State()
	if st.DeviceID != "" {
		fmt.Fprintf(os.Stderr, "Device %s (%s) at %s\n", st.DeviceID, st.Name, st.ServerURL)
	}
	if err := a.Serve(ctx); err != nil {
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
