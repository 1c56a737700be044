//go:build linux

package idle

import (
	"errors"
	"fmt"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
)

// errNoEWMH is returned by x11FullScreen when no window manager publishes the
// active window, so nothing can be said.
var errNoEWMH = errors.New("the window manager does not publish _NET_ACTIVE_WINDOW")

// x11FullScreen reports whether the window the window manager marks active
// (EWMH _NET_ACTIVE_WINDOW on the root) is in _NET_WM_STATE_FULLSCREEN.
// Games under Wayland mostly run through XWayland, whose windows the
// compositor also describes this way; native Wayland windows are not seen.
func x11FullScreen(display string) (bool, error) {
	c, err := xgb.NewConnDisplay(display)
	if err != nil {
		return false, fmt.Errorf("connecting to X display %q: %w", display, err)
	}
	defer c.Close()

	atoms, err := lookupAtoms(c, "_NET_ACTIVE_WINDOW", "_NET_WM_STATE", "_NET_WM_STATE_FULLSCREEN")
	if err != nil {
		return false, err
	}
	activeAtom, stateAtom, fullAtom := atoms[0], atoms[1], atoms[2]
	if activeAtom == xproto.AtomNone {
		return false, errNoEWMH
	}
	if stateAtom == xproto.AtomNone || fullAtom == xproto.AtomNone {
		// No client ever asked for full-screen on this server.
		return false, nil
	}

	root := xproto.Setup(c).DefaultScreen(c).Root
	active, err := xproto.GetProperty(c, false, root, activeAtom, xproto.AtomWindow, 0, 1).Reply()
	if err != nil {
		return false, fmt.Errorf("reading _NET_ACTIVE_WINDOW: %w", err)
	}
	if active.Format != 32 || len(active.Value) < 4 {
		return false, errNoEWMH
	}
	win := xproto.Window(xgb.Get32(active.Value))
	if win == xproto.WindowNone {
		return false, nil // the desktop itself has focus
	}
	// 64 atoms is far more states than any window carries at once.
	state, err := xproto.GetProperty(c, false, win, stateAtom, xproto.AtomAtom, 0, 64).Reply()
	if err != nil {
		var gone xproto.WindowError
		if errors.As(err, &gone) {
			return false, nil // closed between the two reads
		}
		return false, fmt.Errorf("reading _NET_WM_STATE of window 0x%x: %w", win, err)
	}
	return state.Format == 32 && hasAtom(state.Value, fullAtom), nil
}

// lookupAtoms interns names without creating them: an atom nobody created
// cannot be set on any window.
func lookupAtoms(c *xgb.Conn, names ...string) ([]xproto.Atom, error) {
	cookies := make([]xproto.InternAtomCookie, len(names))
	for i, n := range names {
		cookies[i] = xproto.InternAtom(c, true, uint16(len(n)), n)
	}
	atoms := make([]xproto.Atom, len(names))
	for i, ck := range cookies {
		r, err := ck.Reply()
		if err != nil {
			return nil, fmt.Errorf("looking up atom %s: %w", names[i], err)
		}
		atoms[i] = r.Atom
	}
	return atoms, nil
}

// hasAtom reports whether a format-32 property value (atoms in the X
// connection's byte order, which xgb always sets to little-endian) holds
// want.
func hasAtom(value []byte, want xproto.Atom) bool {
	for i := 0; i+4 <= len(value); i += 4 {
		if xproto.Atom(xgb.Get32(value[i:])) == want {
			return true
		}
	}
	return false
}
