package e2e

import (
	"os"
	"path/filepath"
	"testing"
)

// TestMain clears the previous run's screenshots, so artifacts/ shows this run only.
func TestMain(m *testing.M) {
	old, _ := filepath.Glob(filepath.Join(artifactsDir, "*.png"))
	for _, f := range old {
		os.Remove(f)
	}
	os.Exit(m.Run())
}
