//go:build windows

package autostart

import (
	"errors"
	"fmt"

	"golang.org/x/sys/windows/registry"
)

// Per-user keys: writable without elevation, read by Explorer at login.
const (
	runKey      = `Software\Microsoft\Windows\CurrentVersion\Run`
	approvedKey = `Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run`
)

func enable(e Entry) error {
	cmd, err := windowsCommandLine(e.Exec, e.Args)
	if err != nil {
		return err
	}
	k, _, err := registry.CreateKey(registry.CURRENT_USER, runKey, registry.SET_VALUE)
	if err != nil {
		return fmt.Errorf("opening HKCU\\%s: %w", runKey, err)
	}
	defer k.Close()
	if err := k.SetStringValue(e.Name, cmd); err != nil {
		return fmt.Errorf("setting HKCU\\%s\\%s: %w", runKey, e.Name, err)
	}
	// A "disabled" mark left by Task Manager would silently win over the
	// switch the user just turned on in the app.
	return deleteValue(approvedKey, e.Name)
}

func disable(name string) error {
	if err := deleteValue(runKey, name); err != nil {
		return err
	}
	return deleteValue(approvedKey, name)
}

func enabled(name string) (bool, error) {
	k, err := registry.OpenKey(registry.CURRENT_USER, runKey, registry.QUERY_VALUE)
	if errors.Is(err, registry.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("opening HKCU\\%s: %w", runKey, err)
	}
	defer k.Close()
	if _, _, err := k.GetStringValue(name); errors.Is(err, registry.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("reading HKCU\\%s\\%s: %w", runKey, name, err)
	}

	a, err := registry.OpenKey(registry.CURRENT_USER, approvedKey, registry.QUERY_VALUE)
	if errors.Is(err, registry.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("opening HKCU\\%s: %w", approvedKey, err)
	}
	defer a.Close()
	data, _, err := a.GetBinaryValue(name)
	if errors.Is(err, registry.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading HKCU\\%s\\%s: %w", approvedKey, name, err)
	}
	return startupApproved(data), nil
}

// deleteValue removes a value under HKCU; a missing key or value is the
// outcome wanted, not an error.
func deleteValue(key, name string) error {
	k, err := registry.OpenKey(registry.CURRENT_USER, key, registry.SET_VALUE)
	if errors.Is(err, registry.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("opening HKCU\\%s: %w", key, err)
	}
	defer k.Close()
	if err := k.DeleteValue(name); err != nil && !errors.Is(err, registry.ErrNotExist) {
		return fmt.Errorf("deleting HKCU\\%s\\%s: %w", key, name, err)
	}
	return nil
}
