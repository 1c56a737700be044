// Package idle tells how long the gamer has been away from the keyboard and
// mouse and whether a full-screen app (most likely a game) is in front, so
// the supplier app lends the GPU out only while nobody is using the machine.
//
// Each OS answers differently (logind on Linux, GetLastInputInfo on Windows,
// IOHIDSystem on macOS), and many sessions cannot answer at all (containers,
// CI, a service without a desktop). That is a State with Known=false, not an
// error: errors are kept for a read that broke while it was possible.
package idle

import (
	"context"
	"sync"
	"time"
)

// State is one reading of the user's presence.
type State struct {
	// IdleFor is how long there has been no keyboard or mouse input; zero
	// when the user is active or when Known is false. On Linux it counts
	// from when the desktop declared the session idle, after the desktop's
	// own delay, so there it understates the time away: the safe side.
	IdleFor time.Duration
	// FullScreen is true when a full-screen app has the screen. False also
	// when this platform or session cannot tell (see Reason).
	FullScreen bool
	// Known is false when this OS or session cannot tell at all. Callers
	// must then treat the user as present: renting the GPU out from under
	// a gamer costs far more than an idle hour missed.
	Known bool
	// Source names what answered: "logind", "windows", "ioreg", "none".
	Source string
	// Reason says in words why Known is false, or, when Known is true,
	// which part could not be read (usually the full-screen check). Empty
	// when everything was read.
	Reason string
}

// Away reports whether the GPU may be used: the reading is Known, no
// full-screen app is in front and there has been no input for at least
// after (NiceHash's default is 60 s). It is the one place that encodes
// "unknown means present".
func (s State) Away(after time.Duration) bool {
	return s.Known && !s.FullScreen && s.IdleFor >= after
}

// Source reads the user's presence. Implementations are safe for use by
// several goroutines and cheap enough to call every few seconds.
type Source interface {
	// Read returns the current State. "Cannot tell here" is a State with
	// Known=false and a nil error; an error means a read that should have
	// worked failed, or ctx ended.
	Read(ctx context.Context) (State, error)
}

// Detect returns the Source for the OS the program runs on. It does no I/O:
// whether the session can answer shows in the first Read.
func Detect() Source { return detect() }

// unknown builds the State of a platform or session that cannot tell.
func unknown(source, reason string) State {
	return State{Source: source, Reason: reason}
}

// Fake is a Source for tests of code that consumes idle readings: the test
// sets what Read returns. The zero value is ready and reads State{} (not
// Known).
type Fake struct {
	mu    sync.Mutex
	state State
	err   error
}

// Set makes later Reads return s and no error.
func (f *Fake) Set(s State) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.state, f.err = s, nil
}

// SetErr makes later Reads fail with err, to test how callers handle a
// broken source.
func (f *Fake) SetErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

// Read returns what was last Set, or ctx's error once it has ended.
func (f *Fake) Read(ctx context.Context) (State, error) {
	if err := ctx.Err(); err != nil {
		return State{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return State{}, f.err
	}
	return f.state, nil
}
