package bench

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDiskMeasuresAndRemovesItsFile(t *testing.T) {
	opt := quick(t)
	opt.DiskBytes = 3<<20 + 100 // not a whole block: rounded up to 4 KiB
	rep, err := Run(context.Background(), []Kind{Disk}, opt, nil)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	r := rep.Results[0]
	if !measured(r.DiskReadMBps) || !measured(r.DiskWriteMBps) || r.Skipped != "" {
		t.Errorf("result = %+v, want read and write figures", r)
	}
	// Where O_DIRECT works the note is empty; where it does not, it says
	// the read went through the cache. Both are honest; silence about a
	// cached read is not.
	if r.Note != "" && !strings.Contains(r.Note, "cache") {
		t.Errorf("Note = %q", r.Note)
	}
	if entries, _ := os.ReadDir(opt.DataDir); len(entries) != 0 {
		t.Errorf("data directory holds %v, want it empty", entries)
	}
}

func TestDiskWithoutDataDirIsSkipped(t *testing.T) {
	rep, err := Run(context.Background(), []Kind{Disk}, Options{}, nil)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if r := rep.Results[0]; r.Skipped == "" || r.DiskReadMBps != 0 || r.DiskWriteMBps != 0 {
		t.Errorf("result = %+v, want skipped with no figures", r)
	}
}

func TestDiskInAFileIsAnError(t *testing.T) {
	// A data directory path that is a file: nothing can be created in it.
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Run(context.Background(), []Kind{Disk}, Options{DataDir: notDir, DiskBytes: 4096}, nil)
	if err == nil || !strings.HasPrefix(err.Error(), "running the disk benchmark: ") {
		t.Fatalf("err = %v, want a disk benchmark error", err)
	}
}

func TestAlignedBuffer(t *testing.T) {
	for _, size := range []int{4096, 1 << 20, 3 << 20} {
		b := alignedBuffer(size, diskAlign)
		if len(b) != size || cap(b) != size {
			t.Errorf("alignedBuffer(%d): len %d cap %d", size, len(b), cap(b))
		}
		if addr := uintptrOf(b); addr%diskAlign != 0 {
			t.Errorf("alignedBuffer(%d) starts at %#x, not %d-aligned", size, addr, diskAlign)
		}
	}
}

func TestReadBackNotesCachedReads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	const size = 3 * 4096
	if err := os.WriteFile(path, make([]byte, size), 0o600); err != nil {
		t.Fatal(err)
	}
	buf := alignedBuffer(4096, diskAlign)
	noProgress := func(int64) {}

	cases := []struct {
		name     string
		open     opener
		wantNote string // substring; empty means no note
	}{
		{
			name: "uncached",
			open: func(p string) (*os.File, string, error) { f, err := os.Open(p); return f, "", err },
		},
		{
			name:     "no O_DIRECT at open",
			open:     func(p string) (*os.File, string, error) { f, err := os.Open(p); return f, "no O_DIRECT here", err },
			wantNote: "(no O_DIRECT here)",
		},
		{
			// Accepted at open, refused at the first read (EINVAL on
			// Linux); a write-only file fails its first read the same way.
			name:     "refused at first read",
			open:     func(p string) (*os.File, string, error) { f, err := os.OpenFile(p, os.O_WRONLY, 0); return f, "", err },
			wantNote: "(the file system refused O_DIRECT reads)",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, note, err := readBack(context.Background(), path, buf, size, tc.open, noProgress)
			if err != nil {
				t.Fatalf("readBack: %v", err)
			}
			if d <= 0 {
				t.Errorf("elapsed = %v", d)
			}
			if tc.wantNote == "" && note != "" || tc.wantNote != "" && !strings.Contains(note, tc.wantNote) {
				t.Errorf("note = %q, want %q", note, tc.wantNote)
			}
		})
	}
}

func TestReadBackChecksTheLength(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, make([]byte, 4096), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := readBack(context.Background(), path, alignedBuffer(4096, diskAlign), 8192, openUncached, func(int64) {})
	if err == nil || !strings.Contains(err.Error(), "got 4096 bytes back of 8192 written") {
		t.Fatalf("err = %v, want a short-read error", err)
	}
}
