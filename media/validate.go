// Package media validates uploaded GIFs and keeps them as content-addressed files.
//
// Validation reads the upload once, as a stream: the signature, the header image/gif decodes,
// then a walk over the GIF's block structure that counts frames and checks their bounds
// without decompressing any pixel data. Its cost is one pass over at most MaxBytes bytes and a
// few kilobytes of memory, whatever the file claims about itself; a GIF that would be expensive
// to show (huge frames, thousands of them) is refused by the limits instead of being decoded.
package media

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image/gif"
	"io"

	"gifchat/i18n"
)

// GIFInfo is what validation learned about an upload.
type GIFInfo struct {
	SHA256 string // hex SHA-256 of the bytes: the file's name in the store
	Width  int    // logical screen width
	Height int    // logical screen height
	Frames int
	Bytes  int64
}

// Limits bound what an upload may be; zero fields take the defaults noted.
type Limits struct {
	MaxBytes       int64 // 5 MiB per file
	MaxSide        int   // 4096 pixels of width or height
	MaxFrames      int   // 1000 frames
	MaxTotalPixels int64 // 1<<28 pixels summed over all frames: what a viewer's browser decodes per loop
	// CacheBytes bounds the local directory where the database keeps GIF bytes (PostgreSQL):
	// 256 MiB (DefaultCacheBytes). Unused on SQLite, where the directory is the only copy.
	CacheBytes int64
}

func (l *Limits) defaults() {
	if l.MaxBytes <= 0 {
		l.MaxBytes = 5 << 20
	}
	if l.MaxSide <= 0 {
		l.MaxSide = 4096
	}
	if l.MaxFrames <= 0 {
		l.MaxFrames = 1000
	}
	if l.MaxTotalPixels <= 0 {
		l.MaxTotalPixels = 1 << 28
	}
}

// Refusal kinds, matched with errors.Is; the handler maps each to one HTTP status.
var (
	ErrEmpty    = errors.New("media: empty file")
	ErrNotGIF   = errors.New("media: not a GIF")
	ErrTooLarge = errors.New("media: file too large")
	ErrBroken   = errors.New("media: broken GIF")
	ErrLimits   = errors.New("media: GIF beyond limits")
)

// ErrRead wraps a failure of the upload's own reader (a dropped connection, a body over the
// request limit): the upload did not arrive, which says nothing about the file.
var ErrRead = errors.New("media: read upload")

// Error is a refused upload. Reason is written for the uploader, in English; Key and Args say
// it in any language (i18n.Lang.T(Key, Args...)). Kind is one of the Err values.
type Error struct {
	Kind   error
	Reason string
	Key    string // the reason's message id in the catalogs (errors.media.*)
	Args   []any  // its fields, as name, value pairs
}

func (e *Error) Error() string { return e.Kind.Error() + ": " + e.Reason }
func (e *Error) Unwrap() error { return e.Kind }

// refuse is a refusal of kind, said by the catalog message errors.media.<key>.
func refuse(kind error, key string, kv ...any) *Error {
	key = "errors.media." + key
	return &Error{Kind: kind, Reason: i18n.En.T(key, kv...), Key: key, Args: kv}
}

// Validate reads r to its end and reports what GIF it holds, refusing anything that is not a
// well-formed GIF of at most maxBytes bytes within the default dimension and frame limits.
func Validate(r io.Reader, maxBytes int64) (GIFInfo, error) {
	return Limits{MaxBytes: maxBytes}.Validate(r)
}

// Validate reads r to its end (at most MaxBytes+1 bytes) and reports what GIF it holds. A
// refusal is an *Error; any other error is the reader's own (a dropped or oversized request
// body) and says nothing about the file.
func (l Limits) Validate(r io.Reader) (GIFInfo, error) {
	l.defaults()
	src := &sourceReader{r: r}
	limited := &io.LimitedReader{R: src, N: l.MaxBytes + 1}
	sum := sha256.New()
	w := &gifWalker{r: bufio.NewReaderSize(io.TeeReader(limited, sum), 4096), limits: l}
	info, werr := w.walk()
	if werr == nil {
		// The file must end with its trailer: bytes after it are not part of any image and
		// would only let a GIF carry something else (a polyglot).
		if _, err := w.r.ReadByte(); err == nil {
			werr = refuse(ErrBroken, "extra_data")
		} else if err != io.EOF {
			werr = err
		}
	}
	total := l.MaxBytes + 1 - limited.N
	switch {
	case src.err != nil:
		// The body failed (client gone, request too large): report that, not a verdict on the file.
		return GIFInfo{}, fmt.Errorf("%w: %w", ErrRead, src.err)
	case limited.N <= 0:
		return GIFInfo{}, refuse(ErrTooLarge, "too_large", "Size", HumanBytes(l.MaxBytes))
	case werr != nil:
		return GIFInfo{}, werr
	}
	info.Bytes = total
	info.SHA256 = hex.EncodeToString(sum.Sum(nil))
	return info, nil
}

// sourceReader remembers the first error of the underlying reader other than io.EOF, so a
// failing request body is not mistaken for a truncated file.
type sourceReader struct {
	r   io.Reader
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF && s.err == nil {
		s.err = err
	}
	return n, err
}

// gifWalker checks a GIF's structure block by block.
type gifWalker struct {
	r      *bufio.Reader
	limits Limits
}

var errTruncated = refuse(ErrBroken, "truncated")

// GIF block introducers and the trailer (GIF89a spec, sections 20-27).
const (
	blockExtension = 0x21
	blockImage     = 0x2C
	blockTrailer   = 0x3B
)

