package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"
)

// workerCount is how many worker processes c needs.
func workerCount(c Config) int {
	per := c.PerWorker
	if per <= 0 {
		per = agentsPerWorker
	}
	return (c.Agents + per - 1) / per
}

// workers are the processes running the fleet, with their counters summed.
type workers struct {
	procs []*workerProc
	sends chan probeSend // probe heartbeats, while measuring
	// measuring gates sends: probes are timed only in the window.
	measuring atomic.Bool
}

type workerProc struct {
	cmd                *exec.Cmd
	stdin              io.WriteCloser
	online, sent, lost atomic.Int64
	enrolled           chan error
	done               chan struct{}
}

// startWorkers starts enough worker processes for c.Agents and waits until
// each has enrolled its agents.
func startWorkers(ctx context.Context, c Config, base, token string) (*workers, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	n := workerCount(c)
	ws := &workers{sends: make(chan probeSend, 4096)}
	first, probes := 0, c.Probes
	for i := range n {
		count := c.Agents / n
		if i < c.Agents%n {
			count++
		}
		j := job{Base: base, Token: token, First: first, Count: count, Probes: min(probes, count), GPUs: c.GPUs, Interval: c.Interval, Ramp: c.Ramp}
		first, probes = first+count, probes-j.Probes
		p, err := ws.start(self, j)
		if err != nil {
			ws.stop()
			return nil, err
		}
		ws.procs = append(ws.procs, p)
	}
	for _, p := range ws.procs {
		select {
		case err := <-p.enrolled:
			if err != nil {
				ws.stop()
				return nil, err
			}
		case <-ctx.Done():
			ws.stop()
			return nil, ctx.Err()
		}
	}
	return ws, nil
}

func (ws *workers) start(self string, j job) (*workerProc, error) {
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), workerEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting a worker: %w", err)
	}
	p := &workerProc{cmd: cmd, stdin: stdin, enrolled: make(chan error, 1), done: make(chan struct{})}
	b, _ := json.Marshal(j)
	if _, err := stdin.Write(append(b, '\n')); err != nil {
		return nil, fmt.Errorf("starting a worker: %w", err)
	}
	go ws.read(p, stdout)
	return p, nil
}

// read follows one worker's lines until it exits.
func (ws *workers) read(p *workerProc, stdout io.Reader) {
	defer close(p.done)
	sc := bufio.NewScanner(stdout)
	told := false
	tell := func(err error) {
		if !told {
			told = true
			p.enrolled <- err
		}
	}
	for sc.Scan() {
		var l workerLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			continue
		}
		switch {
		case l.Err != "":
			tell(errors.New(l.Err))
		case l.Enrolled:
			tell(nil)
		}
		p.online.Store(l.Online)
		p.sent.Store(l.Sent)
		p.lost.Store(l.Lost)
		if l.Probe != nil && ws.measuring.Load() {
			select {
			case ws.sends <- *l.Probe:
			default:
			}
		}
	}
	tell(errors.New("a worker exited before enrolling its agents"))
}

// connect tells every worker to start its agents.
func (ws *workers) connect() error {
	for _, p := range ws.procs {
		if _, err := io.WriteString(p.stdin, "go\n"); err != nil {
			return fmt.Errorf("starting agents: %w", err)
		}
	}
	return nil
}

func (ws *workers) sum(f func(*workerProc) *atomic.Int64) int64 {
	var n int64
	for _, p := range ws.procs {
		n += f(p).Load()
	}
	return n
}

func (ws *workers) online() int64 {
	return ws.sum(func(p *workerProc) *atomic.Int64 { return &p.online })
}
func (ws *workers) sent() int64 { return ws.sum(func(p *workerProc) *atomic.Int64 { return &p.sent }) }
func (ws *workers) lost() int64 { return ws.sum(func(p *workerProc) *atomic.Int64 { return &p.lost }) }

// stop closes every worker's stdin, which stops it, and waits for them.
func (ws *workers) stop() {
	var wg sync.WaitGroup
	for _, p := range ws.procs {
		_ = p.stdin.Close()
		wg.Go(func() {
			select {
			case <-p.done:
			case <-time.After(10 * time.Second):
				_ = p.cmd.Process.Kill()
			}
			_ = p.cmd.Wait()
		})
	}
	wg.Wait()
}
