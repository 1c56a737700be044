package svmtest

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const installTimeout = 5 * time.Minute

// rpcDir is the server's folder, found from the module root: tests run in
// their own package's directory, anywhere in the module.
func rpcDir(t testing.TB) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatalf("svmtest: %v", err)
	}
	for dir := wd; ; {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			rpc := filepath.Join(dir, "controlplane", "payout", "svmtest", "rpc")
			statSources(t, rpc)
			return rpc
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("svmtest: no go.mod above %s to find the SVM server from", wd)
		}
		dir = parent
	}
}

// statSources stats the server's scripts from this process: go test then
// counts them as the test's inputs, and does not answer from its cache
// after they change.
func statSources(t testing.TB, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("svmtest: the SVM server's folder: %v", err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".mjs") || e.Name() == "package-lock.json" {
			_, _ = os.Stat(filepath.Join(dir, e.Name()))
		}
	}
}

// installMu serializes installs within this process; across processes
// (go test runs packages in parallel) the install lands by one rename.
var installMu sync.Mutex

// ensureModules installs the server's node_modules with npm ci when they
// are missing. npm ci runs in a scratch folder next to them and the result
// is renamed into place, so a half-done or concurrent install is never
// seen as installed.
func ensureModules(t testing.TB, dir string) {
	t.Helper()
	installMu.Lock()
	defer installMu.Unlock()
	want := pinnedLiteSVM(t, dir)
	if installedOK(t, dir, want) {
		return
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Fatalf("svmtest: npm is not installed (%v): it installs the Solana VM the payout tests run (litesvm); install Node and npm (.ci/install-deps does on CI)", err)
	}
	scratch, err := os.MkdirTemp(dir, ".npm-ci-")
	if err != nil {
		t.Fatalf("svmtest: %v", err)
	}
	defer os.RemoveAll(scratch)
	for _, name := range []string{"package.json", "package-lock.json"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err == nil {
			err = os.WriteFile(filepath.Join(scratch, name), b, 0o644)
		}
		if err != nil {
			t.Fatalf("svmtest: copying %s for npm ci: %v", name, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), installTimeout)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = scratch
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("svmtest: npm ci for the SVM server failed (%v); run `npm ci` in %s to see why:\n%s", err, dir, out)
	}
	t.Logf("svmtest: installed the SVM server's node_modules in %v", time.Since(start).Round(time.Millisecond))
	if err := os.Rename(filepath.Join(scratch, "node_modules"), filepath.Join(dir, "node_modules")); err != nil {
		// Another test process may have won the race: theirs will do.
		if !installedOK(t, dir, want) {
			t.Fatalf("svmtest: moving node_modules into %s: %v", dir, err)
		}
	}
}

// installedOK reports whether node_modules holds litesvm at version want;
// a node_modules holding anything else fails the test with what to do.
func installedOK(t testing.TB, dir, want string) bool {
	t.Helper()
	got, err := packageVersion(filepath.Join(dir, "node_modules", "litesvm", "package.json"))
	switch {
	case err == nil && got == want:
		return true
	case err == nil:
		t.Fatalf("svmtest: %s/node_modules has litesvm %s, package.json pins %s: delete that node_modules and run the tests again", dir, got, want)
	case !errors.Is(err, fs.ErrNotExist):
		t.Fatalf("svmtest: reading the installed litesvm: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules")); err == nil {
		t.Fatalf("svmtest: %s/node_modules has no litesvm (an interrupted npm ci?): delete it and run the tests again", dir)
	}
	return false
}

// pinnedLiteSVM is the litesvm version package.json asks for.
func pinnedLiteSVM(t testing.TB, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		t.Fatalf("svmtest: %v", err)
	}
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	if err := json.Unmarshal(b, &pkg); err != nil || pkg.Dependencies["litesvm"] == "" {
		t.Fatalf("svmtest: %s/package.json names no litesvm dependency (%v)", dir, err)
	}
	return pkg.Dependencies["litesvm"]
}

func packageVersion(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	var pkg struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(b, &pkg); err != nil {
		return "", err
	}
	return pkg.Version, nil
}
