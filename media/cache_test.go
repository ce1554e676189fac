package media

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"gifchat/db"
	"gifchat/db/dbtest"
)

// readGIF opens a GIF through the store and reads it whole.
func readGIF(t *testing.T, s *Store, sha string) ([]byte, error) {
	t.Helper()
	f, err := s.Open(context.Background(), FileName(sha))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// On PostgreSQL the database keeps every GIF's bytes: an instance that never saw the upload
// serves it, and an instance whose cached copy is gone fetches it again.
func TestGIFBytesInPostgresServeEveryInstance(t *testing.T) {
	url := dbtest.PostgresURL(t)
	a := newStoreFixtureOn(t, openPostgres(t, url), Limits{})
	b := newStoreFixtureOn(t, openPostgres(t, url), Limits{}) // another instance: its own pool, its own disk
	b.author = a.author
	data := makeGIF(t, 30, 20, 4)
	room := a.room(t)
	info := a.upload(t, data, room)

	stored, err := a.db.GIFData(context.Background(), info.SHA256)
	if err != nil || !bytes.Equal(stored, data) {
		t.Fatalf("the database holds %d bytes (%v), want the upload's %d", len(stored), err, len(data))
	}
	if len(b.files(t)) != 0 {
		t.Fatalf("the other instance has files before anyone asked: %v", b.files(t))
	}
	got, err := readGIF(t, b.gifs, info.SHA256)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the other instance served %d bytes (%v), want %d", len(got), err, len(data))
	}
	if files := b.files(t); len(files) != 1 || files[0] != FileName(info.SHA256) {
		t.Errorf("the other instance's cache holds %v, want the one GIF", files)
	}
	// A lost cached copy is fetched again.
	if err := os.Remove(filepath.Join(a.gifs.Dir(), FileName(info.SHA256))); err != nil {
		t.Fatal(err)
	}
	if got, err := readGIF(t, a.gifs, info.SHA256); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("after its cached copy went, the uploader served %d bytes (%v)", len(got), err)
	}

	// When no message uses it any more it goes from the database and from the caches that
	// forget it; an instance asked for it afterwards has nothing to serve.
	if _, err := a.db.DeleteRoom(context.Background(), room); err != nil {
		t.Fatal(err)
	}
	a.gifs.RemoveUnused(context.Background(), []string{info.SHA256})
	if _, err := a.db.GIFData(context.Background(), info.SHA256); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("the bytes outlived the last message using them: %v", err)
	}
	if len(a.files(t)) != 0 {
		t.Errorf("the uploader's cache still holds %v", a.files(t))
	}
	c := newStoreFixtureOn(t, openPostgres(t, url), Limits{})
	if _, err := readGIF(t, c.gifs, info.SHA256); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a removed GIF opened on a fresh instance: %v", err)
	}
}

// The cache holds at most CacheBytes: the least recently served GIF makes room, and is
// fetched again when asked for.
func TestGIFCacheIsBounded(t *testing.T) {
	url := dbtest.PostgresURL(t)
	gifs := [][]byte{noiseGIF(t, 60, 2), noiseGIF(t, 61, 2), noiseGIF(t, 62, 2)}
	limit := int64(len(gifs[0]) + len(gifs[1]) + len(gifs[2])/2) // two fit, three do not
	f := newStoreFixtureOn(t, openPostgres(t, url), Limits{CacheBytes: limit})
	room := f.room(t)
	var shas []string
	for _, g := range gifs {
		shas = append(shas, f.upload(t, g, room).SHA256)
	}
	if used := f.gifs.cache.bytes(); used > limit {
		t.Fatalf("the cache holds %d bytes, bound %d", used, limit)
	}
	files := f.files(t)
	if len(files) != 2 || files[0] == FileName(shas[0]) || files[1] == FileName(shas[0]) {
		t.Fatalf("after three uploads the cache holds %v; want the two newest", files)
	}
	// The evicted one is served (from the database), and now the oldest served goes.
	if got, err := readGIF(t, f.gifs, shas[0]); err != nil || !bytes.Equal(got, gifs[0]) {
		t.Fatalf("evicted GIF served %d bytes (%v)", len(got), err)
	}
	if _, err := os.Stat(filepath.Join(f.gifs.Dir(), FileName(shas[1]))); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the least recently used GIF is still cached: %v", err)
	}
	if used := f.gifs.cache.bytes(); used > limit {
		t.Errorf("the cache holds %d bytes, bound %d", used, limit)
	}
	// A restart counts what is already on disk.
	again, err := Open(f.gifs.Dir(), Limits{CacheBytes: limit}, f.db, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := again.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, want := again.cache.bytes(), f.gifs.cache.bytes(); got != want {
		t.Errorf("after a restart the cache accounts %d bytes, the files hold %d", got, want)
	}
}
