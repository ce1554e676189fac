package main

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// exactQuantile is the nearest-rank quantile of sorted values, the
// definition Histogram.Quantile approximates.
func exactQuantile(sorted []int64, q float64) int64 {
	rank := int(math.Ceil(q * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

func TestBucketLayout(t *testing.T) {
	// Every value must fall inside the range of the bucket it is put in,
	// and that range must be narrow relative to the value.
	check := func(v int64) {
		i := bucketOf(v)
		if i < 0 || i >= numBuckets {
			t.Fatalf("bucketOf(%d) = %d, out of [0,%d)", v, i, numBuckets)
		}
		lower, width := bucketRange(i)
		if v < lower || v >= lower+width {
			t.Fatalf("value %d in bucket %d = [%d,%d)", v, i, lower, lower+width)
		}
		if v >= subCount && float64(width) > float64(v)/subCount {
			t.Fatalf("bucket of %d is %d wide, more than 1/%d of it", v, width, subCount)
		}
	}
	for v := int64(0); v < 5000; v++ {
		check(v)
	}
	for shift := 0; shift < maxBits; shift++ {
		for _, d := range []int64{-1, 0, 1} {
			if v := int64(1)<<shift + d; v >= 0 && v <= maxValue {
				check(v)
			}
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		check(r.Int64N(maxValue + 1))
	}
	if got := bucketOf(maxValue); got != numBuckets-1 {
		t.Errorf("bucketOf(maxValue) = %d, want the last bucket %d", got, numBuckets-1)
	}
}

func TestQuantilesMatchExact(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	dists := map[string]func() int64{
		"uniform 0-100ms": func() int64 { return r.Int64N(100e6) },
		"lognormal ~3ms":  func() int64 { return int64(math.Exp(r.NormFloat64()*1.2 + math.Log(3e6))) },
		"tiny exact":      func() int64 { return r.Int64N(100) },
		"bimodal": func() int64 {
			if r.IntN(100) == 0 {
				return 50e6 + r.Int64N(10e6)
			}
			return 1e6 + r.Int64N(1e6)
		},
	}
	for name, gen := range dists {
		t.Run(name, func(t *testing.T) {
			var h Histogram
			vals := make([]int64, 20001)
			for i := range vals {
				vals[i] = gen()
				h.Record(vals[i])
			}
			slices.Sort(vals)
			if h.Count() != uint64(len(vals)) {
				t.Fatalf("Count = %d, want %d", h.Count(), len(vals))
			}
			if h.Min() != vals[0] || h.Max() != vals[len(vals)-1] {
				t.Errorf("min/max = %d/%d, want exact %d/%d", h.Min(), h.Max(), vals[0], vals[len(vals)-1])
			}
			for _, q := range []float64{0, 0.001, 0.1, 0.5, 0.9, 0.99, 0.999, 1} {
				want := exactQuantile(vals, q)
				if q == 0 {
					want = vals[0]
				}
				got := h.Quantile(q)
				// Within the bucket's width: under 1/128 of the value, or
				// exact below 128ns.
				tol := float64(want) / subCount
				if math.Abs(float64(got-want)) > tol {
					t.Errorf("q%v = %d, exact %d (tolerance %.0f)", q, got, want, tol)
				}
			}
		})
	}
}

func TestQuantileSmallCounts(t *testing.T) {
	var h Histogram
	if h.Quantile(0.5) != 0 || h.Max() != 0 || h.Mean() != 0 {
		t.Fatal("empty histogram should report zeros")
	}
	// Below 128ns buckets are exact, so nearest-rank answers are exact too.
	for _, v := range []int64{10, 20, 30, 40} {
		h.Record(v)
	}
	for q, want := range map[float64]int64{0.25: 10, 0.5: 20, 0.51: 30, 0.75: 30, 0.99: 40, 1: 40} {
		if got := h.Quantile(q); got != want {
			t.Errorf("q%v = %d, want %d", q, got, want)
		}
	}
	if h.Mean() != 25 {
		t.Errorf("mean = %v, want 25", h.Mean())
	}
	// One huge outlier: p99.9 of 1000 values is the 999th, not the outlier,
	// and max is exact.
	var g Histogram
	for range 999 {
		g.Record(1_000_000)
	}
	g.Record(7_654_321_000)
	if got := g.Quantile(0.999); math.Abs(float64(got)-1e6) > 1e6/subCount {
		t.Errorf("p99.9 = %d, want ~1ms", got)
	}
	if g.Max() != 7_654_321_000 || g.Quantile(1) != 7_654_321_000 {
		t.Errorf("max = %d, want exact 7654321000", g.Max())
	}
}

func TestRecordClamps(t *testing.T) {
	var h Histogram
	h.Record(-5)
	h.Record(math.MaxInt64)
	if h.Min() != 0 || h.Max() != maxValue {
		t.Errorf("min/max = %d/%d, want 0/%d", h.Min(), h.Max(), int64(maxValue))
	}
}

func TestMerge(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var a, b, all Histogram
	for i := range 10000 {
		v := r.Int64N(1e9)
		all.Record(v)
		if i%3 == 0 {
			a.Record(v)
		} else {
			b.Record(v)
		}
	}
	var m Histogram
	m.Merge(&a)
	m.Merge(&Histogram{}) // merging an empty one is a no-op
	m.Merge(&b)
	if m.Count() != all.Count() || m.Min() != all.Min() || m.Max() != all.Max() {
		t.Fatalf("merged count/min/max %d/%d/%d, want %d/%d/%d",
			m.Count(), m.Min(), m.Max(), all.Count(), all.Min(), all.Max())
	}
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		if m.Quantile(q) != all.Quantile(q) {
			t.Errorf("q%v: merged %d, direct %d", q, m.Quantile(q), all.Quantile(q))
		}
	}
	if math.Abs(m.Mean()-all.Mean()) > 1e-6*all.Mean() {
		t.Errorf("mean: merged %v, direct %v", m.Mean(), all.Mean())
	}
}

func BenchmarkRecord(b *testing.B) {
	var h Histogram
	for i := range b.N {
		h.Record(int64(i) * 7919 % 100_000_000)
	}
}
