// Package nvidia reads NVIDIA GPUs through NVML (go-nvml). It is split from
// shared/hw because go-nvml needs cgo and links the driver loader: the
// control plane uses simulated GPUs from shared/hw and must never link it.
package nvidia
