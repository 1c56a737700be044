package idle

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"time"
)

// hidIdleTime matches an IOHIDSystem "HIDIdleTime" property in ioreg's
// output, both in its own line (`"HIDIdleTime" = 123`) and inside a
// one-line dictionary (`"HIDIdleTime"=123,`). The value is captured up to
// the next separator so that a malformed one shows up as an error instead
// of silently matching nothing.
var hidIdleTime = regexp.MustCompile(`"HIDIdleTime"\s*=\s*([^\s,}]+)`)

// parseHIDIdleTime reads the nanoseconds since the last input from the
// output of `ioreg -c IOHIDSystem -d 4`. found is false when no such
// property is printed (a session without a HID system: no data, not an
// error); a property whose value is not a number is an error.
//
// When several IOHIDSystem entries print one, the smallest wins: the most
// recent input anywhere means the user is there.
func parseHIDIdleTime(out []byte) (idle time.Duration, found bool, err error) {
	for _, m := range hidIdleTime.FindAllSubmatch(out, -1) {
		ns, err := strconv.ParseUint(string(m[1]), 10, 64)
		if err != nil {
			return 0, false, fmt.Errorf("parsing HIDIdleTime %q: %w", m[1], err)
		}
		d := time.Duration(math.MaxInt64)
		if ns <= math.MaxInt64 {
			d = time.Duration(ns)
		}
		if !found || d < idle {
			idle = d
		}
		found = true
	}
	return idle, found, nil
}
