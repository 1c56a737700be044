//go:build linux

package runtime

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

// sysProcAttr puts `ray start` in a process group of its own, so that the
// group can be signalled without touching the agent, and has the kernel
// send it SIGTERM, which it handles by stopping the node, if the agent dies.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}

func platformCheck() error { return nil }

// terminate sends SIGTERM to `ray start` alone.
func terminate(pid int) error {
	if pid <= 0 {
		return nil
	}
	return syscall.Kill(pid, syscall.SIGTERM)
}

// killGroup sends SIGKILL to the process group pgid, never the agent's own.
func killGroup(pgid int) {
	if pgid <= 1 || pgid == syscall.Getpgrp() {
		return
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

// sweepTimeout bounds waiting for killed processes to go.
const sweepTimeout = 10 * time.Second

// sweep kills whatever is left of a node and waits until it is gone.
func sweep(pgid int, marker, dir string) error {
	deadline := time.Now().Add(sweepTimeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		pids := nodeProcesses(pgid, marker, dir)
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes %v survived SIGKILL", pids)
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		<-tick.C
	}
}

// nodeProcesses lists the live processes of a node: those in its process
// group, and those Ray put in groups or sessions of their own (workers, job
// drivers), found by the marker in their environment or the node's dir in
// their command line.
func nodeProcesses(pgid int, marker, dir string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	env := []byte("\x00" + markerEnv + "=" + marker + "\x00")
	self := os.Getpid()
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		state, group, ok := procStat(pid)
		if !ok || state == 'Z' || state == 'X' {
			continue // gone, or dead and waiting to be reaped
		}
		if pgid > 1 && group == pgid {
			pids = append(pids, pid)
			continue
		}
		if environ, err := os.ReadFile("/proc/" + e.Name() + "/environ"); err == nil && bytes.Contains(append([]byte{0}, environ...), env) {
			pids = append(pids, pid)
			continue
		}
		if cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline"); err == nil && dir != "" && bytes.Contains(cmdline, []byte(dir)) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// procStat reads a process's state and process group from /proc/pid/stat:
// "pid (comm) state ppid pgrp ...", where comm may hold spaces and ')'.
func procStat(pid int) (state byte, pgid int, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 3 || len(f[0]) != 1 {
		return 0, 0, false
	}
	pgid, err = strconv.Atoi(string(f[2]))
	if err != nil {
		return 0, 0, false
	}
	return f[0][0], pgid, true
}
