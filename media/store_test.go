package media

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"gifchat/db"
	"gifchat/db/dbtest"
	"gifchat/vocab"
)

// storeFixture is a media store over a real database (a SQLite file, or a PostgreSQL schema
// when the suite runs on PostgreSQL), with one person and helpers to make rooms and GIF
// messages.
type storeFixture struct {
	db     *db.Store
	gifs   *Store
	author db.Identity
	rooms  int
}

func newStoreFixture(t *testing.T) *storeFixture {
	t.Helper()
	if dbtest.OnPostgres() {
		return newStoreFixtureOn(t, openPostgres(t, dbtest.PostgresURL(t)), Limits{})
	}
	st, err := db.Open(context.Background(), filepath.Join(t.TempDir(), "gifchat.db"), db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return newStoreFixtureOn(t, st, Limits{})
}

func openPostgres(t *testing.T, url string) *db.Store {
	t.Helper()
	st, err := db.OpenPostgres(context.Background(), url, db.PostgresOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// newStoreFixtureOn is a media store with its own directory over st.
func newStoreFixtureOn(t *testing.T, st *db.Store, limits Limits) *storeFixture {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	if limits.MaxBytes == 0 {
		limits.MaxBytes = 1 << 20
	}
	gifs, err := Open(filepath.Join(dir, "gifs"), limits, st, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gifs.Wait) // before the database closes (cleanups run last-in first-out)
	who, err := st.CreateIdentitySession(ctx, fmt.Sprintf("token-%p-%s", t, dir), "test-otter-01", "c1")
	if err != nil {
		t.Fatal(err)
	}
	return &storeFixture{db: st, gifs: gifs, author: who}
}

func (f *storeFixture) room(t *testing.T) string {
	t.Helper()
	f.rooms++
	id := fmt.Sprintf("room%012d", f.rooms)
	if _, err := f.db.CreateRoom(context.Background(), db.Room{ID: id, Title: id, Capacity: 10, OwnerID: f.author.ID}); err != nil {
		t.Fatal(err)
	}
	return id
}

// postInto returns a post func that stores a GIF message in room, as the hub would.
func (f *storeFixture) postInto(room string) func(context.Context, GIFInfo) error {
	return func(ctx context.Context, info GIFInfo) error {
		return f.db.InsertMessages(ctx, []*db.Message{{RoomID: room, AuthorID: f.author.ID, Kind: vocab.KindGIF, GIF: info.SHA256, Body: "x.gif"}})
	}
}

func (f *storeFixture) upload(t *testing.T, data []byte, room string) GIFInfo {
	t.Helper()
	up, err := f.gifs.Stage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("Stage: %v", err)
	}
	if err := f.gifs.Publish(context.Background(), up, f.postInto(room)); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	return up.Info
}

// files lists the store's directory, temporary files included.
func (f *storeFixture) files(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(f.gifs.Dir())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

func (f *storeFixture) hasRow(t *testing.T, sha string) bool {
	t.Helper()
	_, err := f.db.GIFByHash(context.Background(), sha)
	if err != nil && !errors.Is(err, db.ErrNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

func TestPublishStoresOneFilePerContent(t *testing.T) {
	f := newStoreFixture(t)
	data := makeGIF(t, 20, 10, 3)
	room := f.room(t)
	a := f.upload(t, data, room)
	b := f.upload(t, data, f.room(t))
	if a != b {
		t.Fatalf("same bytes, different info: %+v vs %+v", a, b)
	}
	if got := f.files(t); len(got) != 1 || got[0] != a.SHA256+".gif" {
		t.Fatalf("files = %v, want only %s.gif", got, a.SHA256)
	}
	stored, err := os.ReadFile(filepath.Join(f.gifs.Dir(), FileName(a.SHA256)))
	if err != nil || !bytes.Equal(stored, data) {
		t.Fatalf("stored file differs from the upload (%v)", err)
	}
	g, err := f.db.GIFByHash(context.Background(), a.SHA256)
	if err != nil || g.Width != 20 || g.Height != 10 || g.Frames != 3 || g.Bytes != int64(len(data)) {
		t.Fatalf("row = %+v, %v", g, err)
	}
	msgs, err := f.db.LatestMessages(context.Background(), room, f.author.ID, 10)
	if err != nil || len(msgs) != 1 || msgs[0].GIFWidth != 20 || msgs[0].GIFHeight != 10 {
		t.Fatalf("room messages = %+v, %v", msgs, err)
	}
}

func TestStageLeavesNothingOnRefusal(t *testing.T) {
	f := newStoreFixture(t)
	good := makeGIF(t, 20, 10, 3)
	for name, data := range map[string][]byte{
		"html":      []byte("<html><script>alert(1)</script></html>"),
		"truncated": good[:len(good)/2],
		"empty":     nil,
		"too large": noiseGIF(t, 1200, 1), // > 1 MiB
	} {
		if _, err := f.gifs.Stage(bytes.NewReader(data)); err == nil {
			t.Fatalf("%s: staged", name)
		}
		if got := f.files(t); len(got) != 0 {
			t.Fatalf("%s: files left behind: %v", name, got)
		}
	}
	// A staged upload that is discarded leaves nothing either.
	up, err := f.gifs.Stage(bytes.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	if got := f.files(t); len(got) != 1 || !strings.HasPrefix(got[0], tempPrefix) {
		t.Fatalf("staged files = %v, want one temporary file", got)
	}
	up.Discard()
	up.Discard()
	if got := f.files(t); len(got) != 0 {
		t.Fatalf("after Discard: %v", got)
	}
}

// A failed post (the room closed meanwhile) forgets a GIF nobody else uses, and keeps one
// that another message still uses.
func TestPublishFailedPostForgetsOnlyUnusedGIF(t *testing.T) {
	f := newStoreFixture(t)
	gone := errors.New("room gone")
	fail := func(context.Context, GIFInfo) error { return gone }

	lonely := makeGIF(t, 9, 9, 1)
	up, err := f.gifs.Stage(bytes.NewReader(lonely))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.gifs.Publish(context.Background(), up, fail); !errors.Is(err, gone) {
		t.Fatalf("Publish = %v, want the post's error", err)
	}
	if got := f.files(t); len(got) != 0 || f.hasRow(t, up.Info.SHA256) {
		t.Fatalf("after a failed post: files %v, row %v", got, f.hasRow(t, up.Info.SHA256))
	}

	shared := makeGIF(t, 11, 7, 2)
	info := f.upload(t, shared, f.room(t))
	up, err = f.gifs.Stage(bytes.NewReader(shared))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.gifs.Publish(context.Background(), up, fail); !errors.Is(err, gone) {
		t.Fatalf("Publish = %v", err)
	}
	if got := f.files(t); len(got) != 1 || !f.hasRow(t, info.SHA256) {
		t.Fatalf("a GIF still used elsewhere lost its file or row: files %v", got)
	}
}

func TestRoomRemovalDeletesOnlyUnusedFiles(t *testing.T) {
	f := newStoreFixture(t)
	ctx := context.Background()
	roomA, roomB := f.room(t), f.room(t)
	both := f.upload(t, makeGIF(t, 10, 10, 2), roomA)
	f.upload(t, makeGIF(t, 10, 10, 2), roomB)
	onlyA := f.upload(t, makeGIF(t, 12, 12, 3), roomA)

	orphans, err := f.db.DeleteRoom(ctx, roomA)
	if err != nil {
		t.Fatal(err)
	}
	f.gifs.OnRoomRemoved(ctx, orphans)
	f.gifs.Wait()
	if got := f.files(t); len(got) != 1 || got[0] != FileName(both.SHA256) {
		t.Fatalf("files = %v, want only the GIF room B still uses", got)
	}
	if f.hasRow(t, onlyA.SHA256) || !f.hasRow(t, both.SHA256) {
		t.Fatal("rows do not match the files")
	}
}

// The hub calls OnRoomRemoved on its own goroutine; an upload to that same room may hold the
// GIF's lock while waiting for that goroutine. The hook must therefore not wait for the lock.
// Here the post itself calls the hook with the lock held: a waiting hook would deadlock.
func TestOnRoomRemovedDoesNotWaitForPublish(t *testing.T) {
	f := newStoreFixture(t)
	room := f.room(t)
	data := makeGIF(t, 10, 10, 2)
	up, err := f.gifs.Stage(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- f.gifs.Publish(context.Background(), up, func(ctx context.Context, info GIFInfo) error {
			f.gifs.OnRoomRemoved(ctx, []string{info.SHA256})
			return f.postInto(room)(ctx, info)
		})
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Publish and OnRoomRemoved deadlocked")
	}
	f.gifs.Wait()
	// The removal ran after the message was stored, so it kept the file.
	if got := f.files(t); len(got) != 1 || !f.hasRow(t, up.Info.SHA256) {
		t.Fatalf("files = %v", got)
	}
}

// Publishing a GIF into one room while another room that used it is removed, many times over:
// whatever the interleaving, a stored message never points at a missing file or row.
func TestPublishRacesRoomRemoval(t *testing.T) {
	f := newStoreFixture(t)
	ctx := context.Background()
	data := makeGIF(t, 10, 10, 2)
	for i := 0; i < 40; i++ {
		old := f.room(t)
		info := f.upload(t, data, old)
		fresh := f.room(t)
		up, err := f.gifs.Stage(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			orphans, err := f.db.DeleteRoom(ctx, old)
			if err != nil {
				t.Error(err)
				return
			}
			f.gifs.RemoveUnused(ctx, orphans)
		}()
		go func() {
			defer wg.Done()
			if err := f.gifs.Publish(ctx, up, f.postInto(fresh)); err != nil {
				t.Error(err)
			}
		}()
		wg.Wait()
		if _, err := os.Stat(filepath.Join(f.gifs.Dir(), FileName(info.SHA256))); err != nil {
			t.Fatalf("round %d: the new message's file is gone: %v", i, err)
		}
		if !f.hasRow(t, info.SHA256) {
			t.Fatalf("round %d: the new message's row is gone", i)
		}
		// Clear the room for the next round, so each round starts with one user of the GIF.
		orphans, err := f.db.DeleteRoom(ctx, fresh)
		if err != nil {
			t.Fatal(err)
		}
		f.gifs.RemoveUnused(ctx, orphans)
		if got := f.files(t); len(got) != 0 {
			t.Fatalf("round %d: files left after both rooms went: %v", i, got)
		}
	}
}

// Sweep clears what a crash leaves: a temporary upload, a file with no row, a row with no
// message (and its file). A GIF in use is kept.
func TestSweepRemovesCrashLeftovers(t *testing.T) {
	f := newStoreFixture(t)
	ctx := context.Background()
	used := f.upload(t, makeGIF(t, 10, 10, 2), f.room(t))

	// A crash after the row, before the message.
	rowOnly := makeGIF(t, 13, 5, 1)
	up, err := f.gifs.Stage(bytes.NewReader(rowOnly))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.gifs.Publish(ctx, up, func(ctx context.Context, info GIFInfo) error { return nil }); err != nil {
		t.Fatal(err)
	}
	// A crash after the rename, before the row.
	fileOnly := strings.Repeat("ab", 32)
	if err := os.WriteFile(filepath.Join(f.gifs.Dir(), FileName(fileOnly)), rowOnly, 0o640); err != nil {
		t.Fatal(err)
	}
	// A crash while writing.
	if err := os.WriteFile(filepath.Join(f.gifs.Dir(), tempPrefix+"123"), []byte("GIF8"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Not ours: left alone.
	if err := os.WriteFile(filepath.Join(f.gifs.Dir(), "README"), []byte("hi"), 0o600); err != nil {
		t.Fatal(err)
	}

	if err := f.gifs.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	want := []string{"README", FileName(used.SHA256)}
	sort.Strings(want)
	if got := f.files(t); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("files after sweep = %v, want %v", got, want)
	}
	if f.hasRow(t, up.Info.SHA256) || !f.hasRow(t, used.SHA256) {
		t.Fatal("sweep kept an unused row or dropped a used one")
	}
}

func TestOpenRefusesOtherNames(t *testing.T) {
	f := newStoreFixture(t)
	info := f.upload(t, makeGIF(t, 3, 3, 1), f.room(t))
	if file, err := f.gifs.Open(context.Background(), FileName(info.SHA256)); err != nil {
		t.Fatalf("Open stored GIF: %v", err)
	} else {
		file.Close()
	}
	if err := os.WriteFile(filepath.Join(f.gifs.Dir(), "..", "secret.gif"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"../secret.gif", "..", "", strings.ToUpper(info.SHA256) + ".gif", info.SHA256, info.SHA256 + ".gif/", "x/" + info.SHA256 + ".gif", tempPrefix + "1"} {
		if file, err := f.gifs.Open(context.Background(), name); err == nil || !errors.Is(err, os.ErrNotExist) {
			if file != nil {
				file.Close()
			}
			t.Fatalf("Open(%q) = %v, want not-exist", name, err)
		}
	}
}
