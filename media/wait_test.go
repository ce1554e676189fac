package media

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// A hub calls OnRoomRemoved whenever a grace timer fires, so nothing orders it before a Wait
// on another goroutine (a test, or shutdown after a timed-out Rooms.Shutdown). Wait must
// still be safe then, and must not return before the removal it finds running is done.
//
// The two goroutines here share no synchronisation on purpose: the test learns that the
// hook ran only from a directory it makes (mkdir is no synchronisation for the race
// detector), so a Wait that relies on its callers to order the hook first (sync.WaitGroup)
// is reported by -race. The GIF's lock, held by the test, keeps the removal running.
func TestWaitWhileARemovalStartsElsewhere(t *testing.T) {
	f := newStoreFixture(t)
	ctx := context.Background()
	room := f.room(t)
	info := f.upload(t, makeGIF(t, 10, 10, 2), room)
	orphans, err := f.db.DeleteRoom(ctx, room)
	if err != nil || len(orphans) != 1 {
		t.Fatalf("delete room: orphans %v, %v", orphans, err)
	}

	unlock := f.gifs.locks.lock(info.SHA256)
	marker := filepath.Join(t.TempDir(), "hook-called")
	go func() { // the hub
		f.gifs.OnRoomRemoved(ctx, orphans)
		os.Mkdir(marker, 0o700)
	}()
	deadline := time.Now().Add(20 * time.Second) // a hang guard, not a speed check
	for {
		if _, err := os.Stat(marker); err == nil {
			break
		}
		if time.Now().After(deadline) {
			unlock()
			t.Fatal("the removal hook never returned")
		}
		time.Sleep(time.Millisecond)
	}

	waited := make(chan struct{})
	go func() { // shutdown, or a test checking the files
		f.gifs.Wait()
		close(waited)
	}()
	// Let the removal go only once Wait is blocked on it, so Wait surely finds it running.
	for !parkedIn("gifchat/media.(*Store).Wait(") {
		if time.Now().After(deadline) {
			unlock()
			t.Fatal("Wait never blocked on the running removal")
		}
		time.Sleep(time.Millisecond)
	}
	unlock()
	select {
	case <-waited:
	case <-time.After(20 * time.Second):
		t.Fatal("Wait did not return after the removal finished")
	}
	if f.hasRow(t, info.SHA256) || len(f.files(t)) != 0 {
		t.Fatalf("Wait returned before the removal was done: row kept %v, files %v", f.hasRow(t, info.SHA256), f.files(t))
	}
}

// parkedIn reports whether some goroutine is blocked (not running) inside the function whose
// traceback line starts with fn. The goroutine dump is no synchronisation for -race either.
func parkedIn(fn string) bool {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for _, g := range strings.Split(string(buf), "\n\n") {
		head, _, _ := strings.Cut(g, "\n")
		if strings.Contains(g, "\n"+fn) && !strings.Contains(head, "[running") && !strings.Contains(head, "[runnable") {
			return true
		}
	}
	return false
}
