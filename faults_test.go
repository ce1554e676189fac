package main

// Faults, against the real binary: kill -9 under load and a restart on the same data
// directory, SIGTERM while people are sending, and data directories that cannot be used.
// The harness (the binary, visitors, senders) is in server_proc_test.go.

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	_ "github.com/mattn/go-sqlite3"

	"gifchat/logtest"
)

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// TestKillDashNineLosesNothingAcknowledged: SIGKILL while four people send flat out, restart
// on the same data directory, and every message that had come back to its sender is in the
// history, once. This holds because a message is committed (WAL written and, with the default
// synchronous=FULL, fsynced) before its fragment is sent to anyone; see docs/OPERATIONS.md.
func TestKillDashNineLosesNothingAcknowledged(t *testing.T) {
	dir := t.TempDir()
	srv := startServer(t, dir)
	owner := newVisitor(t, srv.addr)
	room := owner.createRoom(t, "Crash test", 10)
	people := []*person{owner, newVisitor(t, srv.addr), newVisitor(t, srv.addr), newVisitor(t, srv.addr)}
	var senders []*sender
	for i, p := range people {
		senders = append(senders, p.startSender(t, room, fmt.Sprintf("k%d", i)))
	}
	waitForLoad(t, senders, 400)
	if err := srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	srv.wait(t, 20*time.Second)
	for _, s := range senders {
		<-s.readerDone // the socket died with the process: nothing more can be acknowledged
	}

	// The restarted server opens the same files and still has the room.
	again := startServer(t, dir)
	owner.moveTo(again.addr)
	if code, page := owner.get(t, "/rooms/"+room); code != http.StatusOK || !strings.Contains(page, "Crash test") {
		t.Fatalf("room after restart: %d", code)
	}
	if err := again.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := again.wait(t, 30*time.Second); err != nil {
		t.Fatalf("restarted server exit: %v", err)
	}
	acked := checkNothingLost(t, senders, storedTexts(t, dir, room))
	t.Logf("%d messages acknowledged before kill -9, all stored once", acked)
}

// TestGracefulShutdownUnderLoad: SIGTERM while four people send. Every socket is closed with
// 1012 (so browsers reconnect to the next server), every acknowledged message is stored once,
// the database is closed cleanly, and the process exits 0.
func TestGracefulShutdownUnderLoad(t *testing.T) {
	dir := t.TempDir()
	srv := startServer(t, dir)
	owner := newVisitor(t, srv.addr)
	room := owner.createRoom(t, "Shutdown test", 10)
	people := []*person{owner, newVisitor(t, srv.addr), newVisitor(t, srv.addr), newVisitor(t, srv.addr)}
	var senders []*sender
	for i, p := range people {
		senders = append(senders, p.startSender(t, room, fmt.Sprintf("g%d", i)))
	}
	waitForLoad(t, senders, 400)
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := srv.wait(t, 30*time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	for _, s := range senders {
		<-s.readerDone
		s.mu.Lock()
		code := s.closeCode
		s.mu.Unlock()
		if code != websocket.CloseServiceRestart {
			t.Errorf("%s's socket closed with %d, want 1012", s.name, code)
		}
	}
	logs := srv.logs.String()
	for _, want := range []string{`"msg":"shutting down"`, `"msg":"database closed"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s", want)
		}
	}
	if strings.Contains(logs, `"level":"ERROR"`) {
		t.Errorf("errors logged during shutdown")
	}
	// Closed cleanly: the last connection checkpointed the WAL into the database file.
	if st, err := os.Stat(filepath.Join(dir, "gifchat.db-wal")); err == nil && st.Size() > 0 {
		t.Errorf("the WAL still holds %d bytes: the database was not closed", st.Size())
	}
	acked := checkNothingLost(t, senders, storedTexts(t, dir, room))
	t.Logf("%d messages acknowledged before SIGTERM, all stored once", acked)
}

// TestUnusableDataDirectory: a data directory that cannot be created or written stops the
// start with a plain reason on stderr and in the log, and exit code 1 - never a hang or a
// panic. The cases fail for root too (CI runs as root, which file modes do not stop).
func TestUnusableDataDirectory(t *testing.T) {
	base := t.TempDir()
	file := filepath.Join(base, "a-file")
	if err := os.WriteFile(file, []byte("not a directory"), 0o644); err != nil {
		t.Fatal(err)
	}
	dbIsDir := filepath.Join(base, "db-is-dir")
	if err := os.MkdirAll(filepath.Join(dbIsDir, "gifchat.db"), 0o755); err != nil {
		t.Fatal(err)
	}
	gifsIsFile := filepath.Join(base, "gifs-is-file")
	os.MkdirAll(gifsIsFile, 0o755)
	if err := os.WriteFile(filepath.Join(gifsIsFile, "gifs"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, dir string
		want      []string
	}{
		{"under a regular file", filepath.Join(file, "data"), []string{"data directory", "cannot be created", "not a directory"}},
		{"the data directory is a file", file, []string{"data directory", "not a directory"}},
		{"the database is a directory", dbIsDir, []string{"gifchat.db"}},
		{"the GIF directory is a file", gifsIsFile, []string{"gifs"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(serverBinary(t), "-addr", "127.0.0.1:0", "-data", c.dir)
			out := &logtest.Buffer{}
			cmd.Stdout, cmd.Stderr = out, out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			var err error
			select {
			case err = <-done:
			case <-time.After(60 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("still running with -data %s (a hang)\n%s", c.dir, out)
			}
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 {
				t.Fatalf("exit: %v, want exit code 1\n%s", err, out)
			}
			text := out.String()
			if strings.Contains(text, "panic") || strings.Contains(text, "goroutine ") {
				t.Fatalf("it panicked:\n%s", text)
			}
			var lastLine string
			for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
				if strings.HasPrefix(line, "gifchat: ") {
					lastLine = line
				}
			}
			for _, w := range c.want {
				if !strings.Contains(lastLine, w) {
					t.Errorf("the message for people %q lacks %q\n%s", lastLine, w, text)
				}
			}
			if !strings.Contains(text, `"level":"ERROR","msg":"gifchat stopped"`) {
				t.Errorf("the log has no error record:\n%s", text)
			}
		})
	}
}
