package media

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"image/png"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"testing/iotest"
)

// makeGIF encodes a real animated GIF with image/gif: frames of w×h, each a different colour
// with a moving bar, so every frame differs.
func makeGIF(t testing.TB, w, h, frames int) []byte {
	t.Helper()
	pal := color.Palette{color.Black, color.White, color.RGBA{0xE0, 0x40, 0x40, 0xFF}, color.RGBA{0x40, 0x80, 0xE0, 0xFF}}
	anim := &gif.GIF{}
	for f := 0; f < frames; f++ {
		img := image.NewPaletted(image.Rect(0, 0, w, h), pal)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				c := uint8(2 + f%2)
				if x%max(1, w/frames+1) == f%max(1, w) {
					c = 1
				}
				img.SetColorIndex(x, y, c)
			}
		}
		anim.Image = append(anim.Image, img)
		anim.Delay = append(anim.Delay, 10)
	}
	var buf bytes.Buffer
	if err := gif.EncodeAll(&buf, anim); err != nil {
		t.Fatalf("encode gif: %v", err)
	}
	return buf.Bytes()
}

// noiseGIF is a real GIF that compresses badly, to reach a given size with few frames.
func noiseGIF(t testing.TB, side, frames int) []byte {
	t.Helper()
	pal := make(color.Palette, 256)
	for i := range pal {
		pal[i] = color.RGBA{uint8(i), uint8(i * 7), uint8(i * 13), 0xFF}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	anim := &gif.GIF{}
	for f := 0; f < frames; f++ {
		img := image.NewPaletted(image.Rect(0, 0, side, side), pal)
		for i := range img.Pix {
			img.Pix[i] = uint8(rng.UintN(256))
		}
		anim.Image = append(anim.Image, img)
		anim.Delay = append(anim.Delay, 10)
	}
	var buf bytes.Buffer
	if err := gif.EncodeAll(&buf, anim); err != nil {
		t.Fatalf("encode gif: %v", err)
	}
	return buf.Bytes()
}

func TestValidateAcceptsRealGIFs(t *testing.T) {
	for _, tc := range []struct {
		name         string
		w, h, frames int
	}{
		{"one frame", 17, 9, 1},
		{"animated", 64, 48, 12},
		{"max side", 4096, 2, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := makeGIF(t, tc.w, tc.h, tc.frames)
			info, err := Validate(bytes.NewReader(data), 5<<20)
			if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			sum := sha256.Sum256(data)
			want := GIFInfo{SHA256: hex.EncodeToString(sum[:]), Width: tc.w, Height: tc.h, Frames: tc.frames, Bytes: int64(len(data))}
			if info != want {
				t.Fatalf("info = %+v, want %+v", info, want)
			}
		})
	}
}

// testdata/bounce.gif is the animated GIF used for browser checks (a ball bouncing across
// 160×100 pixels in 24 frames, made with image/gif).
func TestValidateFixture(t *testing.T) {
	data, err := os.ReadFile("testdata/bounce.gif")
	if err != nil {
		t.Fatal(err)
	}
	info, err := Validate(bytes.NewReader(data), 5<<20)
	if err != nil || info.Width != 160 || info.Height != 100 || info.Frames != 24 {
		t.Fatalf("bounce.gif: %+v, %v", info, err)
	}
	all, err := gif.DecodeAll(bytes.NewReader(data))
	if err != nil || len(all.Image) != 24 {
		t.Fatalf("image/gif reads bounce.gif as %v frames, %v", len(all.Image), err)
	}
}

// The validator reads the stream in whatever pieces it arrives: one byte at a time is the
// harshest case for the header peek.
func TestValidateOneByteReads(t *testing.T) {
	data := makeGIF(t, 30, 20, 3)
	info, err := Validate(iotest.OneByteReader(bytes.NewReader(data)), 5<<20)
	if err != nil || info.Frames != 3 || info.Bytes != int64(len(data)) {
		t.Fatalf("Validate = %+v, %v", info, err)
	}
}

