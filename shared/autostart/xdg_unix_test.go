//go:build unix && !darwin

package autostart

import (
	"os"
	"path/filepath"
	"testing"
)

// goldenEntry exercises quoting in the program path and in arguments.
var goldenEntry = Entry{
	Name: "Idlegrid",
	Exec: "/opt/Idle Grid/idlegrid",
	Args: []string{"--minimized", "--profile=$HOME's rig"},
}

func TestXDGLifecycle(t *testing.T) {
	config := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", config)
	file := filepath.Join(config, "autostart", "idlegrid.desktop")

	if on, err := Enabled("Idlegrid"); err != nil || on {
		t.Fatalf("before Enable: Enabled = %v, %v; want false", on, err)
	}
	if err := Enable(goldenEntry); err != nil {
		t.Fatalf("Enable: %v", err)
	}
	content, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("Enable wrote no %s: %v", file, err)
	}
	checkGolden(t, "idlegrid.desktop", content)

	info, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", info.Mode().Perm())
	}
	if entries, _ := os.ReadDir(filepath.Dir(file)); len(entries) != 1 {
		t.Errorf("autostart dir holds %v, want only the desktop file (no temp files left)", entries)
	}
	if on, err := Enabled("Idlegrid"); err != nil || !on {
		t.Fatalf("after Enable: Enabled = %v, %v; want true", on, err)
	}

	// Enabling again replaces the file rather than failing or appending.
	if err := Enable(Entry{Name: "Idlegrid", Exec: "/usr/bin/idlegrid"}); err != nil {
		t.Fatalf("second Enable: %v", err)
	}
	if again, _ := os.ReadFile(file); string(again) == string(content) {
		t.Errorf("second Enable left the old file in place")
	}

	if err := Disable("Idlegrid"); err != nil {
		t.Fatalf("Disable: %v", err)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Errorf("after Disable the file is still there: %v", err)
	}
	if on, err := Enabled("Idlegrid"); err != nil || on {
		t.Fatalf("after Disable: Enabled = %v, %v; want false", on, err)
	}
	if err := Disable("Idlegrid"); err != nil {
		t.Fatalf("Disable when absent: %v", err)
	}
}

// A user who switched the entry off in the desktop's startup settings sees
// it reported as off, though the file is still there.
func TestXDGEnabledHonoursDesktopSwitch(t *testing.T) {
	config := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", config)
	if err := os.MkdirAll(filepath.Join(config, "autostart"), 0o700); err != nil {
		t.Fatal(err)
	}
	off, err := os.ReadFile(filepath.Join("testdata", "gnome-disabled.desktop"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(config, "autostart", "idlegrid.desktop"), off, 0o644); err != nil {
		t.Fatal(err)
	}
	if on, err := Enabled("Idlegrid"); err != nil || on {
		t.Fatalf("Enabled = %v, %v; want false for a switched-off entry", on, err)
	}
}

func TestXDGConfigDir(t *testing.T) {
	home := t.TempDir()
	for _, tc := range []struct {
		name, xdg, want string
	}{
		{"XDG_CONFIG_HOME set", "/custom/config", "/custom/config/autostart/idlegrid-dev.desktop"},
		{"unset falls back to ~/.config", "", filepath.Join(home, ".config/autostart/idlegrid-dev.desktop")},
		{"relative is ignored", "relative/config", filepath.Join(home, ".config/autostart/idlegrid-dev.desktop")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("HOME", home)
			t.Setenv("XDG_CONFIG_HOME", tc.xdg)
			got, err := desktopFile("Idlegrid Dev")
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("desktopFile = %s, want %s", got, tc.want)
			}
		})
	}
}

// Without a config directory yet (a fresh account), Enable creates it
// private, as the XDG spec asks.
func TestXDGEnableCreatesPrivateDirs(t *testing.T) {
	config := filepath.Join(t.TempDir(), "fresh", "config")
	t.Setenv("XDG_CONFIG_HOME", config)
	if err := Enable(Entry{Name: "Idlegrid", Exec: "/usr/bin/idlegrid"}); err != nil {
		t.Fatalf("Enable: %v", err)
	}
	for _, dir := range []string{config, filepath.Join(config, "autostart")} {
		info, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != 0o700 {
			t.Errorf("%s has mode %v, want 0700", dir, info.Mode().Perm())
		}
	}
}
