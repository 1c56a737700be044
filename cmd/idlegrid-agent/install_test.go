package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The rig installer, run into a scratch root: files land with tight
// modes, the settings name what the agent reads, and bad input changes
// nothing.
func TestInstallScript(t *testing.T) {
	script, err := filepath.Abs("../../installer/linux/install-agent.sh")
	if err != nil {
		t.Fatal(err)
	}
	run := func(root string, args ...string) (string, error) {
		cmd := exec.Command("bash", append([]string{script, "--root", root, "--binary", "/bin/true"}, args...)...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	root := t.TempDir()
	out, err := run(root, "--server", "https://grid.example.com", "--enroll", "ige_abc123", "--region", "eu-west")
	if err != nil {
		t.Fatalf("install: %v\n%s", err, out)
	}
	if !strings.Contains(out, "would run: systemctl enable --now idlegrid-agent.service") || !strings.Contains(out, "would run: useradd --system") {
		t.Fatalf("the live steps were not named: %s", out)
	}
	for path, mode := range map[string]os.FileMode{
		"etc/idlegrid/agent.env":                    0o600,
		"var/lib/idlegrid-agent":                    0o700 | os.ModeDir,
		"usr/local/bin/idlegrid-agent":              0o755,
		"etc/systemd/system/idlegrid-agent.service": 0o644,
	} {
		info, err := os.Stat(filepath.Join(root, path))
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode() != mode {
			t.Errorf("%s: mode %v, want %v", path, info.Mode(), mode)
		}
	}
	env, _ := os.ReadFile(filepath.Join(root, "etc/idlegrid/agent.env"))
	for _, want := range []string{"IDLEGRID_SERVER=https://grid.example.com", "IDLEGRID_ENROLL=ige_abc123", "IDLEGRID_REGION=eu-west"} {
		if !strings.Contains(string(env), want) {
			t.Errorf("agent.env lacks %s:\n%s", want, env)
		}
	}
	// The names it writes are the ones the agent reads.
	src, _ := os.ReadFile("main.go")
	for _, name := range []string{"IDLEGRID_SERVER", "IDLEGRID_ENROLL", "IDLEGRID_REGION"} {
		if !strings.Contains(string(src), `"`+name+`"`) {
			t.Errorf("the agent does not read %s", name)
		}
	}
	unit, _ := os.ReadFile(filepath.Join(root, "etc/systemd/system/idlegrid-agent.service"))
	if !strings.Contains(string(unit), "ExecStart=/usr/local/bin/idlegrid-agent --data /var/lib/idlegrid-agent") || !strings.Contains(string(unit), "KillMode=control-group") {
		t.Errorf("unit: %s", unit)
	}

	for _, bad := range [][]string{
		{"--enroll", "ige_abc"},
		{"--server", "grid.example.com", "--enroll", "ige_abc"},
		{"--server", "https://x", "--enroll", "ige abc; rm -rf /"},
		{"--server", "https://x", "--enroll", "ige_abc", "--region", "EU West"},
	} {
		empty := t.TempDir()
		if out, err := run(empty, bad...); err == nil || !strings.Contains(out, "install-agent:") {
			t.Errorf("%v: accepted or unclear: %v %s", bad, err, out)
		}
		if entries, _ := os.ReadDir(empty); len(entries) != 0 {
			t.Errorf("%v: refused but wrote %d entries", bad, len(entries))
		}
	}
}
