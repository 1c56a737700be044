package keyfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCreateReloadAndRefuse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.key")
	a, err := LoadOrCreate(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode().Perm())
	}
	b, err := LoadOrCreate(path)
	if err != nil || !a.Equal(b) {
		t.Fatalf("reload: %v", err)
	}
	os.Chmod(path, 0o644)
	if _, err := LoadOrCreate(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("world-readable: %v", err)
	}
	os.WriteFile(path, []byte("zz\n"), 0o600)
	os.Chmod(path, 0o600)
	if _, err := LoadOrCreate(path); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("damaged: %v", err)
	}
}
