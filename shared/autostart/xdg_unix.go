//go:build unix && !darwin

package autostart

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// autostartDir is $XDG_CONFIG_HOME/autostart, or ~/.config/autostart. A
// relative $XDG_CONFIG_HOME is ignored, as the XDG Base Directory spec
// requires.
func autostartDir() (string, error) {
	if dir := os.Getenv("XDG_CONFIG_HOME"); filepath.IsAbs(dir) {
		return filepath.Join(dir, "autostart"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("finding the config directory: %w", err)
	}
	return filepath.Join(home, ".config", "autostart"), nil
}

func desktopFile(name string) (string, error) {
	dir, err := autostartDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, slug(name)+".desktop"), nil
}

func enable(e Entry) error {
	content, err := desktopEntry(e)
	if err != nil {
		return err
	}
	path, err := desktopFile(e.Name)
	if err != nil {
		return err
	}
	// 0700 for directories we create, as the XDG Base Directory spec asks.
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(path), err)
	}
	return writeFileAtomic(path, content, 0o644)
}

func disable(name string) error {
	path, err := desktopFile(name)
	if err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing %s: %w", path, err)
	}
	return nil
}

func enabled(name string) (bool, error) {
	path, err := desktopFile(name)
	if err != nil {
		return false, err
	}
	content, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading %s: %w", path, err)
	}
	return desktopEntryEnabled(content), nil
}
