package runtime

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	goruntime "runtime"
	"strings"
	"time"

	"github.com/idlegrid/idlegrid/shared/proto"
)

// installHint is how to get Ray with its dashboard, which the Jobs API and
// the node list need.
const installHint = `pip install "ray[default]"`

var rayVersion = regexp.MustCompile(`ray, version (\S+)`)

// Detect runs `ray --version` and checks that the dashboard's own
// dependencies import, which they do only with the "default" extra.
func (r *Ray) Detect(ctx context.Context) (proto.RuntimeInfo, error) {
	if err := platformCheck(); err != nil {
		return proto.RuntimeInfo{}, err
	}
	bin, err := exec.LookPath(r.cfg.Binary)
	if err != nil {
		return proto.RuntimeInfo{}, fmt.Errorf("ray is not installed (%v): %s", err, installHint)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute) // a cold Python import takes seconds
	defer cancel()

	out, err := exec.CommandContext(ctx, bin, "--version").CombinedOutput()
	if err != nil {
		return proto.RuntimeInfo{}, fmt.Errorf("running %s --version: %w: %s; reinstall with %s", bin, err, lastLine(out), installHint)
	}
	m := rayVersion.FindSubmatch(out)
	if m == nil {
		return proto.RuntimeInfo{}, fmt.Errorf("%s --version printed %q, not a ray version; install Ray with %s", bin, lastLine(out), installHint)
	}
	info := proto.RuntimeInfo{Name: proto.RuntimeRay, Version: string(m[1])}

	python := pythonOf(bin)
	out, err = exec.CommandContext(ctx, python, "-c", "import ray.dashboard.optional_deps").CombinedOutput()
	if err != nil {
		if ctx.Err() != nil {
			return info, fmt.Errorf("checking ray's dashboard: %w", ctx.Err())
		}
		return info, fmt.Errorf("ray %s is installed without its dashboard (%s: %s), so it can run no jobs: %s", info.Version, python, lastLine(out), installHint)
	}
	return info, nil
}

// lastLine is the last line of a command's output, where Python puts the
// exception.
func lastLine(out []byte) string { return truncateFront(tailLines(string(out), 1), 300) }

// pythonOf finds the Python that runs the ray script: the interpreter on
// its #! line, or else a python next to it (a pyenv shim, a Windows
// Scripts dir), or else python3 on PATH.
func pythonOf(rayBin string) string {
	if f, err := os.Open(rayBin); err == nil {
		line, _ := bufio.NewReader(f).ReadSlice('\n')
		f.Close()
		if rest, ok := bytes.CutPrefix(line, []byte("#!")); ok {
			fields := strings.Fields(string(rest))
			if len(fields) == 2 && filepath.Base(fields[0]) == "env" {
				fields = fields[1:]
			}
			if len(fields) == 1 && strings.Contains(filepath.Base(fields[0]), "python") {
				return fields[0]
			}
		}
	}
	dir := filepath.Dir(rayBin)
	names := []string{"python3", "python"}
	if goruntime.GOOS == "windows" {
		names = []string{"python.exe", filepath.Join("..", "python.exe")}
	}
	for _, name := range names {
		p := filepath.Join(dir, name)
		if info, err := os.Stat(p); err == nil && !info.IsDir() {
			return p
		}
	}
	if p, err := exec.LookPath("python3"); err == nil {
		return p
	}
	return "python"
}
