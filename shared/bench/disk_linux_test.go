package bench

import (
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
	"unsafe"
)

func uintptrOf(b []byte) uintptr { return uintptr(unsafe.Pointer(&b[0])) }

// A data directory on tmpfs measures memory whatever the flags; the result
// says so rather than passing memory's speed off as a disk's.
func TestDiskOnTmpfsSaysItIsMemory(t *testing.T) {
	const shm = "/dev/shm"
	var st syscall.Statfs_t
	if err := syscall.Statfs(shm, &st); err != nil || uint32(st.Type) != tmpfsMagic {
		t.Fatalf("this test needs a tmpfs at %s (statfs: %v, type %#x)", shm, err, st.Type)
	}
	dir, err := os.MkdirTemp(shm, "idlegrid-bench-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })

	rep, err := Run(context.Background(), []Kind{Disk}, Options{DataDir: dir, DiskBytes: 1 << 20}, nil)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	r := rep.Results[0]
	if !measured(r.DiskReadMBps) || !measured(r.DiskWriteMBps) {
		t.Errorf("result = %+v, want figures", r)
	}
	if want := "the data directory is on a RAM file system (tmpfs), so both disk figures are memory's speed, not a disk's"; r.Note != want {
		t.Errorf("Note = %q, want %q", r.Note, want)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("directory holds %v, want it empty", entries)
	}
}

// On a disk file system the read really is uncached.
func TestOpenUncachedUsesODirect(t *testing.T) {
	dir := t.TempDir()
	if ram := memoryFileSystem(dir); ram != "" {
		t.Fatalf("this test needs a disk-backed temporary directory; %s is on %s", dir, ram)
	}
	path := dir + "/f"
	if err := os.WriteFile(path, make([]byte, 4096), 0o600); err != nil {
		t.Fatal(err)
	}
	f, cached, err := openUncached(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	flags, _, errno := syscall.Syscall(syscall.SYS_FCNTL, f.Fd(), syscall.F_GETFL, 0)
	if errno != 0 {
		t.Fatal(errno)
	}
	if cached != "" || flags&syscall.O_DIRECT == 0 {
		t.Errorf("opened with flags %#x, note %q; want O_DIRECT and no note", flags, cached)
	}
	if !strings.Contains(memoryFileSystem("/dev/shm"), "tmpfs") {
		t.Errorf("memoryFileSystem(/dev/shm) = %q", memoryFileSystem("/dev/shm"))
	}
}
