package idle

import (
	"math"
	"time"
)

// Values of SHQueryUserNotificationState's QUERY_USER_NOTIFICATION_STATE
// that mean something owns the whole screen.
const (
	qunsBusy                 = 2 // a full-screen app, or presentation settings
	qunsRunningD3DFullScreen = 3 // a Direct3D exclusive full-screen app: a game
	qunsPresentationMode     = 4
)

// idleFromTicks is how long ago lastInput happened when GetTickCount reads
// now, both in milliseconds since boot truncated to 32 bits.
//
// The counters wrap every 49.7 days; unsigned subtraction gives the right
// answer across one wrap. A difference of 2³¹ ms (24.8 days) or more can
// only come from lastInput being read after now (input arrived between the
// two calls) and wrapping backwards, so it counts as "input just now".
func idleFromTicks(now, lastInput uint32) time.Duration {
	d := now - lastInput
	if d > math.MaxInt32 {
		return 0
	}
	return time.Duration(d) * time.Millisecond
}

// fullScreenFromNotificationState reports whether a
// QUERY_USER_NOTIFICATION_STATE value means a full-screen app is in front.
func fullScreenFromNotificationState(state int32) bool {
	switch state {
	case qunsBusy, qunsRunningD3DFullScreen, qunsPresentationMode:
		return true
	}
	return false
}
