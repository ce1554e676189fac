package main

import (
	"math"
	"math/bits"
	"time"
)

// Histogram layout: values below subCount nanoseconds get one bucket each;
// above that every power of two is split into subCount linear sub-buckets.
// A recorded value therefore lands in a bucket no wider than 1/subCount of
// its own magnitude, so percentiles are accurate to under 1% while the whole
// histogram stays a fixed ~35 KiB array: cheap enough to give every receiver
// its own and merge them at the end instead of sharing one under a lock.
const (
	subBits    = 7
	subCount   = 1 << subBits
	maxBits    = 40 // values are clamped to 2^40 ns (about 18 minutes)
	maxValue   = 1<<maxBits - 1
	numBuckets = (maxBits - subBits + 1) * subCount
)

// Histogram records non-negative durations in nanoseconds with bounded
// relative error (see the layout constants). The zero value is ready to use.
// It is not safe for concurrent use: each goroutine keeps its own and the
// owner merges them once the goroutines have stopped.
type Histogram struct {
	counts []uint64 // allocated on first Record
	n      uint64
	sum    float64
	min    int64
	max    int64
}

// bucketOf returns the bucket index of v, which must be in [0, maxValue].
func bucketOf(v int64) int {
	if v < subCount {
		return int(v)
	}
	shift := bits.Len64(uint64(v)) - 1 - subBits
	return (shift+1)*subCount + int(v>>shift) - subCount
}

// bucketRange returns the smallest value in bucket i and the bucket's width.
func bucketRange(i int) (lower, width int64) {
	if i < subCount {
		return int64(i), 1
	}
	shift := i/subCount - 1
	mantissa := int64(i%subCount + subCount)
	return mantissa << shift, 1 << shift
}

// Record adds one value in nanoseconds. Negative values (possible only if
// the wall clock steps backwards mid-run) count as zero; values beyond the
// trackable range are clamped so a pathological stall still shows up as max.
func (h *Histogram) Record(v int64) {
	if v < 0 {
		v = 0
	}
	if v > maxValue {
		v = maxValue
	}
	if h.counts == nil {
		h.counts = make([]uint64, numBuckets)
	}
	h.counts[bucketOf(v)]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.n++
	h.sum += float64(v)
}

// RecordDuration adds one duration.
func (h *Histogram) RecordDuration(d time.Duration) { h.Record(int64(d)) }

// Merge adds every value recorded in o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	if h.counts == nil {
		h.counts = make([]uint64, numBuckets)
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	h.n += o.n
	h.sum += o.sum
}

// Count returns the number of recorded values.
func (h *Histogram) Count() uint64 { return h.n }

// Max returns the largest recorded value (exact), or 0 when empty.
func (h *Histogram) Max() int64 { return h.max }

// Min returns the smallest recorded value (exact), or 0 when empty.
func (h *Histogram) Min() int64 { return h.min }

// Mean returns the exact arithmetic mean, or 0 when empty.
func (h *Histogram) Mean() float64 {
	if h.n == 0 {
		return 0
	}
	return h.sum / float64(h.n)
}

// Quantile returns the value at quantile q in [0,1] using the nearest-rank
// definition (the ceil(q*n)-th smallest value). The answer is the midpoint of
// the bucket holding that rank, clamped to the exact min and max, so q=1
// returns the exact maximum and q=0 the exact minimum.
func (h *Histogram) Quantile(q float64) int64 {
	if h.n == 0 {
		return 0
	}
	if q <= 0 {
		return h.min
	}
	if q >= 1 {
		return h.max
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			lower, width := bucketRange(i)
			v := lower + (width-1)/2
			return min(max(v, h.min), h.max)
		}
	}
	return h.max
}
