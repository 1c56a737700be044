package agent

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Files in the agent's data directory.
const (
	keyFile   = "device.key" // hex ed25519 seed, mode 0600
	stateFile = "state.json"
)

// State is what pairing leaves on disk.
type State struct {
	DeviceID  string    `json:"device_id"`
	ServerURL string    `json:"server_url"`
	Name      string    `json:"name"`
	PairedAt  time.Time `json:"paired_at"`
}

// loadOrCreateKey reads the device key, creating it on first run. A key file
// others can read is refused: whoever holds it can act as this device.
func loadOrCreateKey(dir string) (ed25519.PrivateKey, error) {
	path := filepath.Join(dir, keyFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("generating device key: %w", err)
		}
		if err := writeFileAtomic(path, []byte(hex.EncodeToString(priv.Seed())+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("saving device key: %w", err)
		}
		return priv, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading device key: %w", err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("device key %s is readable by other users (mode %v): run chmod 600 on it", path, fi.Mode().Perm())
	}
	seed, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("device key %s is damaged: move it away to start as a new device (then pair again)", path)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

func loadState(dir string) (State, error) {
	var s State
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("reading agent state: %w", err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("agent state %s is damaged (%v): remove it and pair again", filepath.Join(dir, stateFile), err)
	}
	return s, nil
}

func saveState(dir string, s State) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, stateFile), append(b, '\n'), 0o600)
}

// writeFileAtomic writes via a temporary file and rename, so a crash never
// leaves half a key or half a state file.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
