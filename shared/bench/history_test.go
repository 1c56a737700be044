package bench

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func report(i int) Report {
	return Report{
		At:      time.Date(2026, 1, 1, 0, 0, i, 0, time.UTC),
		Results: []Result{{Kind: CPU, Duration: time.Second, CPUGFLOPS: float64(i) + 0.5}},
		Score:   float64(i),
		Tier:    TierBronze,
		Host:    "test host",
	}
}

func TestHistoryOfAFreshDirectoryIsEmpty(t *testing.T) {
	got, err := History(filepath.Join(t.TempDir(), "not-created-yet"))
	if err != nil || len(got) != 0 {
		t.Fatalf("History = %v, %v; want empty, no error", got, err)
	}
}

func TestSaveKeepsTheLastFiftyNewestFirst(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data") // Save creates it
	for i := range 53 {
		if err := Save(dir, report(i)); err != nil {
			t.Fatalf("Save %d: %v", i, err)
		}
	}
	got, err := History(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 50 {
		t.Fatalf("History holds %d reports, want 50", len(got))
	}
	// Newest first: 52, 51 … 3; the three oldest were dropped.
	for i, r := range got {
		want := report(52 - i)
		if !r.At.Equal(want.At) || r.Score != want.Score || r.Results[0].CPUGFLOPS != want.Results[0].CPUGFLOPS ||
			r.Results[0].Duration != time.Second || r.Host != "test host" {
			t.Fatalf("History[%d] = %+v, want %+v", i, r, want)
		}
	}

	fi, err := os.Stat(filepath.Join(dir, HistoryFile))
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("history file mode %v, want 0600", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %v, want only %s (no temporary files left)", entries, HistoryFile)
	}
}

func TestCorruptHistoryIsAClearError(t *testing.T) {
	cases := map[string]string{
		"not JSON":      "{\"version\": 1, \"reports\": [",
		"wrong version": `{"version": 7, "reports": []}`,
		"not an object": `[1, 2, 3]`,
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, HistoryFile)
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := History(dir)
			if err == nil || !strings.Contains(err.Error(), "parsing benchmark history "+path) {
				t.Fatalf("History err = %v, want a parsing error naming %s", err, path)
			}
			// Save refuses too, rather than overwrite what it cannot read.
			if err := Save(dir, report(1)); err == nil {
				t.Fatal("Save over a corrupt history succeeded")
			}
			if data, _ := os.ReadFile(path); string(data) != content {
				t.Errorf("Save changed the corrupt file to %q", data)
			}
		})
	}
}
