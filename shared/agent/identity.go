package agent

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/idlegrid/idlegrid/shared/keyfile"
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

// loadOrCreateKey reads the device key, creating it on first run.
func loadOrCreateKey(dir string) (ed25519.PrivateKey, error) {
	key, err := keyfile.LoadOrCreate(filepath.Join(dir, keyFile))
	if err != nil {
		return nil, fmt.Errorf("device key: %w", err)
	}
	return key, nil
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

func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	return keyfile.WriteAtomic(path, data, perm)
}
