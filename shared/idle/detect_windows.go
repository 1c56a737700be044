//go:build windows

package idle

import (
	"context"
	"fmt"
	"unsafe"

	"golang.org/x/sys/windows"
)

// The procedures are resolved lazily from system DLLs (never from the app's
// directory, where a planted DLL could stand in) and checked with Find before
// use, because LazyProc.Call panics on a missing one.
var (
	user32   = windows.NewLazySystemDLL("user32.dll")
	kernel32 = windows.NewLazySystemDLL("kernel32.dll")
	shell32  = windows.NewLazySystemDLL("shell32.dll")

	procGetLastInputInfo             = user32.NewProc("GetLastInputInfo")
	procGetTickCount                 = kernel32.NewProc("GetTickCount")
	procSHQueryUserNotificationState = shell32.NewProc("SHQueryUserNotificationState")
)

// lastInputInfo is LASTINPUTINFO.
type lastInputInfo struct {
	cbSize uint32
	dwTime uint32
}

// windowsSource reads the input idle time of the session the app runs in.
// GetLastInputInfo sees only that session, which is the one the gamer sits
// at, since the supplier app runs on their desktop, not as a service.
type windowsSource struct{}

func detect() Source { return windowsSource{} }

// Read compares the tick of the last input with the tick now and asks the
// shell whether a full-screen app is in front.
func (windowsSource) Read(ctx context.Context) (State, error) {
	if err := ctx.Err(); err != nil {
		return State{}, err
	}
	for _, p := range []*windows.LazyProc{procGetLastInputInfo, procGetTickCount} {
		if err := p.Find(); err != nil {
			return unknown("windows", fmt.Sprintf("%s is not available: %v", p.Name, err)), nil
		}
	}
	info := lastInputInfo{cbSize: uint32(unsafe.Sizeof(lastInputInfo{}))}
	// The last-input tick must be read before the current one: the other
	// order lets input arrive in between and look 49 days old.
	if ok, _, err := procGetLastInputInfo.Call(uintptr(unsafe.Pointer(&info))); ok == 0 {
		return unknown("windows", fmt.Sprintf("GetLastInputInfo failed (no interactive desktop in this session?): %v", err)), nil
	}
	now, _, _ := procGetTickCount.Call()
	st := State{
		IdleFor: idleFromTicks(uint32(now), info.dwTime),
		Known:   true,
		Source:  "windows",
	}
	st.FullScreen, st.Reason = queryFullScreen()
	return st, nil
}

// queryFullScreen asks SHQueryUserNotificationState, the call the shell
// itself uses to hold back toasts during games and presentations. When it is
// unavailable the answer is "not full-screen" with a note, as on a platform
// without the check.
func queryFullScreen() (full bool, note string) {
	if err := procSHQueryUserNotificationState.Find(); err != nil {
		return false, fmt.Sprintf("full-screen check unavailable: %v", err)
	}
	var state int32
	hr, _, _ := procSHQueryUserNotificationState.Call(uintptr(unsafe.Pointer(&state)))
	if int32(hr) < 0 {
		return false, fmt.Sprintf("full-screen check failed: SHQueryUserNotificationState returned HRESULT 0x%08X", uint32(hr))
	}
	return fullScreenFromNotificationState(state), ""
}
