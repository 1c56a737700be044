package bench

import (
	"errors"
	"os"
	"syscall"
)

// openUncached opens path with O_DIRECT, so reads come from the disk rather
// than the page cache. File systems without it (some FUSE mounts, tmpfs
// before Linux 6.6) refuse it with EINVAL at open; the file is then opened
// cached and cached says why.
func openUncached(path string) (f *os.File, cached string, err error) {
	f, err = os.OpenFile(path, os.O_RDONLY|syscall.O_DIRECT, 0)
	if errors.Is(err, syscall.EINVAL) {
		f, err = os.Open(path)
		return f, "this file system does not support O_DIRECT", err
	}
	return f, "", err
}

// Magic numbers of file systems that live in memory, from statfs(2).
const (
	tmpfsMagic = 0x01021994
	ramfsMagic = 0x858458f6
)

// memoryFileSystem names the RAM-backed file system dir is on, or returns
// "" for anything else (or when it cannot tell): a disk test there would
// pass memory's speed off as a disk's, with or without O_DIRECT, which
// tmpfs accepts since Linux 6.6.
func memoryFileSystem(dir string) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return ""
	}
	switch uint32(st.Type) {
	case tmpfsMagic:
		return "a RAM file system (tmpfs)"
	case ramfsMagic:
		return "a RAM file system (ramfs)"
	}
	return ""
}
