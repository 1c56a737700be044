//go:build darwin

package idle

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
)

// ioregPath is absolute so that a PATH set by whatever launched the app
// cannot substitute another program.
const ioregPath = "/usr/sbin/ioreg"

// ioregSource asks IOKit's HID system through ioreg, which needs neither
// cgo nor any permission. Forking every few seconds costs a few
// milliseconds, which is fine at the rate presence is polled.
type ioregSource struct{}

func detect() Source { return ioregSource{} }

// Read runs ioreg and parses HIDIdleTime. Full-screen apps are not detected
// on macOS yet.
func (ioregSource) Read(ctx context.Context) (State, error) {
	out, err := exec.CommandContext(ctx, ioregPath, "-c", "IOHIDSystem", "-d", "4").Output()
	if err != nil {
		if ctx.Err() != nil {
			return State{}, ctx.Err()
		}
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
			return unknown("ioreg", fmt.Sprintf("%s is missing, so idle time cannot be read", ioregPath)), nil
		}
		return State{}, fmt.Errorf("running ioreg: %w", err)
	}
	d, found, err := parseHIDIdleTime(out)
	if err != nil {
		return State{}, fmt.Errorf("reading ioreg output: %w", err)
	}
	if !found {
		return unknown("ioreg", "ioreg shows no IOHIDSystem idle time in this session"), nil
	}
	return State{
		IdleFor: d,
		Known:   true,
		Source:  "ioreg",
		Reason:  "full-screen apps are not detected on macOS",
	}, nil
}
