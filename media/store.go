package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"gifchat/db"
)

// Catalog is what the store needs from the database: the gifs rows that say a file is in use,
// and, where the database keeps GIF bytes (KeepsGIFBytes), the bytes (cache.go).
type Catalog interface {
	SaveGIF(ctx context.Context, g db.GIF) error
	GIFByHash(ctx context.Context, sha string) (db.GIF, error)
	UnreferencedGIFs(ctx context.Context) ([]string, error)
	ForgetGIF(ctx context.Context, sha string) (bool, error)
	KeepsGIFBytes() bool
	GIFData(ctx context.Context, sha string) ([]byte, error)
}

// namePattern is the only shape of a stored file's name: the SHA-256 of its bytes.
var namePattern = regexp.MustCompile(`^[0-9a-f]{64}\.gif$`)

// ValidName reports whether name is a stored GIF's file name; anything else (a path, "..",
// upper case) never reaches the file system.
func ValidName(name string) bool { return namePattern.MatchString(name) }

// FileName is the stored name of the GIF with that SHA-256.
func FileName(sha string) string { return sha + ".gif" }

// tempPrefix marks uploads being written; whatever carries it at start-up is a crash's leftover.
const tempPrefix = ".upload-"

// Store keeps validated GIFs under one directory, each named by the SHA-256 of its bytes, so
// the same GIF uploaded twice is one file.
//
// Order is what keeps messages and files consistent across crashes: a file is complete on disk
// (written, fsynced, renamed, directory fsynced) before its gifs row exists, and the row exists
// before a message refers to it. Removal goes the other way: the row is forgotten only when no
// message uses it, then the file is deleted. A crash in between leaves an unused file or row,
// which Sweep removes at the next start, never a message pointing at nothing.
type Store struct {
	dir    string
	limits Limits
	cat    Catalog
	log    *slog.Logger

	// locks serialises, per GIF, publishing a message that uses it against deleting it, so a
	// room's cleanup can never delete a file a new message is about to refer to.
	locks keyedMutex
	// cleanups counts removals running in the background (see OnRoomRemoved).
	cleanups activity
	// cache is set when the catalog keeps GIF bytes: the directory is then a bounded cache.
	cache *diskCache
}

// Open makes the directory if needed and returns a store over it.
func Open(dir string, limits Limits, cat Catalog, log *slog.Logger) (*Store, error) {
	limits.defaults()
	if log == nil {
		log = slog.Default()
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("media: gif directory %s: %w", dir, err)
	}
	s := &Store{dir: dir, limits: limits, cat: cat, log: log, locks: keyedMutex{m: map[string]*keyedEntry{}}}
	if cat.KeepsGIFBytes() {
		s.cache = newDiskCache(dir, limits.CacheBytes)
	}
	return s, nil
}

// Dir is the directory the files live in.
func (s *Store) Dir() string { return s.dir }

// Upload is a validated GIF written to a temporary file, not yet visible under its name.
type Upload struct {
	Info GIFInfo
	tmp  string
}

// Discard deletes the temporary file of an upload that will not be published. It is safe to
// call after Publish and more than once.
func (u *Upload) Discard() {
	if u != nil && u.tmp != "" {
		os.Remove(u.tmp)
		u.tmp = ""
	}
}

// Stage validates r while copying it to a temporary file in the store's directory, and
// fsyncs it. On any error nothing is left behind. Refusals are *Error.
func (s *Store) Stage(r io.Reader) (*Upload, error) {
	f, err := os.CreateTemp(s.dir, tempPrefix+"*")
	if err != nil {
		return nil, fmt.Errorf("media: create temp file: %w", err)
	}
	u := &Upload{tmp: f.Name()}
	// Bytes reach the file only as validation reads them, so at most MaxBytes+1 are written.
	fw := &fileWriter{f: f}
	info, err := s.limits.Validate(io.TeeReader(r, fw))
	if fw.err != nil {
		err = fmt.Errorf("media: write temp file: %w", fw.err) // the disk's fault, not the file's
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(u.tmp, 0o640)
	}
	if err != nil {
		u.Discard()
		var refusal *Error
		if errors.As(err, &refusal) {
			return nil, err
		}
		return nil, fmt.Errorf("media: stage upload: %w", err)
	}
	u.Info = info
	return u, nil
}

// fileWriter remembers a write failure, which io.TeeReader would report as a read error.
type fileWriter struct {
	f   *os.File
	err error
}

