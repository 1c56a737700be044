// Command idlegrid is the supplier's desktop app (Fyne): one-click
// onboarding, live GPU monitoring, the guard that hands the PC back when the
// gamer returns, and earnings. It drives shared/supplier; desktop/ only
// renders. Needs cgo (Fyne's OpenGL driver, NVML).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"

	"github.com/idlegrid/idlegrid/assets"
	"github.com/idlegrid/idlegrid/desktop"
	"github.com/idlegrid/idlegrid/shared/autostart"
	"github.com/idlegrid/idlegrid/shared/farm"
	"github.com/idlegrid/idlegrid/shared/hw"
	"github.com/idlegrid/idlegrid/shared/hw/nvidia"
	"github.com/idlegrid/idlegrid/shared/idle"
	igruntime "github.com/idlegrid/idlegrid/shared/runtime"
	"github.com/idlegrid/idlegrid/shared/supplier"
)

// appID matches FyneApp.toml; preferences live under it.
const appID = "io.idlegrid.desktop"

var version = "dev"

func main() {
	os.Exit(run())
}

func run() int {
	fs := flag.NewFlagSet("idlegrid", flag.ContinueOnError)
	defData := filepath.Join(configDir(), "idlegrid")
	server := fs.String("server", envOr("IDLEGRID_SERVER", "http://127.0.0.1:8080"), "control plane URL, prefilled in onboarding (env IDLEGRID_SERVER)")
	data := fs.String("data", envOr("IDLEGRID_DATA", defData), "directory for the device key and state (env IDLEGRID_DATA)")
	simGPUs := fs.String("sim-gpus", "", `simulate GPUs, e.g. "RTX 4090x2" (demos and tests)`)
	pair := fs.String("pair", "", "pair with this code from the console and skip onboarding (scripted set-ups)")
	tab := ""
	fs.Func("tab", "open on this tab: "+strings.Join(desktop.Tabs, ", "), func(v string) error {
		if !slices.Contains(desktop.Tabs, strings.ToLower(v)) {
			return fmt.Errorf("no tab %q: use one of %s", v, strings.Join(desktop.Tabs, ", "))
		}
		tab = v
		return nil
	})
	var rigs []string
	fs.Func("rig", "add a rig to the Farm tab: the address of its agent's status API, e.g. 192.168.1.20:9400 (repeat for more)", func(v string) error {
		if _, err := farm.NormalizeAddr(v); err != nil {
			return err
		}
		rigs = append(rigs, v)
		return nil
	})
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))

	var gpu hw.GPUProbe
	if *simGPUs != "" {
		models, err := hw.ParseSimSpec(*simGPUs)
		if err != nil {
			fmt.Fprintf(os.Stderr, "idlegrid: --sim-gpus: %v\n", err)
			return 2
		}
		sim := hw.NewSim(models, 1, nil)
		sim.SetLoadAll(0.6)
		gpu = sim
	} else {
		gpu = nvidia.Open()
	}
	defer gpu.Close()

	a := app.NewWithID(appID)
	a.SetIcon(fyne.NewStaticResource("icon.png", assets.Icon))
	sup, err := supplier.New(supplier.Config{
		DataDir: *data, DefaultServer: *server, Version: version,
		GPU: gpu, Host: hw.NewHost(*data), Idle: idle.Detect(), Prefs: a.Preferences(), Log: log,
		// Clusters run on Ray when it is installed (Linux); the guard's pause
		// drains them, so the PC comes back to its owner.
		Runtime: igruntime.NewRay(igruntime.RayConfig{DataDir: filepath.Join(*data, "ray"), Log: log.With("part", "ray")}),
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "idlegrid: %v\n", err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if *pair != "" {
		pctx, pcancel := context.WithTimeout(ctx, 30*time.Second)
		err := sup.PairWithCode(pctx, *server, *pair)
		pcancel()
		if err == nil {
			err = sup.FinishOnboarding()
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "idlegrid: --pair: %v\n", err)
			return 1
		}
	}
	done := make(chan error, 1)
	go func() { done <- sup.Serve(ctx) }()

	ui := desktop.New(a, sup, func(on bool) error {
		if !on {
			return autostart.Disable("Idlegrid")
		}
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		return autostart.Enable(autostart.Entry{Name: "Idlegrid", Exec: exe})
	})
	for _, r := range rigs {
		if err := ui.AddRig(r, ""); err != nil {
			fmt.Fprintf(os.Stderr, "idlegrid: --rig %s: %v\n", r, err)
			return 2
		}
	}
	if tab != "" {
		if err := ui.ShowTab(tab); err != nil {
			fmt.Fprintf(os.Stderr, "idlegrid: --tab: %v\n", err)
			return 2
		}
	}
	ui.Start()
	ui.Window().ShowAndRun()
	ui.Close()
	cancel()
	if err := <-done; err != nil {
		fmt.Fprintf(os.Stderr, "idlegrid: %v\n", err)
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

func configDir() string {
	if d, err := os.UserConfigDir(); err == nil {
		return d
	}
	return "."
}
