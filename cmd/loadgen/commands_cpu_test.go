package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// commandsCPU counts the processes of a name: this test process's own command name finds at
// least this process, which has used some CPU; an unknown name finds nothing.
func TestCommandsCPU(t *testing.T) {
	comm, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Skip("no /proc")
	}
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) { // burn a little CPU so there is something to count
		_ = strings.Repeat("x", 1<<10)
	}
	if got := commandsCPU([]string{strings.TrimSpace(string(comm))}); got <= 0 {
		t.Fatalf("CPU of %q: %v", comm, got)
	}
	if got := commandsCPU([]string{"no-such-command-" + filepath.Base(t.TempDir())}); got != 0 {
		t.Fatalf("CPU of a command nobody runs: %v", got)
	}
	if got := commandsCPU(nil); got != 0 {
		t.Fatalf("CPU of no commands: %v", got)
	}
}
