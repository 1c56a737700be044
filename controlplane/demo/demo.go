// Package demo runs a fleet of simulated supplier agents inside the control
// plane process. Each is a real shared/agent with a simulated GPU that
// enrolls and connects over a loopback websocket like any rig, so a new user
// sees a living console and explorer on a machine without a GPU. Demo
// devices are labelled simulated everywhere.
package demo

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"path/filepath"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/idlegrid/idlegrid/controlplane/account"
	"github.com/idlegrid/idlegrid/shared/agent"
	"github.com/idlegrid/idlegrid/shared/hw"
	simrt "github.com/idlegrid/idlegrid/shared/runtime/sim"
)

// Email is the demo account's login.
const Email = "demo@idlegrid.local"

// rigs are the simulated machines, cycled through for larger fleets.
var rigs = []string{"RTX 4090x2", "RTX 3090", "RTX 4080", "A100 80GB", "RTX 3080", "RTX 4070", "RTX 5090", "RTX 3060x4", "L4", "H100 80GB"}

// Login is the demo account, with a password fresh at every start.
type Login struct {
	Email, Password string
}

// Fleet is N simulated agents.
type Fleet struct {
	N         int
	ServerURL string
	DataDir   string // agents keep keys and state under DataDir/demo
	Accounts  *account.Service
	Log       *slog.Logger
	// Interval between load changes of the simulated GPUs.
	LoadEvery time.Duration
}

// PrepareLogin creates the demo account, or resets its password, and returns
// the login to print.
func (f *Fleet) PrepareLogin(ctx context.Context) (Login, error) {
	b := make([]byte, 9)
	if _, err := rand.Read(b); err != nil {
		return Login{}, err
	}
	pw := base64.RawURLEncoding.EncodeToString(b)
	if _, err := f.Accounts.SetPassword(ctx, Email, pw); err != nil {
		return Login{}, fmt.Errorf("preparing demo account: %w", err)
	}
	return Login{Email: Email, Password: pw}, nil
}

// Serve enrolls agents that are not paired yet and runs them all until ctx
// ends.
func (f *Fleet) Serve(ctx context.Context) error {
	u, err := f.Accounts.SetPasswordIfMissing(ctx, Email)
	if err != nil {
		return fmt.Errorf("demo account: %w", err)
	}
	token, _, err := f.Accounts.CreateEnrollmentToken(ctx, u.ID, "demo fleet", time.Hour)
	if err != nil {
		return fmt.Errorf("demo enrollment token: %w", err)
	}
	g, ctx := errgroup.WithContext(ctx)
	lan := simrt.NewNetwork() // demo clusters are simulated: nothing runs
	regions := []string{"eu-west", "eu-west", "us-east", "us-west", "asia", "eu-east"}
	for i := range f.N {
		name := fmt.Sprintf("demo-rig-%02d", i+1)
		models, err := hw.ParseSimSpec(rigs[i%len(rigs)])
		if err != nil {
			return err
		}
		sim := hw.NewSim(models, int64(i+1), nil)
		a, err := agent.New(agent.Config{
			DataDir:    filepath.Join(f.DataDir, "demo", name),
			ServerURL:  f.ServerURL,
			Name:       name,
			Version:    "demo",
			GPU:        sim,
			Host:       newSimHost(name, int64(i+1)),
			Log:        slog.New(quiet{f.Log.Handler()}).With("demo_agent", name),
			MinBackoff: 200 * time.Millisecond,
			MaxBackoff: 5 * time.Second,
			Runtime:    lan.Runtime(3 * time.Second),
			Region:     regions[i%len(regions)],
		})
		if err != nil {
			return fmt.Errorf("demo agent %s: %w", name, err)
		}
		if !a.Paired() {
			if err := a.Enroll(ctx, token); err != nil {
				f.Log.Error("enrolling demo agent", "agent", name, "err", err)
				continue
			}
		} else if err := a.Relocate(f.ServerURL); err != nil { // the server may listen elsewhere this time
			f.Log.Error("moving demo agent to this server", "agent", name, "err", err)
			continue
		}
		g.Go(func() error {
			if err := a.Serve(ctx); err != nil {
				f.Log.Error("demo agent stopped", "agent", name, "err", err)
			}
			return nil
		})
		g.Go(func() error { return f.vary(ctx, sim, int64(i+1)) })
	}
	return g.Wait()
}

// vary changes each simulated GPU's load now and then, so charts move.
func (f *Fleet) vary(ctx context.Context, sim *hw.Sim, seed int64) error {
	every := f.LoadEvery
	if every <= 0 {
		every = 45 * time.Second
	}
	rng := mrand.New(mrand.NewPCG(uint64(seed), 7))
	set := func() {
		for i := range sim.GPUs() {
			_ = sim.SetLoad(i, math.Max(0, rng.Float64()*1.3-0.3))
		}
	}
	set()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			set()
		}
	}
}

// quiet passes only warnings and errors: a dozen demo agents announcing
// every connection would bury the console URL that make run prints.
type quiet struct{ slog.Handler }

func (q quiet) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && q.Handler.Enabled(ctx, l)
}

func (q quiet) WithAttrs(a []slog.Attr) slog.Handler { return quiet{q.Handler.WithAttrs(a)} }

func (q quiet) WithGroup(g string) slog.Handler { return quiet{q.Handler.WithGroup(g)} }
