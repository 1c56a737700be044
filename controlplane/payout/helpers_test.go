package payout

import (
	"os"
	"strings"
)

func writeFile(path, content string, mode os.FileMode) error {
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		return err
	}
	return os.Chmod(path, mode)
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
