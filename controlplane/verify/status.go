package verify

import (
	"time"

	"github.com/idlegrid/idlegrid/controlplane/store"
)

// Verification states shown to suppliers, requesters and the explorer.
const (
	StatusVerified  = "verified"
	StatusPending   = "pending"   // not challenged yet, or hardware changed
	StatusFailed    = "failed"    // the last challenge failed; the reason says why
	StatusStale     = "stale"     // the last pass is older than two re-check periods
	StatusFlagged   = "flagged"   // e.g. a GPU UUID seen on another account
	StatusSimulated = "simulated" // simulated devices are never verified for payouts
)

// Status turns the stored state into a verdict with its reason in words.
func Status(v store.Verification, now time.Time, every time.Duration) (verified bool, status, reason string) {
	switch {
	case v.Simulated:
		return false, StatusSimulated, "simulated devices are never verified for real payouts"
	case v.Flag != "":
		return false, StatusFlagged, v.Flag
	case v.VerifiedAt.IsZero() && v.FailedAt.IsZero():
		return false, StatusPending, "not challenged yet"
	case !v.FailedAt.IsZero() && v.FailedAt.After(v.VerifiedAt):
		return false, StatusFailed, v.Reason
	case v.VerifiedInventory != v.InventoryHash:
		return false, StatusPending, "the hardware changed; a new challenge is due"
	case now.Sub(v.VerifiedAt) > 2*every:
		return false, StatusStale, "the last check is overdue"
	}
	return true, StatusVerified, ""
}

// Reputation scores a device from 0 to 1: 60 % uptime over the last week,
// 40 % its challenge record (pass rate with one imagined pass and one
// imagined failure, so a new device starts at the middle). Job success
// joins the formula once clusters run.
func Reputation(uptime float64, passed, failed int) float64 {
	rate := float64(passed+1) / float64(passed+failed+2)
	return 0.6*min(max(uptime, 0), 1) + 0.4*rate
}
