package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// HistoryFile is the file, in the directory given to Save and History, that
// keeps past reports.
const HistoryFile = "benchmarks.json"

// historyKeep is how many reports Save keeps: enough to show a trend over
// months of on-demand runs, small enough to read whole every time.
const historyKeep = 50

// historyVersion is the file's format version, so a later format can
// recognise and convert this one.
const historyVersion = 1

// historyFile is the on-disk form: reports oldest first, so a save appends.
type historyFile struct {
	Version int      `json:"version"`
	Reports []Report `json:"reports"`
}

// historyMu serialises Save within the process, so two saves cannot each
// read the old list and the later rename drop the other's report.
var historyMu sync.Mutex

// Save appends r to dir's history, keeping the last 50 reports. The file is
// replaced atomically (a crash leaves the old or the new one, never half)
// and is readable by its owner only. A history that cannot be parsed is an
// error, not something to overwrite: the caller decides whether to delete
// it.
func Save(dir string, r Report) error {
	historyMu.Lock()
	defer historyMu.Unlock()

	h, err := readHistory(dir)
	if err != nil {
		return err
	}
	h.Reports = append(h.Reports, r)
	if n := len(h.Reports); n > historyKeep {
		h.Reports = h.Reports[n-historyKeep:]
	}
	h.Version = historyVersion
	data, err := json.MarshalIndent(h, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding benchmark history: %w", err)
	}
	if err := writeAtomic(filepath.Join(dir, HistoryFile), data); err != nil {
		return fmt.Errorf("saving benchmark history: %w", err)
	}
	return nil
}

// History returns dir's saved reports, newest first. A directory without a
// history yet has an empty one.
func History(dir string) ([]Report, error) {
	h, err := readHistory(dir)
	if err != nil {
		return nil, err
	}
	slices.Reverse(h.Reports)
	return h.Reports, nil
}

func readHistory(dir string) (historyFile, error) {
	path := filepath.Join(dir, HistoryFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return historyFile{Version: historyVersion}, nil
	}
	if err != nil {
		return historyFile{}, fmt.Errorf("reading benchmark history: %w", err)
	}
	var h historyFile
	if err := json.Unmarshal(data, &h); err != nil {
		return historyFile{}, fmt.Errorf("parsing benchmark history %s (delete it to start afresh): %w", path, err)
	}
	if h.Version != historyVersion {
		return historyFile{}, fmt.Errorf("parsing benchmark history %s: format version %d, this build reads %d", path, h.Version, historyVersion)
	}
	return h, nil
}

// writeAtomic writes data to a temporary file beside path, syncs it and
// renames it over path.
func writeAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp") // created 0600
	if err != nil {
		return fmt.Errorf("creating a temporary file: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("writing %s: %w", f.Name(), err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", f.Name(), err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", f.Name(), err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("renaming into place: %w", err)
	}
	return nil
}
