//go:build !linux && !windows && !darwin

package idle

import (
	"context"
	"runtime"
)

// noSource answers for OSes without an implementation: never known, so the
// user always counts as present and the GPU is never lent out by mistake.
type noSource struct{}

func detect() Source { return noSource{} }

// Read returns a State that is not Known, with the reason.
func (noSource) Read(ctx context.Context) (State, error) {
	if err := ctx.Err(); err != nil {
		return State{}, err
	}
	return unknown("none", "idle detection is not implemented on "+runtime.GOOS), nil
}
