// Command idlegrid-server is the Idlegrid control plane: console, JSON API
// and agent hub in one binary over one sqlite file. Pure Go (CGO_ENABLED=0).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/idlegrid/idlegrid/controlplane/demo"
	"github.com/idlegrid/idlegrid/controlplane/server"
)

var timeNow = time.Now

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "credit":
			os.Exit(runCredit(context.Background(), os.Args[2:], os.Stdout, os.Stderr))
		case "payouts":
			os.Exit(runPayouts(context.Background(), os.Args[2:], os.Stdout, os.Stderr))
		case "backup":
			os.Exit(runBackup(context.Background(), os.Args[2:], os.Stdout, os.Stderr))
		}
	}
	// The server's live heap is small next to what each collection costs at
	// tens of thousands of agents: collect at 3x it rather than Go's 2x
	// (GOGC=200; about 5 % less CPU at 20,000 agents), unless GOGC says
	// otherwise.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(200)
	}
	cfg, err := server.Load(os.Args[1:], os.Getenv)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "idlegrid-server: invalid configuration:\n%v\n", err)
		os.Exit(2)
	}
	log := server.Logger(cfg.LogLevel, os.Stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := server.New(ctx, cfg, log)
	if err != nil {
		fmt.Fprintf(os.Stderr, "idlegrid-server: %v\n", err)
		os.Exit(1)
	}
	err = srv.ListenAndServe(ctx, func(url string, login *demo.Login) {
		fmt.Printf("\nIdlegrid control plane is running.\n  Console:  %s/\n  API:      %s/api/v1/openapi.json\n  Database: %s\n", url, url, srv.Store.Path())
		if login != nil {
			fmt.Printf("  Demo login: %s / %s   (%d simulated suppliers)\n", login.Email, login.Password, cfg.Demo)
		}
		fmt.Printf("Press Ctrl+C to stop.\n\n")
	})
	if cerr := srv.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "idlegrid-server: %v\n", err)
		os.Exit(1)
	}
}
