package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"image"
	"image/png"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/idlegrid/idlegrid/controlplane/servertest"
	"github.com/idlegrid/idlegrid/shared/farm"
	"github.com/idlegrid/idlegrid/shared/hw"
)

// buildApp builds the real desktop app (cgo, OpenGL), with clang when
// present: it compiles Fyne's GL driver in a fraction of gcc's time.
func buildApp(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "idlegrid")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	if _, err := exec.LookPath("clang"); err == nil && os.Getenv("CC") == "" {
		cmd.Env = append(cmd.Env, "CC=clang")
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the desktop app: %v\n%s", err, out)
	}
	return bin
}

// startXvfb runs a private X server and returns its display.
func startXvfb(t *testing.T) string {
	t.Helper()
	xvfb, err := exec.LookPath("Xvfb")
	if err != nil {
		t.Fatal("Xvfb is not installed: run `make deps` (Debian: xvfb)")
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// -displayfd picks a free display and writes its number once the server
	// accepts connections.
	cmd := exec.Command(xvfb, "-displayfd", "3", "-nolisten", "tcp", "-screen", "0", "1024x768x24")
	cmd.ExtraFiles = []*os.File{w}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting Xvfb: %v", err)
	}
	w.Close()
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	n, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		t.Fatalf("reading Xvfb's display: %v", err)
	}
	return ":" + strings.TrimSpace(n)
}

// runApp starts the app on display with its own home (preferences) and
// stops it when the test ends.
func runApp(t *testing.T, bin, display string, args ...string) *bytes.Buffer {
	t.Helper()
	home := t.TempDir()
	var out bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "DISPLAY="+display, "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"), "XDG_CACHE_HOME="+filepath.Join(home, ".cache"))
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return &out
}

// screenshot captures the whole display once the app has drawn (many
// colours on screen), saves it, and returns it.
func screenshot(t *testing.T, display, name string) image.Image {
	t.Helper()
	if _, err := exec.LookPath("import"); err != nil {
		t.Fatal("imagemagick's import is not installed: run `make deps`")
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		cmd := exec.Command("import", "-display", display, "-window", "root", "png:-")
		b, err := cmd.Output()
		if err == nil {
			img, err := png.Decode(bytes.NewReader(b))
			if err == nil && colours(img) > 40 {
				dir := os.Getenv("IDLEGRID_SCREENSHOTS")
				if dir == "" {
					dir = t.TempDir()
				}
				if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
					t.Fatal(err)
				}
				return img
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the app drew nothing on %s within 30s (last error: %v)", display, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func colours(img image.Image) int {
	seen := map[[3]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 3 {
		for x := b.Min.X; x < b.Max.X; x += 3 {
			r, g, bl, _ := img.At(x, y).RGBA()
			seen[[3]uint32{r >> 8, g >> 8, bl >> 8}] = true
		}
	}
	return len(seen)
}

// The real app in a real X window: first run shows onboarding; a paired
// run shows the dashboard and the device comes online at the control
// plane. Screenshots land in $IDLEGRID_SCREENSHOTS (docs/screenshots).
func TestRealWindowUnderXvfb(t *testing.T) {
	bin := buildApp(t)
	srv := servertest.Start(t, nil)
	owner := srv.SignUp("gamer@example.com")

	display := startXvfb(t)
	runApp(t, bin, display, "--server", srv.URL, "--data", t.TempDir(), "--sim-gpus", "RTX 4090x2")
	img := screenshot(t, display, "desktop-onboarding.png")
	if b := img.Bounds(); b.Dx() != 1024 || b.Dy() != 768 {
		t.Fatalf("screenshot is %v", b)
	}

	display2 := startXvfb(t)
	out := runApp(t, bin, display2, "--server", srv.URL, "--data", t.TempDir(), "--sim-gpus", "RTX 4090x2", "--pair", owner.PairingCode())
	servertest.Eventually(t, 30*time.Second, "the app's device online", func() bool {
		ds := owner.Devices()
		return len(ds) == 1 && ds[0].State == "online" && len(ds[0].GPUs) == 2
	})
	// Let the chart gather a few seconds of samples before the picture.
	time.Sleep(4 * time.Second)
	screenshot(t, display2, "desktop-dashboard.png")
	if strings.Contains(out.String(), "panic") {
		t.Fatalf("the app panicked:\n%s", out)
	}
}

// statusServer serves a rig's status API (the agent's real farm.Server) on
// loopback, for simulated GPUs at the given temperatures.
func statusServer(t *testing.T, name, gpus string, temps ...int) string {
	t.Helper()
	models, err := hw.ParseSimSpec(gpus)
	if err != nil {
		t.Fatal(err)
	}
	sim := hw.NewSim(models, int64(len(name)), nil)
	sim.SetLoadAll(0.9)
	samples, err := sim.Sample(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range temps {
		samples[i].TempC = c
	}
	snap := farm.Snapshot{DeviceID: "dev_" + name, Version: "1.4.0", State: "online", Connected: true, GPUs: sim.GPUs(), Samples: samples,
		SampledAt: time.Now(), EarnsPerHour: 250_000, Verification: farm.VerificationVerified, Verified: true}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv := &farm.Server{Host: name, Source: func() farm.Snapshot { snap.SampledAt = time.Now(); return snap }}
	go func() { _ = srv.ServeListener(ctx, ln) }()
	t.Cleanup(cancel)
	return ln.Addr().String()
}

// A farmer's view in a real window: `--tab farm --rig …` opens on the Farm
// tab with two rigs polled, the hot GPU first. The screenshot lands in
// $IDLEGRID_SCREENSHOTS (docs/screenshots/desktop-farm.png).
func TestFarmTabInARealWindow(t *testing.T) {
	bin := buildApp(t)
	srv := servertest.Start(t, nil)
	owner := srv.SignUp("farmer@example.com")
	north := statusServer(t, "rig-north", "RTX 4090x4", 64, 71, 88, 69)
	south := statusServer(t, "rig-south", "RTX 3090x2", 58, 61)
	display := startXvfb(t)
	out := runApp(t, bin, display, "--server", srv.URL, "--data", t.TempDir(), "--sim-gpus", "RTX 4090",
		"--pair", owner.PairingCode(), "--tab", "farm", "--rig", north, "--rig", south)
	servertest.Eventually(t, 30*time.Second, "the app's device online", func() bool {
		ds := owner.Devices()
		return len(ds) == 1 && ds[0].State == "online"
	})
	// Give the Farm tab a poll of both rigs and a redraw before the picture.
	time.Sleep(3 * time.Second)
	screenshot(t, display, "desktop-farm.png")
	if strings.Contains(out.String(), "panic") || strings.Contains(out.String(), "idlegrid: ") {
		t.Fatalf("the app failed:\n%s", out)
	}
}

// A tab that does not exist stops the app at once with the choices.
func TestUnknownTabIsRefused(t *testing.T) {
	bin := buildApp(t)
	cmd := exec.Command(bin, "--tab", "rigs", "--data", t.TempDir())
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 || !strings.Contains(string(out), "dashboard, earnings, benchmark, guard, farm, settings") {
		t.Fatalf("--tab rigs: %v, want exit status 2 naming the tabs\n%s", err, out)
	}
}
