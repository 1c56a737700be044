package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"time"
	"unsafe"
)

const (
	diskBlock = 4 << 20 // bytes per write and read call
	// diskAlign is what O_DIRECT asks of offsets, sizes and buffer
	// addresses: the logical block size, 4096 on every current disk and
	// a multiple of the 512 of older ones.
	diskAlign = 4096
)

// runDisk writes a file of opt.DiskBytes sequentially in opt.DataDir,
// fsyncs it, reads it back, and removes it whatever happens.
func runDisk(ctx context.Context, opt Options, step stepFunc) (Result, error) {
	if opt.DataDir == "" {
		return Result{Skipped: "no data directory configured to test the disk in"}, nil
	}
	if err := os.MkdirAll(opt.DataDir, 0o700); err != nil {
		return Result{}, fmt.Errorf("creating the data directory: %w", err)
	}
	// Whole aligned blocks only, so the O_DIRECT read back needs no
	// special case for a ragged tail.
	size := (opt.DiskBytes + diskAlign - 1) / diskAlign * diskAlign
	buf := alignedBuffer(int(min(size, diskBlock)), diskAlign)
	// Random bytes rather than zeros: some file systems and SSD
	// controllers compress, and zeros would measure the compressor.
	rng := rand.NewChaCha8([32]byte{'i', 'd', 'l', 'e', 'g', 'r', 'i', 'd'})
	_, _ = rng.Read(buf) // ChaCha8.Read never fails

	f, err := os.CreateTemp(opt.DataDir, "idlegrid-bench-*.tmp")
	if err != nil {
		return Result{}, fmt.Errorf("creating the test file: %w", err)
	}
	path := f.Name()
	defer os.Remove(path) // on every path out, cancellation included
	defer f.Close()       // a no-op error after the explicit Close below

	words := sizeWords(size)
	step("Disk: writing "+words, 0)
	start := time.Now()
	for done := int64(0); done < size; {
		if err := ctx.Err(); err != nil {
			return Result{}, err
		}
		n := min(int64(len(buf)), size-done)
		if _, err := f.Write(buf[:n]); err != nil {
			return Result{}, fmt.Errorf("writing the test file: %w", err)
		}
		done += n
		step("Disk: writing "+words, 0.5*float64(done)/float64(size))
	}
	// The fsync is part of the write: without it the figure would be the
	// page cache's, and a job's checkpoint is not safe until synced.
	if err := f.Sync(); err != nil {
		return Result{}, fmt.Errorf("syncing the test file: %w", err)
	}
	writeTime := time.Since(start)
	if err := f.Close(); err != nil {
		return Result{}, fmt.Errorf("closing the test file: %w", err)
	}

	step("Disk: reading back "+words, 0.5)
	read, note, err := readBack(ctx, path, buf, size, openUncached, func(done int64) {
		step("Disk: reading back "+words, 0.5+0.5*float64(done)/float64(size))
	})
	if err != nil {
		return Result{}, err
	}
	if ram := memoryFileSystem(opt.DataDir); ram != "" {
		// Uncached or not, these bytes never reached a disk.
		note = "the data directory is on " + ram + ", so both disk figures are memory's speed, not a disk's"
	}
	return Result{
		DiskWriteMBps: float64(size) / writeTime.Seconds() / 1e6,
		DiskReadMBps:  float64(size) / read.Seconds() / 1e6,
		Note:          note,
	}, nil
}

// readBack reads path's size bytes into buf block by block and times it.
// It bypasses the page cache with O_DIRECT where it can, since the file was
// just written and would otherwise be read from memory; where it cannot,
// note says so. openUncached is the platform's way to open without the
// cache (a parameter so tests can play a file system that refuses it).
func readBack(ctx context.Context, path string, buf []byte, size int64, openUncached opener, progress func(done int64)) (time.Duration, string, error) {
	elapsed, cached, err := timedRead(ctx, path, buf, size, openUncached, progress)
	if errors.Is(err, errDirectRefused) {
		elapsed, _, err = timedRead(ctx, path, buf, size, nil, progress)
		cached = "the file system refused O_DIRECT reads"
	}
	if err != nil {
		return 0, "", err
	}
	note := ""
	if cached != "" {
		note = "disk reads went through the operating system's cache (" + cached + "), so the read figure may be memory's speed rather than the disk's"
	}
	return elapsed, note, nil
}

// errDirectRefused is a file system accepting O_DIRECT at open and refusing
// it at the first read, as some do.
var errDirectRefused = errors.New("uncached read refused")

// opener opens path for reading, bypassing the page cache if it can;
// cached says why it could not.
type opener func(path string) (f *os.File, cached string, err error)

// timedRead opens path with openUncached, or plainly if that is nil, and
// times reading it to the end.
func timedRead(ctx context.Context, path string, buf []byte, size int64, openUncached opener, progress func(done int64)) (elapsed time.Duration, cached string, err error) {
	uncached := openUncached != nil
	var f *os.File
	if uncached {
		f, cached, err = openUncached(path)
	} else {
		f, err = os.Open(path)
	}
	if err != nil {
		return 0, "", fmt.Errorf("opening the test file: %w", err)
	}
	defer f.Close()

	start := time.Now()
	done, err := readAll(ctx, f, buf, size, progress)
	elapsed = time.Since(start)
	if err != nil && uncached && cached == "" && done == 0 && ctx.Err() == nil {
		return 0, "", errDirectRefused
	}
	if err != nil {
		return 0, "", err
	}
	if done != size {
		return 0, "", fmt.Errorf("reading the test file: got %d bytes back of %d written", done, size)
	}
	return elapsed, cached, nil
}

// readAll reads f to its end, at most size bytes, into buf repeatedly.
func readAll(ctx context.Context, f *os.File, buf []byte, size int64, progress func(done int64)) (int64, error) {
	var done int64
	for done < size {
		if err := ctx.Err(); err != nil {
			return done, err
		}
		n, err := f.Read(buf)
		done += int64(n)
		if err == io.EOF {
			break
		}
		if err != nil {
			return done, fmt.Errorf("reading the test file: %w", err)
		}
		progress(done)
	}
	return done, nil
}

// alignedBuffer returns size bytes starting at a multiple of align, as
// O_DIRECT requires of the memory it transfers into.
func alignedBuffer(size, align int) []byte {
	b := make([]byte, size+align)
	off := int(uintptr(unsafe.Pointer(&b[0])) & uintptr(align-1))
	if off != 0 {
		off = align - off
	}
	return b[off : off+size : off+size]
}
