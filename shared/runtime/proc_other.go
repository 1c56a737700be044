//go:build !linux

package runtime

import (
	"fmt"
	"os"
	goruntime "runtime"
	"syscall"
)

// Ray refuses multi-node clusters on Windows and macOS (unless
// RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER is set), so process handling here is
// only what compiles everywhere: no process group and no sweep.

func sysProcAttr() *syscall.SysProcAttr { return nil }

func platformCheck() error {
	return fmt.Errorf("multi-node Ray clusters run on Linux only; Ray does not support them on %s", goruntime.GOOS)
}

func terminate(pid int) error {
	if pid <= 0 {
		return nil
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	defer p.Release()
	return p.Kill()
}

func killGroup(pid int) { _ = terminate(pid) }

func sweep(pgid int, marker, dir string) error { return nil }
