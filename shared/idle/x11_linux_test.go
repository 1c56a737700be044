//go:build linux

package idle

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
)

// TestMain silences xgb's package logger, which reports from its own
// goroutines when a test X server goes away under a connection that is still
// winding down. Set once, before any connection exists, so no goroutine
// races the write.
func TestMain(m *testing.M) {
	xgb.Logger = log.New(io.Discard, "", 0)
	m.Run()
}

func TestHasAtom(t *testing.T) {
	atoms := func(as ...uint32) []byte {
		b := make([]byte, 4*len(as))
		for i, a := range as {
			binary.LittleEndian.PutUint32(b[4*i:], a)
		}
		return b
	}
	for _, tc := range []struct {
		name  string
		value []byte
		want  bool
	}{
		{"only state", atoms(301), true},
		{"among others", atoms(300, 301, 302), true},
		{"absent", atoms(300, 302), false},
		{"empty", nil, false},
		{"truncated entry is ignored", atoms(300, 301)[:7], false},
		{"big-endian is not a match", []byte{0, 0, 1, 45}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := hasAtom(tc.value, 301); got != tc.want {
				t.Errorf("hasAtom(%x, 301) = %v, want %v", tc.value, got, tc.want)
			}
		})
	}
}

// startXvfb runs a private X server with a cookie and points XAUTHORITY at
// it, so xgb authenticates as on a desktop. It returns the display name.
func startXvfb(t *testing.T) string {
	t.Helper()
	xvfb, err := exec.LookPath("Xvfb")
	if err != nil {
		t.Fatal("Xvfb is not installed: run `make deps` (Debian: xvfb)")
	}
	cookie := make([]byte, 16)
	rand.Read(cookie)
	auth := filepath.Join(t.TempDir(), "Xauthority")
	if err := os.WriteFile(auth, xauthEntry(cookie), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("XAUTHORITY", auth)

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// -displayfd picks a free display and writes its number once the server
	// accepts connections, so the test needs no polling.
	cmd := exec.Command(xvfb, "-displayfd", "3", "-auth", auth, "-nolisten", "tcp", "-screen", "0", "320x240x24")
	cmd.ExtraFiles = []*os.File{w}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting Xvfb: %v", err)
	}
	w.Close()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	n, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		t.Fatalf("reading Xvfb's display number: %v", err)
	}
	return ":" + strings.TrimSpace(n)
}

// xauthEntry is an .Xauthority record valid for any host and display.
func xauthEntry(cookie []byte) []byte {
	var b []byte
	field := func(s []byte) {
		b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
		b = append(b, s...)
	}
	b = binary.BigEndian.AppendUint16(b, 0xffff) // FamilyWild
	field(nil)                                   // address
	field(nil)                                   // display number: any
	field([]byte("MIT-MAGIC-COOKIE-1"))
	field(cookie)
	return b
}

// windowManager plays the part of an EWMH window manager on a test server.
type windowManager struct {
	t    *testing.T
	c    *xgb.Conn
	root xproto.Window
}

func (wm windowManager) atom(name string) xproto.Atom {
	wm.t.Helper()
	r, err := xproto.InternAtom(wm.c, false, uint16(len(name)), name).Reply()
	if err != nil {
		wm.t.Fatalf("creating atom %s: %v", name, err)
	}
	return r.Atom
}

func (wm windowManager) window() xproto.Window {
	wm.t.Helper()
	id, err := xproto.NewWindowId(wm.c)
	if err != nil {
		wm.t.Fatal(err)
	}
	err = xproto.CreateWindowChecked(wm.c, 0, id, wm.root, 0, 0, 100, 100, 0,
		xproto.WindowClassInputOutput, 0, 0, nil).Check()
	if err != nil {
		wm.t.Fatalf("creating a window: %v", err)
	}
	return id
}

func (wm windowManager) set(win xproto.Window, prop, typ xproto.Atom, values ...uint32) {
	wm.t.Helper()
	data := make([]byte, 4*len(values))
	for i, v := range values {
		xgb.Put32(data[4*i:], v)
	}
	err := xproto.ChangePropertyChecked(wm.c, xproto.PropModeReplace, win, prop, typ, 32, uint32(len(values)), data).Check()
	if err != nil {
		wm.t.Fatalf("setting a property: %v", err)
	}
}

func TestX11FullScreen(t *testing.T) {
	display := startXvfb(t)
	c, err := xgb.NewConnDisplay(display)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	wm := windowManager{t: t, c: c, root: xproto.Setup(c).DefaultScreen(c).Root}

	// The steps build on each other, as a session does: first no window
	// manager at all, then one whose active window changes state.
	if _, err := x11FullScreen(display); err != errNoEWMH {
		t.Fatalf("without a window manager: error %v, want errNoEWMH", err)
	}

	active := wm.atom("_NET_ACTIVE_WINDOW")
	state := wm.atom("_NET_WM_STATE")
	full := wm.atom("_NET_WM_STATE_FULLSCREEN")
	above := wm.atom("_NET_WM_STATE_ABOVE")
	game, editor := wm.window(), wm.window()
	wm.set(game, state, xproto.AtomAtom, uint32(above), uint32(full))
	wm.set(editor, state, xproto.AtomAtom, uint32(above))

	for _, tc := range []struct {
		name   string
		active uint32
		want   bool
	}{
		{"full-screen game is active", uint32(game), true},
		{"windowed editor is active", uint32(editor), false},
		{"desktop has focus", 0, false},
		{"active window is gone", 0x7ffffff, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wm.set(wm.root, active, xproto.AtomWindow, tc.active)
			got, err := x11FullScreen(display)
			if err != nil {
				t.Fatalf("x11FullScreen: %v", err)
			}
			if got != tc.want {
				t.Errorf("x11FullScreen = %v, want %v", got, tc.want)
			}
		})
	}

	// The same answer through the Source, with logind out of the way.
	wm.set(wm.root, active, xproto.AtomWindow, uint32(game))
	src := newLogindSource(nil, display)
	full2, note, err := src.fullScreen(context.Background())
	if err != nil || !full2 || note != "" {
		t.Errorf("fullScreen = %v, %q, %v; want true with no note", full2, note, err)
	}
}
