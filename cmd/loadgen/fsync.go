package main

// The disk's own fsync, measured in the same run as the latency it bounds:
// issue 18 sets the product's 100 × 10 p99 against the bare server's p99
// plus two fsyncs at p99, and a shared disk's fsync varies from minute to
// minute (writeback from an unrelated build, or the host's other disks, can
// stall it for 100 ms and more), so a figure from another day proves nothing.
// The probe writes and fsyncs a small file in the directory given (put it on
// the server's data file system) before the baseline runs and again after the
// product has, with nothing else running: beside the baseline, the kernel's
// share of its fsyncs slowed the baseline's p99 from 0.7 ms to 2-6 ms.

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"
)

const (
	fsyncBlock = 4096      // one WAL page and its frame header fit
	fsyncSpan  = 256 << 10 // the probe file wraps here, as a checkpointed WAL is reused
)

// FsyncResult is the probe's figure and the p99 limit it gives.
type FsyncResult struct {
	Dir     string  `json:"dir"`
	Latency Summary `json:"latency"` // one 4 KiB write + fsync, before and after the runs
	Skipped int     `json:"skipped"` // probes not started: 64 were already waiting on the disk
	Error   string  `json:"error,omitempty"`
	// P99Limit is the baseline's p99 plus twice the fsync p99 (the sync of a
	// message's own group commit, and of the commit it may wait behind); set
	// when both the baseline and the product ran.
	P99Limit   float64 `json:"p99_limit_ms,omitempty"`
	ProductP99 float64 `json:"product_p99_ms,omitempty"`
	Met        *bool   `json:"met,omitempty"`
	// Unjudged says why there is no limit or why the product was judged without its p99:
	// a run that did not deliver everything it should have says nothing about latency.
	Unjudged string `json:"unjudged,omitempty"`

	hist Histogram
}

// probeFsync writes 4 KiB and fsyncs, one probe every `every` until ctx ends. Each probe is
// taken by one of maxProbes waiting workers, so one stuck in a slow fsync does not hold the
// next back: the probes arrive as the product's group commits do, and a disk that stalls for
// 50 ms delays every probe that arrives meanwhile, as it delays every message. (One probe
// after another would see that stall once and report the disk better than the product finds
// it.) A tick that finds every worker waiting is counted in skipped.
func probeFsync(ctx context.Context, dir string, every time.Duration) (h *Histogram, skipped int, err error) {
	f, err := os.CreateTemp(dir, "loadgen-fsync-*")
	if err != nil {
		return nil, 0, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	const maxProbes = 64
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if firstErr == nil {
			firstErr = err
		}
	}
	h = &Histogram{}
	offsets := make(chan int64)
	for range maxProbes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			block := make([]byte, fsyncBlock)
			for off := range offsets {
				block[0]++ // a changed page, as a WAL frame is
				start := time.Now()
				_, err := f.WriteAt(block, off)
				if err == nil {
					err = f.Sync()
				}
				d := time.Since(start)
				if err != nil {
					fail(err)
					continue
				}
				mu.Lock()
				h.Record(int64(d))
				mu.Unlock()
			}
		}()
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for off := int64(0); ; off = (off + fsyncBlock) % fsyncSpan {
		select {
		case <-ctx.Done():
			close(offsets)
			wg.Wait()
			return h, skipped, firstErr
		case <-t.C:
		}
		select {
		case offsets <- off:
		default:
			skipped++
		}
	}
}

// measure probes the disk for d (the whole of it unless ctx ends first) and adds what
// it saw to r.
func (r *FsyncResult) measure(ctx context.Context, d time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	h, skipped, err := probeFsync(ctx, r.Dir, 5*time.Millisecond)
	r.Skipped += skipped
	if err != nil && r.Error == "" {
		r.Error = err.Error()
	}
	if h != nil {
		r.hist.Merge(h)
		r.Latency = summarize(&r.hist)
	}
}

// judge sets the p99 limit from the baseline's and compares the product's.
func (r *FsyncResult) judge(base, prod *ChatResult) {
	if r.Error != "" || r.Latency.Count == 0 || base == nil || prod == nil {
		return
	}
	if gap := incomplete(base); gap != "" {
		r.Unjudged = "no limit: the baseline " + gap
		return
	}
	r.P99Limit = base.Latency.P99Ms + 2*r.Latency.P99Ms
	r.ProductP99 = prod.Latency.P99Ms
	met := r.ProductP99 <= r.P99Limit
	if gap := incomplete(prod); gap != "" {
		r.Unjudged = "the product " + gap
		met = false
	}
	r.Met = &met
}

// incomplete says what a run failed to deliver, or "" when it delivered everything it sent.
func incomplete(c *ChatResult) string {
	switch {
	case c.Expected == 0:
		return "sent nothing"
	case c.Lost > 0 || c.Deliveries < c.Expected:
		return fmt.Sprintf("delivered %d of %d", c.Deliveries, c.Expected)
	}
	return ""
}

// OneLine is the probe's summary line.
func (r *FsyncResult) OneLine() string {
	if r.Error != "" {
		return fmt.Sprintf("fsync %s: %s", r.Dir, r.Error)
	}
	s := fmt.Sprintf("fsync %s: %d probes, p50 %s p99 %s max %s", r.Dir, r.Latency.Count,
		fmtMs(r.Latency.P50Ms), fmtMs(r.Latency.P99Ms), fmtMs(r.Latency.MaxMs))
	if r.Skipped > 0 {
		s += fmt.Sprintf(", %d skipped (disk stalled)", r.Skipped)
	}
	if r.Met == nil && r.Unjudged != "" {
		s += "; " + r.Unjudged
	}
	if r.Met != nil {
		verdict := "met"
		if !*r.Met {
			verdict = "NOT met"
		}
		if r.Unjudged != "" {
			verdict += " (" + r.Unjudged + ")"
		}
		s += fmt.Sprintf("; p99 limit (baseline p99 + 2 × fsync p99) %s, product p99 %s: %s",
			fmtMs(r.P99Limit), fmtMs(r.ProductP99), verdict)
	}
	return s
}
