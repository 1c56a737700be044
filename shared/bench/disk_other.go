//go:build !linux

package bench

import "os"

// openUncached opens path for a cached read: uncached reads (F_NOCACHE on
// macOS, FILE_FLAG_NO_BUFFERING on Windows) are not implemented yet, and
// cached says so in the result's note.
func openUncached(path string) (f *os.File, cached string, err error) {
	f, err = os.Open(path)
	return f, "uncached reads are only implemented on Linux", err
}

// memoryFileSystem cannot tell here; RAM disks are rare as a data
// directory outside Linux's tmpfs.
func memoryFileSystem(dir string) string { return "" }