func (w *gifWalker) walk() (GIFInfo, error) {
	sig, err := w.r.Peek(6)
	if len(sig) == 0 && err == io.EOF {
		return GIFInfo{}, refuse(ErrEmpty, "empty")
	}
	if !bytes.Equal(sig, []byte("GIF87a")) && !bytes.Equal(sig, []byte("GIF89a")) {
		if err != nil && err != io.EOF {
			return GIFInfo{}, err
		}
		return GIFInfo{}, refuse(ErrNotGIF, "not_gif")
	}
	// The header and global colour table are at most 13+768 bytes; image/gif decodes them
	// from the peeked bytes, so the stream is read only once.
	head, _ := w.r.Peek(13)
	if len(head) < 13 {
		return GIFInfo{}, errTruncated
	}
	headLen := 13
	packed := head[10]
	hasGlobalTable := packed&0x80 != 0
	if hasGlobalTable {
		headLen += 3 << (1 + packed&0x07)
	}
	headBytes, _ := w.r.Peek(headLen)
	if len(headBytes) < headLen {
		return GIFInfo{}, errTruncated
	}
	cfg, err := gif.DecodeConfig(bytes.NewReader(headBytes))
	if err != nil {
		return GIFInfo{}, refuse(ErrBroken, "header")
	}
	if cfg.Width == 0 || cfg.Height == 0 {
		return GIFInfo{}, refuse(ErrBroken, "no_size", "W", cfg.Width, "H", cfg.Height)
	}
	if cfg.Width > w.limits.MaxSide || cfg.Height > w.limits.MaxSide {
		return GIFInfo{}, refuse(ErrLimits, "too_big", "W", cfg.Width, "H", cfg.Height, "Max", w.limits.MaxSide)
	}
	w.r.Discard(headLen)
	info := GIFInfo{Width: cfg.Width, Height: cfg.Height}
	var pixels int64
	for {
		intro, err := w.r.ReadByte()
		if err != nil {
			return GIFInfo{}, w.eof(err)
		}
		switch intro {
		case blockTrailer:
			if info.Frames == 0 {
				return GIFInfo{}, refuse(ErrBroken, "no_image")
			}
			return info, nil
		case blockExtension:
			if _, err := w.r.ReadByte(); err != nil { // the label; every extension is sub-blocks
				return GIFInfo{}, w.eof(err)
			}
			if err := w.skipSubBlocks(); err != nil {
				return GIFInfo{}, err
			}
		case blockImage:
			area, err := w.image(cfg.Width, cfg.Height, hasGlobalTable)
			if err != nil {
				return GIFInfo{}, err
			}
			info.Frames++
			pixels += area
			if info.Frames > w.limits.MaxFrames {
				return GIFInfo{}, refuse(ErrLimits, "frames", "Max", w.limits.MaxFrames)
			}
			if pixels > w.limits.MaxTotalPixels {
				return GIFInfo{}, refuse(ErrLimits, "pixels")
			}
		default:
			return GIFInfo{}, refuse(ErrBroken, "unknown_block", "Block", fmt.Sprintf("%02X", intro))
		}
	}
}

// image checks one image descriptor and skips its compressed data; it returns the frame's area.
func (w *gifWalker) image(screenW, screenH int, hasGlobalTable bool) (int64, error) {
	var d [9]byte
	if _, err := io.ReadFull(w.r, d[:]); err != nil {
		return 0, w.eof(err)
	}
	left, top := int(d[0])|int(d[1])<<8, int(d[2])|int(d[3])<<8
	width, height := int(d[4])|int(d[5])<<8, int(d[6])|int(d[7])<<8
	// Browsers draw a frame declared 0 × 0 at the size of the whole screen, so it would cost
	// a viewer far more than its area says (and slip past the pixel budget): refuse it.
	if width == 0 || height == 0 {
		return 0, refuse(ErrBroken, "frame_size")
	}
	// The same rule image/gif applies: every frame lies inside the logical screen.
	if left+width > screenW || top+height > screenH {
		return 0, refuse(ErrBroken, "frame_outside")
	}
	if packed := d[8]; packed&0x80 != 0 {
		if _, err := w.r.Discard(3 << (1 + packed&0x07)); err != nil {
			return 0, w.eof(err)
		}
	} else if !hasGlobalTable {
		return 0, refuse(ErrBroken, "frame_colours")
	}
	litWidth, err := w.r.ReadByte()
	if err != nil {
		return 0, w.eof(err)
	}
	if litWidth < 2 || litWidth > 8 {
		return 0, refuse(ErrBroken, "frame_data")
	}
	if err := w.skipSubBlocks(); err != nil {
		return 0, err
	}
	return int64(width) * int64(height), nil
}

// skipSubBlocks skips a chain of data sub-blocks (a length byte, that many bytes) up to its
// zero-length terminator.
func (w *gifWalker) skipSubBlocks() error {
	for {
		n, err := w.r.ReadByte()
		if err != nil {
			return w.eof(err)
		}
		if n == 0 {
			return nil
		}
		if _, err := w.r.Discard(int(n)); err != nil {
			return w.eof(err)
		}
	}
}

// eof turns the end of the stream inside a block into "truncated"; other read errors pass
// through (Validate reports the body's own failure in preference to either).
func (w *gifWalker) eof(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return errTruncated
	}
	return err
}

// HumanBytes formats a size limit for people: "5 MiB", "1.5 MiB", "64 KiB".
func HumanBytes(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
