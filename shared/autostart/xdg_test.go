package autostart

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestExecLine(t *testing.T) {
	for _, tc := range []struct {
		name string
		argv []string
		want string
	}{
		{"plain path", []string{"/usr/bin/idlegrid"}, `/usr/bin/idlegrid`},
		{"plain flags stay bare", []string{"/usr/bin/idlegrid", "--minimized", "a=b"}, `/usr/bin/idlegrid --minimized a=b`},
		{"spaces", []string{"/opt/Idle Grid/idlegrid", "my rig"}, `"/opt/Idle Grid/idlegrid" "my rig"`},
		{"double quotes", []string{"/a", `say "hi"`}, `/a "say \\"hi\\""`},
		{"dollar", []string{"/a", "$HOME"}, `/a "\\$HOME"`},
		{"backslash is four", []string{"/a", `C:\dir`}, `/a "C:\\\\dir"`},
		{"backtick", []string{"/a", "`id`"}, "/a \"\\\\`id\\\\`\""},
		{"single quote", []string{"/a", "it's"}, `/a "it's"`},
		{"shell characters", []string{"/a", "x|y&z;w", "~", "*?#()<>"}, `/a "x|y&z;w" "~" "*?#()<>"`},
		{"percent bare", []string{"/a", "100%"}, `/a 100%%`},
		{"percent quoted", []string{"/a", "50% off"}, `/a "50%% off"`},
		{"empty argument", []string{"/a", ""}, `/a ""`},
		{"newline and tab", []string{"/a", "l1\nl2\tx"}, `/a "l1\nl2\tx"`},
		{"all at once", []string{"/opt/My $App/bin", `a "b" \c $d`}, `"/opt/My \\$App/bin" "a \\"b\\" \\\\c \\$d"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := execLine(tc.argv); got != tc.want {
				t.Errorf("execLine(%q)\n got %s\nwant %s", tc.argv, got, tc.want)
			}
		})
	}
}

func TestEscapeValue(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"plain", "Idlegrid", "Idlegrid"},
		{"newline stays on one line", "a\nb", `a\nb`},
		{"backslash", `a\b`, `a\\b`},
		{"leading space survives trimming", " x", `\sx`},
		{"inner spaces are kept", "a b", "a b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := escapeValue(tc.in); got != tc.want {
				t.Errorf("escapeValue(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestDesktopEntryRefusesEqualsInProgram(t *testing.T) {
	_, err := desktopEntry(Entry{Name: "Idlegrid", Exec: "/opt/a=b/idlegrid"})
	if !errors.Is(err, ErrInvalidEntry) {
		t.Fatalf("error %v, want ErrInvalidEntry", err)
	}
}

func TestDesktopEntryEnabled(t *testing.T) {
	for _, tc := range []struct {
		name    string
		fixture string
		want    bool
	}{
		{"as written by Enable", "idlegrid.desktop", true},
		{"switched off in GNOME", "gnome-disabled.desktop", false},
		{"hidden by KDE", "kde-hidden.desktop", false},
		{"Hidden in another group does not count", "hidden-in-action.desktop", true},
		{"Hidden=false", "hidden-false.desktop", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			content, err := os.ReadFile(filepath.Join("testdata", tc.fixture))
			if err != nil {
				t.Fatal(err)
			}
			if got := desktopEntryEnabled(content); got != tc.want {
				t.Errorf("desktopEntryEnabled(%s) = %v, want %v", tc.fixture, got, tc.want)
			}
		})
	}
}