func (w *fileWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	if err != nil && w.err == nil {
		w.err = err
	}
	return n, err
}

// Publish makes a staged upload visible under its name, records it, and calls post to store
// the message that uses it, all under the GIF's lock. If post fails, the GIF is forgotten
// again unless some other message uses it. post must not return while its message may still
// be stored later (use a context that the client cannot cancel), or the file could be deleted
// under a message.
func (s *Store) Publish(ctx context.Context, u *Upload, post func(ctx context.Context, info GIFInfo) error) error {
	if u == nil || u.tmp == "" {
		return errors.New("media: publish: upload already used")
	}
	defer u.Discard()
	sha := u.Info.SHA256
	unlock := s.locks.lock(sha)
	defer unlock()
	final := filepath.Join(s.dir, FileName(sha))
	// Renaming over an existing copy is harmless (same bytes) and heals a damaged one.
	if err := os.Rename(u.tmp, final); err != nil {
		return fmt.Errorf("media: publish %s: %w", sha, err)
	}
	u.tmp = ""
	if err := syncDir(s.dir); err != nil {
		return fmt.Errorf("media: publish %s: %w", sha, err)
	}
	g := db.GIF{SHA256: sha, Width: u.Info.Width, Height: u.Info.Height, Frames: u.Info.Frames, Bytes: u.Info.Bytes}
	if s.cache != nil {
		// The database's copy is the one every instance serves; the file is this one's cache.
		data, err := os.ReadFile(final)
		if err != nil {
			return fmt.Errorf("media: publish %s: %w", sha, err)
		}
		g.Data = data
		s.cache.use(sha, int64(len(data)))
	}
	if err := s.cat.SaveGIF(ctx, g); err != nil {
		// Without a row the file is nobody's, unless an earlier upload's row exists.
		if _, lerr := s.cat.GIFByHash(ctx, sha); errors.Is(lerr, db.ErrNotFound) {
			s.removeFile(sha)
		}
		return fmt.Errorf("media: publish %s: %w", sha, err)
	}
	if err := post(ctx, u.Info); err != nil {
		s.forgetLocked(ctx, sha)
		return fmt.Errorf("media: publish %s: post: %w", sha, err)
	}
	return nil
}

// Open opens a stored GIF by file name for serving; an invalid name is os.ErrNotExist. Where
// the database keeps the bytes, a GIF not in the local cache is fetched into it first.
func (s *Store) Open(ctx context.Context, name string) (*os.File, error) {
	if !ValidName(name) {
		return nil, fmt.Errorf("media: open %q: %w", name, os.ErrNotExist)
	}
	path := filepath.Join(s.dir, name)
	f, err := os.Open(path)
	if err == nil || s.cache == nil || !errors.Is(err, os.ErrNotExist) {
		if err != nil {
			return nil, fmt.Errorf("media: open: %w", err)
		}
		if s.cache != nil {
			if st, err := f.Stat(); err == nil {
				s.cache.use(strings.TrimSuffix(name, ".gif"), st.Size())
			}
		}
		return f, nil
	}
	sha := strings.TrimSuffix(name, ".gif")
	unlock := s.locks.lock(sha) // one fill per GIF, and none while it is being forgotten
	defer unlock()
	if f, err := os.Open(path); err == nil {
		return f, nil // filled by another request meanwhile
	}
	if err := s.fill(ctx, sha); err != nil {
		return nil, err
	}
	f, err = os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("media: open: %w", err)
	}
	return f, nil
}

// RemoveUnused deletes each GIF that no message uses any more: its row, then its file.
func (s *Store) RemoveUnused(ctx context.Context, shas []string) {
	for _, sha := range shas {
		if !ValidName(FileName(sha)) {
			continue
		}
		unlock := s.locks.lock(sha)
		s.forgetLocked(ctx, sha)
		unlock()
	}
}

// OnRoomRemoved is the rooms registry's removal hook. It runs on the room's hub goroutine,
// which may be the very hub an upload holding one of these GIFs' locks is waiting for; so
// it hands the work to a goroutine instead of waiting for the lock. Wait waits for it.
func (s *Store) OnRoomRemoved(ctx context.Context, orphans []string) {
	if len(orphans) == 0 {
		return
	}
	// The removal may come from an owner's request whose context ends when it is answered.
	ctx = context.WithoutCancel(ctx)
	shas := append([]string(nil), orphans...)
	s.cleanups.start()
	go func() {
		defer s.cleanups.done()
		s.RemoveUnused(ctx, shas)
	}()
}

