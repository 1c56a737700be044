//go:build !(linux && cgo)

package nvidia

import (
	"fmt"
	"runtime"

	"github.com/idlegrid/idlegrid/shared/hw"
)

// Open reports why this binary cannot read NVIDIA GPUs: go-nvml needs cgo
// and, in v0.13, only builds on Linux (its loader includes dlfcn.h). The
// reason is worded for a supplier looking at the app, not for a developer.
func Open() hw.GPUProbe {
	return hw.None(unsupportedReason(runtime.GOOS))
}

// unsupportedReason picks the words for a build without NVML. The operating
// system is checked first: on Windows or macOS enabling cgo would not help,
// so mentioning CGO_ENABLED there would send the reader the wrong way.
func unsupportedReason(goos string) string {
	switch goos {
	case "linux":
		return "this build has no NVIDIA support (built with CGO_ENABLED=0): use a build with cgo enabled to offer GPUs"
	case "windows":
		return "NVIDIA GPUs on Windows are not supported yet by this version of Idlegrid"
	case "darwin":
		return "macOS has no NVIDIA driver, so there is no GPU to offer on this machine"
	default:
		return fmt.Sprintf("NVIDIA GPUs on %s are not supported yet by this version of Idlegrid", goos)
	}
}
