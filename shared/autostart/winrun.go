package autostart

import (
	"fmt"
	"strings"
)

// windowsCommandLine renders the Run value for exe and args. The program is
// always quoted: Windows resolves an unquoted path with spaces by trying
// each prefix ("C:\Program.exe" first), a classic hijack. Arguments are
// quoted as CommandLineToArgvW and the C runtime parse them back.
func windowsCommandLine(exe string, args []string) (string, error) {
	if strings.ContainsAny(exe, "\"\x00") {
		return "", fmt.Errorf("%w: Exec %q cannot be a Windows path", ErrInvalidEntry, exe)
	}
	var b strings.Builder
	b.WriteString(`"` + exe + `"`)
	for _, a := range args {
		b.WriteByte(' ')
		b.WriteString(windowsArg(a))
	}
	return b.String(), nil
}

// windowsArg quotes one argument when it needs it. Backslashes are literal
// except before a double quote, so a run of them is doubled when a quote (an
// escaped one, or the closing one) follows.
func windowsArg(a string) string {
	if a != "" && !strings.ContainsAny(a, " \t\n\v\"") {
		return a
	}
	var b strings.Builder
	b.WriteByte('"')
	slashes := 0
	for i := 0; i < len(a); i++ {
		switch c := a[i]; c {
		case '\\':
			slashes++
		case '"':
			b.WriteString(strings.Repeat(`\`, slashes+1))
			slashes = 0
		default:
			slashes = 0
		}
		b.WriteByte(a[i])
	}
	b.WriteString(strings.Repeat(`\`, slashes))
	b.WriteByte('"')
	return b.String()
}

// startupApproved reads a value under Explorer\StartupApproved\Run, where
// Task Manager and Settings record that the user switched a startup entry
// off (an odd first byte: 03 or 07) without touching the Run value itself.
func startupApproved(data []byte) bool {
	return len(data) == 0 || data[0]&1 == 0
}
