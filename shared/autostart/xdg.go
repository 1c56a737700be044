package autostart

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
)

// desktopEntry renders the XDG autostart file for e (Desktop Entry
// Specification 1.5).
func desktopEntry(e Entry) ([]byte, error) {
	if strings.Contains(e.Exec, "=") {
		// The spec forbids '=' in the program path, quoted or not.
		return nil, fmt.Errorf("%w: Exec %q contains '=', which desktop entries cannot run", ErrInvalidEntry, e.Exec)
	}
	var b bytes.Buffer
	b.WriteString("[Desktop Entry]\n")
	b.WriteString("Type=Application\n")
	fmt.Fprintf(&b, "Name=%s\n", escapeValue(e.Name))
	fmt.Fprintf(&b, "Exec=%s\n", execLine(append([]string{e.Exec}, e.Args...)))
	b.WriteString("Terminal=false\n")
	b.WriteString("X-GNOME-Autostart-enabled=true\n")
	return b.Bytes(), nil
}

// execReserved are the characters that force an Exec argument into quotes.
const execReserved = " \t\n\"'\\><~|&;$*?#()`"

// execLine renders argv as the value of an Exec key. Quoting follows the
// spec's two layers: first the argument quoting (double quotes, with ", `,
// $ and \ escaped by a backslash), then the general escaping of string
// values, which doubles every backslash again. That is why one literal
// backslash ends up as four. A literal % is %% in either case, lest it be
// read as a field code.
func execLine(argv []string) string {
	quoted := make([]string, len(argv))
	for i, a := range argv {
		a = strings.ReplaceAll(a, "%", "%%")
		if a == "" || strings.ContainsAny(a, execReserved) {
			var q strings.Builder
			q.WriteByte('"')
			for _, r := range a {
				if strings.ContainsRune("\"`$\\", r) {
					q.WriteByte('\\')
				}
				q.WriteRune(r)
			}
			q.WriteByte('"')
			a = q.String()
		}
		quoted[i] = a
	}
	return escapeValue(strings.Join(quoted, " "))
}

// valueEscaper applies the spec's escapes for string values, so that a
// value stays on one line and backslashes survive unescaping.
var valueEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, "\t", `\t`, "\r", `\r`)

func escapeValue(s string) string {
	s = valueEscaper.Replace(s)
	if strings.HasPrefix(s, " ") {
		// Leading spaces are trimmed by readers unless written as \s.
		s = `\s` + s[1:]
	}
	return s
}

// desktopEntryEnabled reads an existing autostart file: desktops switch an
// entry off without deleting it, by Hidden=true (the spec; KDE) or
// X-GNOME-Autostart-enabled=false (GNOME's startup settings).
func desktopEntryEnabled(content []byte) bool {
	inMain := false
	sc := bufio.NewScanner(bytes.NewReader(content))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") {
			inMain = line == "[Desktop Entry]"
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !inMain || !ok {
			continue
		}
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		switch {
		case key == "Hidden" && value == "true":
			return false
		case key == "X-GNOME-Autostart-enabled" && value == "false":
			return false
		}
	}
	return true
}
