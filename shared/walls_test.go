package shared_test

import (
	"os/exec"
	"strings"
	"testing"
)

// Nothing under shared/ may depend on desktop/ or controlplane/, and nothing
// under controlplane/ on desktop/ or Fyne: the dependency walls of the
// design, checked on the real import graph (tests included).
func TestDependencyWalls(t *testing.T) {
	walls := []struct {
		pkgs   string
		banned []string
	}{
		{"github.com/idlegrid/idlegrid/shared/...", []string{"github.com/idlegrid/idlegrid/desktop", "github.com/idlegrid/idlegrid/controlplane", "fyne.io/"}},
		{"github.com/idlegrid/idlegrid/controlplane/...", []string{"github.com/idlegrid/idlegrid/desktop", "fyne.io/", "github.com/NVIDIA/"}},
	}
	for _, w := range walls {
		out, err := exec.Command("go", "list", "-deps", "-test", w.pkgs).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", w.pkgs, err, out)
		}
		deps := strings.Fields(string(out))
		if len(deps) < 10 {
			t.Fatalf("go list %s returned only %d packages: %v", w.pkgs, len(deps), deps)
		}
		for _, dep := range deps {
			for _, b := range w.banned {
				if strings.HasPrefix(dep, b) {
					t.Errorf("%s depends on %s", w.pkgs, dep)
				}
			}
		}
	}
}
