package server

import (
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"

	"github.com/idlegrid/idlegrid/controlplane/payout"
)

// FailPointEnv is a test hook, not a setting: IDLEGRID_FAILPOINT=payout:POINT
// (POINT one of payout.CrashPoints) makes the server kill itself with
// SIGKILL the moment a payout reaches POINT, so a test can restart the real
// binary on the same data and check that the payout resumes with nothing
// paid twice or lost. Unset, nothing changes. It is read from the
// environment only, so no operator flag or settings file turns it on.
const FailPointEnv = "IDLEGRID_FAILPOINT"

// payoutFailPoint is the crash point a fail point names, or an error for
// one that names none: a typo must not leave a test testing nothing.
func payoutFailPoint(v string) (string, error) {
	point, ok := strings.CutPrefix(v, "payout:")
	if !ok || !slices.Contains(payout.CrashPoints, point) {
		names := make([]string, len(payout.CrashPoints))
		for i, p := range payout.CrashPoints {
			names[i] = "payout:" + p
		}
		return "", fmt.Errorf("%s=%q names no fail point: use one of %s, or unset it (it is a test hook that kills the server)", FailPointEnv, v, strings.Join(names, ", "))
	}
	return point, nil
}

// killAt is a payout Crash hook that kills this process with SIGKILL at
// point: no deferred function runs, nothing is flushed or closed, as when
// the OOM killer or a power cut ends the server.
func killAt(point string, log *slog.Logger) func(string) bool {
	return func(p string) bool {
		if p != point {
			return false
		}
		log.Warn("fail point reached: killing the server with SIGKILL", "failpoint", "payout:"+p)
		self, err := os.FindProcess(os.Getpid())
		if err == nil {
			err = self.Kill() // SIGKILL on Unix
		}
		if err != nil {
			log.Error("fail point: the server could not kill itself; exiting instead", "err", err)
			os.Exit(3)
		}
		select {} // the signal lands at once; never carry on past the point meanwhile
	}
}
