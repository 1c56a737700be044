package autostart

import (
	"errors"
	"testing"
)

func TestWindowsCommandLine(t *testing.T) {
	const exe = `C:\Program Files\Idlegrid\idlegrid.exe`
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"program alone is quoted", nil, `"C:\Program Files\Idlegrid\idlegrid.exe"`},
		{"plain flags stay bare", []string{"--minimized", `C:\data`}, `"C:\Program Files\Idlegrid\idlegrid.exe" --minimized C:\data`},
		{"spaces", []string{"my rig"}, `"C:\Program Files\Idlegrid\idlegrid.exe" "my rig"`},
		{"empty", []string{""}, `"C:\Program Files\Idlegrid\idlegrid.exe" ""`},
		{"embedded quote", []string{`say "hi"`}, `"C:\Program Files\Idlegrid\idlegrid.exe" "say \"hi\""`},
		{"backslashes before a quote double", []string{`a\"b`}, `"C:\Program Files\Idlegrid\idlegrid.exe" "a\\\"b"`},
		{"trailing backslashes double before the closing quote", []string{`C:\my dir\`}, `"C:\Program Files\Idlegrid\idlegrid.exe" "C:\my dir\\"`},
		{"inner backslashes stay", []string{`a b\c`}, `"C:\Program Files\Idlegrid\idlegrid.exe" "a b\c"`},
		{"percent and dollar are not special", []string{"%APPDATA%", "$x"}, `"C:\Program Files\Idlegrid\idlegrid.exe" %APPDATA% $x`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := windowsCommandLine(exe, tc.args)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("windowsCommandLine(%q)\n got %s\nwant %s", tc.args, got, tc.want)
			}
		})
	}
}

func TestWindowsCommandLineRefusesQuoteInProgram(t *testing.T) {
	if _, err := windowsCommandLine(`C:\a"b.exe`, nil); !errors.Is(err, ErrInvalidEntry) {
		t.Fatalf("error %v, want ErrInvalidEntry", err)
	}
}

func TestStartupApproved(t *testing.T) {
	filetime := []byte{0x1c, 0x5a, 0x3e, 0x11, 0x9b, 0x5a, 0xdb, 0x01}
	for _, tc := range []struct {
		name string
		data []byte
		want bool
	}{
		{"enabled by Task Manager", append([]byte{2, 0, 0, 0}, make([]byte, 8)...), true},
		{"disabled by Task Manager", append([]byte{3, 0, 0, 0}, filetime...), false},
		{"enabled, other flag", append([]byte{6, 0, 0, 0}, make([]byte, 8)...), true},
		{"disabled, other flag", append([]byte{7, 0, 0, 0}, filetime...), false},
		{"empty value", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := startupApproved(tc.data); got != tc.want {
				t.Errorf("startupApproved(% x) = %v, want %v", tc.data, got, tc.want)
			}
		})
	}
}