// Wait waits until no background removal is running; call it before closing the database.
// It may be called while hubs are still removing rooms (a grace timer fires at any moment):
// a removal that starts before Wait finds nothing running is waited for too.
func (s *Store) Wait() { s.cleanups.wait() }

// activity counts goroutines doing background work and lets others wait until none runs.
// It is not a sync.WaitGroup: a WaitGroup requires every Add from zero to happen before a
// concurrent Wait, and nothing orders a hub's removal hook (a grace timer firing) before a
// Wait on another goroutine, so that use broke its contract (-race reports it as a race on
// the WaitGroup). Here every change is made under one mutex, so start, done and wait may
// interleave freely, and a waiter returns only after the work it saw has finished.
type activity struct {
	mu      sync.Mutex
	running int
	idle    chan struct{} // nil while nothing runs; closed when running drops back to 0
}

func (a *activity) start() {
	a.mu.Lock()
	if a.running == 0 {
		a.idle = make(chan struct{})
	}
	a.running++
	a.mu.Unlock()
}

func (a *activity) done() {
	a.mu.Lock()
	if a.running--; a.running == 0 {
		close(a.idle)
		a.idle = nil
	}
	a.mu.Unlock()
}

// wait returns at a moment when nothing runs; work that starts while it waits is waited for.
func (a *activity) wait() {
	for {
		a.mu.Lock()
		idle := a.idle
		a.mu.Unlock()
		if idle == nil {
			return
		}
		<-idle
	}
}

// forgetLocked deletes sha's row if no message uses it, and then its file. The caller holds
// sha's lock.
func (s *Store) forgetLocked(ctx context.Context, sha string) {
	forgot, err := s.cat.ForgetGIF(ctx, sha)
	if err != nil {
		s.log.Error("forget gif", "gif", sha, "err", err)
		return
	}
	if forgot {
		s.removeFile(sha)
	}
}

func (s *Store) removeFile(sha string) {
	if s.cache != nil {
		s.cache.forget(sha)
	}
	if err := os.Remove(filepath.Join(s.dir, FileName(sha))); err != nil && !errors.Is(err, os.ErrNotExist) {
		s.log.Error("remove gif file", "gif", sha, "err", err)
	}
}

// Sweep removes what a crash can leave behind: temporary upload files, rows no message uses
// (with their files), and files with no row. Run it at start-up, before serving.
func (s *Store) Sweep(ctx context.Context) error {
	unused, err := s.cat.UnreferencedGIFs(ctx)
	if err != nil {
		return fmt.Errorf("media: sweep: %w", err)
	}
	s.RemoveUnused(ctx, unused)
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("media: sweep: %w", err)
	}
	var removed int
	for _, e := range entries {
		name := e.Name()
		switch {
		case strings.HasPrefix(name, tempPrefix):
			if err := os.Remove(filepath.Join(s.dir, name)); err == nil {
				removed++
			}
		case ValidName(name):
			sha := strings.TrimSuffix(name, ".gif")
			unlock := s.locks.lock(sha)
			_, err := s.cat.GIFByHash(ctx, sha)
			if errors.Is(err, db.ErrNotFound) {
				if err := os.Remove(filepath.Join(s.dir, name)); err == nil {
					removed++
				}
			} else if err == nil && s.cache != nil {
				if info, ierr := e.Info(); ierr == nil {
					s.cache.use(sha, info.Size()) // what a previous run cached counts, and may be evicted
				}
			}
			unlock()
			if err != nil && !errors.Is(err, db.ErrNotFound) {
				return fmt.Errorf("media: sweep: %w", err)
			}
		}
	}
	s.log.Info("gif sweep", "unused_rows", len(unused), "files_removed", removed)
	return nil
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync dir: %w", err)
	}
	return nil
}

// keyedMutex is one mutex per key, created on demand and dropped when nobody holds or waits.
type keyedMutex struct {
	mu sync.Mutex
	m  map[string]*keyedEntry
}

type keyedEntry struct {
	mu   sync.Mutex
	refs int
}

func (k *keyedMutex) lock(key string) (unlock func()) {
	k.mu.Lock()
	e := k.m[key]
	if e == nil {
		e = &keyedEntry{}
		k.m[key] = e
	}
	e.refs++
	k.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		k.mu.Lock()
		if e.refs--; e.refs == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
}
