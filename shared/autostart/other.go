//go:build !unix && !windows

package autostart

import (
	"errors"
	"fmt"
	"runtime"
)

// errUnsupported says which OS lacks start-at-login; it wraps
// errors.ErrUnsupported for callers that test for it.
var errUnsupported = fmt.Errorf("start at login on %s: %w", runtime.GOOS, errors.ErrUnsupported)

// Nothing can be registered here, so nothing is: Disable and Enabled state
// that truthfully, and only Enable, which cannot keep its promise, fails.
func enable(Entry) error           { return errUnsupported }
func disable(string) error         { return nil }
func enabled(string) (bool, error) { return false, nil }
