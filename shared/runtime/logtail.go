package runtime

import (
	"io"
	"os"
	"regexp"
	"strings"
)

var (
	ansiEscape = regexp.MustCompile(`\x1b\[[0-9;]*[A-Za-z]`)
	// rayLogPrefix is the start of a `ray start` log record:
	// "2026-11-22 04:57:11,214	INFO scripts.py:1043 -- ".
	rayLogPrefix = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+\s+[A-Z]+\s+\S+:\d+ -- `)
)

// logTail returns the last n meaningful lines of a `ray start` log (see
// tailLines), without colours and record prefixes, joined by newlines;
// "" when there is none.
func logTail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	const window = 16 << 10
	if info, err := f.Stat(); err == nil && info.Size() > window {
		if _, err := f.Seek(-window, io.SeekEnd); err != nil {
			return ""
		}
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return ""
	}
	return tailLines(string(b), n)
}

// tailLines keeps the last n lines of `ray start` output that can say why
// it ended: not blank, not what it prints on every start, not the banner it
// prints once the node is up, and
// not the copies of other logs it quotes when a process of the node dies
// (they stay in the log file).
func tailLines(text string, n int) string {
	var lines []string
	quoting := false
	for _, l := range strings.Split(text, "\n") {
		l = strings.TrimSpace(rayLogPrefix.ReplaceAllString(ansiEscape.ReplaceAllString(l, ""), ""))
		switch {
		case l == "" || isNoise(l):
		case l == "Ray runtime started." || strings.HasPrefix(l, "Process exit logs will be saved to"):
			lines = lines[:0] // all before is banner
		case strings.HasPrefix(l, "----- BEGIN "):
			quoting = true
		case strings.HasPrefix(l, "----- END "):
			quoting = false
		case !quoting:
			lines = append(lines, l)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// noise is what `ray start` prints on every start.
var noise = []string{
	"Usage stats collection is disabled",
	"Local node IP:",
	"Token authentication is disabled",
}

func isNoise(line string) bool {
	for _, p := range noise {
		if strings.HasPrefix(line, p) {
			return true
		}
	}
	return false
}

// truncateFront keeps the last max bytes of s, where the point of an error
// usually is.
func truncateFront(s string, max int) string {
	if max <= 3 {
		return ""
	}
	if len(s) <= max {
		return s
	}
	s = s[len(s)-(max-3):]
	for len(s) > 0 && s[0]&0xC0 == 0x80 { // do not start inside a UTF-8 sequence
		s = s[1:]
	}
	return "..." + s
}
