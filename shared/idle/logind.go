package idle

import (
	"math"
	"time"
)

// idleFromLogind turns a logind session's IdleHint and IdleSinceHint
// (microseconds since the epoch, CLOCK_REALTIME) into how long the user has
// been away at now.
//
// Every doubtful case yields zero, which callers read as "present": an
// IdleHint without a timestamp, a timestamp beyond int64, and one in the
// future (the wall clock was stepped back since logind took it).
func idleFromLogind(idleHint bool, idleSinceUsec uint64, now time.Time) time.Duration {
	if !idleHint || idleSinceUsec == 0 || idleSinceUsec > math.MaxInt64 {
		return 0
	}
	d := now.Sub(time.UnixMicro(int64(idleSinceUsec)))
	if d < 0 {
		return 0
	}
	return d
}