func pngBytes(t *testing.T) []byte {
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, 4, 4))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestValidateRefusals(t *testing.T) {
	good := makeGIF(t, 40, 30, 4)
	tooWide := makeGIF(t, 4097, 1, 1)
	withTrailer := append(append([]byte(nil), good...), []byte("<script>alert(1)</script>")...)
	noTrailer := good[:len(good)-1]
	// A frame that lies outside the logical screen: grow the first image descriptor's width.
	outside := append([]byte(nil), good...)
	i := bytes.Index(outside, []byte{0x2C, 0, 0, 0, 0})
	if i < 0 {
		t.Fatal("no image descriptor at 0,0 in the test GIF")
	}
	outside[i+5], outside[i+6] = 0xFF, 0xFF
	// A frame declared 0 × 0, which browsers draw over the whole screen.
	zeroSize := append([]byte(nil), good...)
	zeroSize[i+5], zeroSize[i+6], zeroSize[i+7], zeroSize[i+8] = 0, 0, 0, 0
	// A header and a trailer with no image between them.
	headerOnly := append(append([]byte(nil), good[:headerLen(good)]...), 0x3B)
	for _, tc := range []struct {
		name  string
		data  []byte
		max   int64
		kind  error
		words string
	}{
		{"empty", nil, 0, ErrEmpty, "empty"},
		{"html", []byte("<!DOCTYPE html><html><script>alert(1)</script></html>"), 0, ErrNotGIF, "not a GIF"},
		{"svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`), 0, ErrNotGIF, "not a GIF"},
		{"png", pngBytes(t), 0, ErrNotGIF, "not a GIF"},
		{"signature only", []byte("GIF89a"), 0, ErrBroken, "cut off"},
		{"three bytes", []byte("GIF"), 0, ErrNotGIF, "not a GIF"},
		{"truncated half", good[:len(good)/2], 0, ErrBroken, "cut off"},
		{"no trailer", noTrailer, 0, ErrBroken, "cut off"},
		{"data after trailer", withTrailer, 0, ErrBroken, "extra data"},
		{"frame outside screen", outside, 0, ErrBroken, "outside"},
		{"zero-size frame", zeroSize, 0, ErrBroken, "no size"},
		{"no frames", headerOnly, 0, ErrBroken, "no image"},
		{"too wide", tooWide, 0, ErrLimits, "4097 × 1"},
		{"too large", good, int64(len(good) - 1), ErrTooLarge, "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			max := tc.max
			if max == 0 {
				max = 5 << 20
			}
			_, err := Validate(bytes.NewReader(tc.data), max)
			var ref *Error
			if !errors.As(err, &ref) || !errors.Is(err, tc.kind) {
				t.Fatalf("err = %v, want a %v refusal", err, tc.kind)
			}
			if !strings.Contains(ref.Reason, tc.words) {
				t.Fatalf("reason %q does not say %q", ref.Reason, tc.words)
			}
		})
	}
}

func TestValidateExactLimit(t *testing.T) {
	good := makeGIF(t, 40, 30, 2)
	if _, err := Validate(bytes.NewReader(good), int64(len(good))); err != nil {
		t.Fatalf("a GIF of exactly the limit: %v", err)
	}
}

func TestValidateFrameLimits(t *testing.T) {
	data := makeGIF(t, 8, 8, 6)
	_, err := Limits{MaxFrames: 5}.Validate(bytes.NewReader(data))
	if !errors.Is(err, ErrLimits) || !strings.Contains(err.Error(), "more than 5 frames") {
		t.Fatalf("6 frames with a limit of 5: %v", err)
	}
	_, err = Limits{MaxTotalPixels: 8 * 8 * 5}.Validate(bytes.NewReader(data))
	if !errors.Is(err, ErrLimits) {
		t.Fatalf("6×64 pixels with a budget of 5×64: %v", err)
	}
	if _, err := (Limits{MaxFrames: 6, MaxTotalPixels: 8 * 8 * 6}).Validate(bytes.NewReader(data)); err != nil {
		t.Fatalf("at the limits: %v", err)
	}
}

// A stream that stops with an error is the request's failure, not the file's: it must not be
// reported as "broken" (that would blame the user's GIF for a dropped connection).
func TestValidateReaderErrorIsNotARefusal(t *testing.T) {
	good := makeGIF(t, 40, 30, 4)
	boom := errors.New("connection reset")
	r := io.MultiReader(bytes.NewReader(good[:len(good)/2]), iotest.ErrReader(boom))
	_, err := Validate(r, 5<<20)
	var ref *Error
	if errors.As(err, &ref) || !errors.Is(err, ErrRead) || !errors.Is(err, boom) {
		t.Fatalf("err = %v, want ErrRead wrapping the reader's error", err)
	}
}

// The validator reads at most MaxBytes+1 bytes, however long the stream: an endless GIF
// (valid header, then sub-blocks forever) stops at the limit.
func TestValidateStopsAtLimit(t *testing.T) {
	g := makeGIF(t, 2, 2, 1)
	head := g[:headerLen(g)]
	endless := &countingReader{r: io.MultiReader(bytes.NewReader(head), bytes.NewReader([]byte{0x21, 0xFE}), repeatReader{0x10})}
	_, err := Validate(endless, 1<<20)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	// bufio may read one buffer ahead of the limit check, never more.
	if endless.n > 1<<20+1 {
		t.Fatalf("read %d bytes for a 1 MiB limit", endless.n)
	}
}

// headerLen is the length of a GIF's header and global colour table.
func headerLen(g []byte) int {
	if g[10]&0x80 == 0 {
		return 13
	}
	return 13 + 3<<(1+g[10]&7)
}

type repeatReader struct{ b byte }

func (r repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.b
	}
	return len(p), nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func FuzzValidate(f *testing.F) {
	f.Add(makeGIF(f, 5, 5, 2))
	f.Add([]byte("GIF89a\x01\x00\x01\x00\x80\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := Validate(bytes.NewReader(data), 1<<20)
		if err != nil {
			return
		}
		// Whatever the walker accepts, image/gif must at least read its header the same way.
		cfg, err := gif.DecodeConfig(bytes.NewReader(data))
		if err != nil || cfg.Width != info.Width || cfg.Height != info.Height {
			t.Fatalf("accepted %+v but DecodeConfig says %+v, %v", info, cfg, err)
		}
	})
}

// BenchmarkValidate measures one pass over a ~5 MiB GIF: the cost every upload pays.
func BenchmarkValidate(b *testing.B) {
	data := noiseGIF(b, 1100, 3)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Validate(bytes.NewReader(data), 8<<20); err != nil {
			b.Fatal(err)
		}
	}
}
