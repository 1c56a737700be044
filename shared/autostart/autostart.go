// Package autostart turns "start Idlegrid when I log in" on and off for the
// desktop app, per OS and without admin rights: an XDG autostart file on
// Linux and the BSDs, a LaunchAgent on macOS, a Run value under HKCU on
// Windows.
//
// Each of these only takes effect at the next login; none starts the app
// now, since the user flipping the switch is already running it.
package autostart

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
)

// Entry is the program to start at login.
type Entry struct {
	// Name identifies the entry (say "Idlegrid"); it is shown to the user
	// by some desktops and names the file or registry value. Letters,
	// digits, spaces, '.', '-' and '_' only.
	Name string
	// Exec is the absolute path of the app's executable.
	Exec string
	// Args are passed to Exec as they are; each OS's quoting is done here.
	Args []string
}

// ErrInvalidEntry is wrapped by the errors for an Entry or name that cannot
// be registered as it is.
var ErrInvalidEntry = errors.New("invalid autostart entry")

// Enable registers e to start at login, replacing an earlier registration
// under the same name.
func Enable(e Entry) error {
	if err := checkName(e.Name); err != nil {
		return err
	}
	if !filepath.IsAbs(e.Exec) {
		return fmt.Errorf("%w: Exec %q is not an absolute path", ErrInvalidEntry, e.Exec)
	}
	if err := enable(e); err != nil {
		return fmt.Errorf("enabling autostart of %s: %w", e.Name, err)
	}
	return nil
}

// Disable removes the registration under name. Removing one that does not
// exist is not an error: the outcome the user asked for holds.
func Disable(name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	if err := disable(name); err != nil {
		return fmt.Errorf("disabling autostart of %s: %w", name, err)
	}
	return nil
}

// Enabled reports whether name is registered and not switched off by the
// user through the desktop's own startup settings.
func Enabled(name string) (bool, error) {
	if err := checkName(name); err != nil {
		return false, err
	}
	on, err := enabled(name)
	if err != nil {
		return false, fmt.Errorf("checking autostart of %s: %w", name, err)
	}
	return on, nil
}

// validName keeps names safe as file names, registry value names and
// launchd labels on every OS alike.
var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$`)

func checkName(name string) error {
	if !validName.MatchString(name) {
		return fmt.Errorf("%w: name %q must be 1–64 letters, digits, spaces, '.', '-' or '_', starting with a letter or digit", ErrInvalidEntry, name)
	}
	return nil
}

// slug is name as a file-name stem: lowercased, spaces as dashes.
func slug(name string) string {
	return strings.ReplaceAll(strings.ToLower(name), " ", "-")
}
