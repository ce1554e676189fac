package media

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"gifchat/db"
)

// With a catalog that keeps GIF bytes (PostgreSQL), the database holds every GIF and the
// store's directory is only this instance's cache of them: filled on first request, bounded
// in bytes, least recently served evicted first. Files are named by their content's hash
// and never change, so a cached copy can never be stale, and dropping one costs only a
// database read the next time it is asked for.

// DefaultCacheBytes bounds the cache when Limits.CacheBytes is 0.
const DefaultCacheBytes = 256 << 20

// diskCache accounts the cached files' sizes and their last use.
type diskCache struct {
	dir   string
	limit int64

	mu    sync.Mutex
	used  int64
	clock int64 // a counter, not a time: only the order of uses matters
	files map[string]*cachedFile
}

type cachedFile struct {
	size    int64
	lastUse int64
}

func newDiskCache(dir string, limit int64) *diskCache {
	if limit <= 0 {
		limit = DefaultCacheBytes
	}
	return &diskCache{dir: dir, limit: limit, files: map[string]*cachedFile{}}
}

// use records that sha (of size bytes) is on disk and was just used, then evicts the least
// recently used others until the cache fits its bound.
func (c *diskCache) use(sha string, size int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clock++
	f := c.files[sha]
	if f == nil {
		f = &cachedFile{size: size}
		c.files[sha] = f
		c.used += size
	}
	f.lastUse = c.clock
	for c.used > c.limit {
		var oldest string
		for k, v := range c.files {
			if k != sha && (oldest == "" || v.lastUse < c.files[oldest].lastUse) {
				oldest = k
			}
		}
		if oldest == "" {
			return // only sha itself: a file larger than the bound still gets served
		}
		c.dropLocked(oldest)
		// An open file stays readable after its name is removed, so a GIF being served
		// while it is evicted is served whole.
		os.Remove(filepath.Join(c.dir, FileName(oldest)))
	}
}

// forget stops accounting sha (its file was removed).
func (c *diskCache) forget(sha string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dropLocked(sha)
}

func (c *diskCache) dropLocked(sha string) {
	if f := c.files[sha]; f != nil {
		c.used -= f.size
		delete(c.files, sha)
	}
}

// bytes is how much the cache holds now.
func (c *diskCache) bytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.used
}

// fill writes sha's bytes from the database into the cache. The caller holds sha's lock.
func (s *Store) fill(ctx context.Context, sha string) error {
	data, err := s.cat.GIFData(ctx, sha)
	if errors.Is(err, db.ErrNotFound) {
		return fmt.Errorf("media: gif %s: %w", sha, fs.ErrNotExist)
	}
	if err != nil {
		return fmt.Errorf("media: fill cache: %w", err)
	}
	f, err := os.CreateTemp(s.dir, tempPrefix+"*")
	if err != nil {
		return fmt.Errorf("media: fill cache: %w", err)
	}
	_, werr := f.Write(data)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Chmod(f.Name(), 0o640)
	}
	if werr == nil {
		werr = os.Rename(f.Name(), filepath.Join(s.dir, FileName(sha)))
	}
	if werr != nil {
		os.Remove(f.Name())
		return fmt.Errorf("media: fill cache: %w", werr)
	}
	s.cache.use(sha, int64(len(data)))
	return nil
}
