//go:build linux

package idle

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/godbus/dbus/v5"
)

// systemd-logind's names on the system bus.
const (
	logindName    = "org.freedesktop.login1"
	logindPath    = dbus.ObjectPath("/org/freedesktop/login1")
	logindManager = "org.freedesktop.login1.Manager"
	logindSession = "org.freedesktop.login1.Session"
	// autoSession is logind's alias for the caller's session or, when the
	// caller has none (an app started by a systemd user unit), the user's
	// display session. Older logind lacks it; GetSessionByPID covers them.
	autoSession = dbus.ObjectPath("/org/freedesktop/login1/session/auto")
)

// logindSource reads the session's idle hints from systemd-logind, which the
// desktop keeps up to date (GNOME sets IdleHint when its idle timer fires;
// not every desktop does), and checks X11 for a full-screen window.
// IdleSinceHint is when that timer fired, not the last input: GNOME's fires
// after the blank-screen delay (5 min by default), so the time away is that
// delay plus IdleFor. A desktop that never sets IdleHint reads as "present"
// for ever, which loses rentals but never disturbs a gamer.
//
// It opens a fresh bus connection per Read instead of keeping one: reads
// are seconds apart, and nothing needs mending when dbus or logind restarts.
type logindSource struct {
	bus     func(ctx context.Context) (*dbus.Conn, error)
	now     func() time.Time
	display string
	// x11Busy holds a token while an X11 check runs. xgb has no deadlines,
	// so a check against a hung X server is abandoned when ctx ends; the
	// token keeps such checks from piling up one per Read.
	x11Busy chan struct{}
}

func detect() Source {
	return newLogindSource(func(ctx context.Context) (*dbus.Conn, error) {
		return dbus.ConnectSystemBus(dbus.WithContext(ctx))
	}, os.Getenv("DISPLAY"))
}

// newLogindSource reads logind on the bus that bus connects to and checks
// X11 display (none when empty) for full-screen windows.
func newLogindSource(bus func(ctx context.Context) (*dbus.Conn, error), display string) *logindSource {
	return &logindSource{bus: bus, now: time.Now, display: display, x11Busy: make(chan struct{}, 1)}
}

// Read asks logind how long the session has been idle, then X11 whether the
// active window is full-screen.
func (s *logindSource) Read(ctx context.Context) (State, error) {
	conn, err := s.bus(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return State{}, ctx.Err()
		}
		return unknown("logind", fmt.Sprintf("no system D-Bus to ask logind about this session: %v", err)), nil
	}
	defer conn.Close()

	hint, since, reason, err := sessionIdleHints(ctx, conn)
	if err != nil {
		return State{}, err
	}
	if reason != "" {
		return unknown("logind", reason), nil
	}
	st := State{IdleFor: idleFromLogind(hint, since, s.now()), Known: true, Source: "logind"}
	st.FullScreen, st.Reason, err = s.fullScreen(ctx)
	if err != nil {
		return State{}, err
	}
	return st, nil
}

// sessionIdleHints reads IdleHint and IdleSinceHint of the caller's session.
// A logind that is absent or knows no session for this process (containers,
// CI, ssh without pam_systemd) yields a reason instead of an error.
func sessionIdleHints(ctx context.Context, conn *dbus.Conn) (hint bool, since uint64, reason string, err error) {
	hint, since, autoErr := readIdleHints(ctx, conn.Object(logindName, autoSession))
	if autoErr == nil {
		return hint, since, "", nil
	}
	if ctx.Err() != nil {
		return false, 0, "", ctx.Err()
	}
	var path dbus.ObjectPath
	pid := uint32(os.Getpid())
	call := conn.Object(logindName, logindPath).CallWithContext(ctx, logindManager+".GetSessionByPID", 0, pid)
	if err := call.Store(&path); err != nil {
		if ctx.Err() != nil {
			return false, 0, "", ctx.Err()
		}
		return false, 0, fmt.Sprintf("logind knows no session for this process (session/auto: %v; GetSessionByPID(%d): %v)", autoErr, pid, err), nil
	}
	hint, since, err = readIdleHints(ctx, conn.Object(logindName, path))
	if err != nil {
		return false, 0, "", fmt.Errorf("reading idle hints of logind session %s: %w", path, err)
	}
	return hint, since, "", nil
}

// readIdleHints reads the two properties of one session object.
func readIdleHints(ctx context.Context, obj dbus.BusObject) (hint bool, since uint64, err error) {
	hintV, err := getProperty(ctx, obj, "IdleHint")
	if err != nil {
		return false, 0, err
	}
	sinceV, err := getProperty(ctx, obj, "IdleSinceHint")
	if err != nil {
		return false, 0, err
	}
	hint, ok := hintV.Value().(bool)
	if !ok {
		return false, 0, fmt.Errorf("reading IdleHint: got %s, want a boolean", hintV.Signature())
	}
	since, ok = sinceV.Value().(uint64)
	if !ok {
		return false, 0, fmt.Errorf("reading IdleSinceHint: got %s, want uint64", sinceV.Signature())
	}
	return hint, since, nil
}

// getProperty is Properties.Get bound to ctx, which BusObject.GetProperty
// is not.
func getProperty(ctx context.Context, obj dbus.BusObject, name string) (dbus.Variant, error) {
	var v dbus.Variant
	err := obj.CallWithContext(ctx, "org.freedesktop.DBus.Properties.Get", 0, logindSession, name).Store(&v)
	if err != nil {
		return v, fmt.Errorf("reading %s: %w", name, err)
	}
	return v, nil
}

// fullScreen runs the X11 check within ctx. A missing or broken X server is
// a note in the State ("not full-screen"), never an error.
func (s *logindSource) fullScreen(ctx context.Context) (full bool, note string, err error) {
	if s.display == "" {
		return false, "full-screen apps are not detected: $DISPLAY is not set", nil
	}
	select {
	case s.x11Busy <- struct{}{}:
	default:
		return false, "full-screen check skipped: the X server has not answered the previous one", nil
	}
	type result struct {
		full bool
		err  error
	}
	done := make(chan result, 1)
	go func() {
		defer func() { <-s.x11Busy }()
		full, err := x11FullScreen(s.display)
		done <- result{full, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return false, fmt.Sprintf("full-screen check failed: %v", r.err), nil
		}
		return r.full, "", nil
	case <-ctx.Done():
		return false, "", ctx.Err()
	}
}
