package main

// The product's own account of its group commits over the measured window, read from its
// /metrics before and after: with the latency the clients saw, it tells where a slow p99
// went. Commits that take long are the disk; waits much longer than commits are a writer
// with more to do than one commit at a time.

import (
	"bufio"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// StoreFigures are bucket bounds, not exact quantiles: "p99 ≤ 4 ms" reads as 99 % of waits
// took at most 4 ms (the histogram's buckets grow by √2 from 0.25 ms: 0.25, 0.35, 0.5, 0.71, 1 ms…).
type StoreFigures struct {
	Waits             uint64  `json:"waits"`
	WaitP50Ms         float64 `json:"wait_p50_le_ms"`
	WaitP99Ms         float64 `json:"wait_p99_le_ms"`
	Commits           uint64  `json:"commits"`
	CommitP50Ms       float64 `json:"commit_p50_le_ms"`
	CommitP99Ms       float64 `json:"commit_p99_le_ms"`
	CommitMeanMs      float64 `json:"commit_mean_ms"`
	MessagesPerCommit float64 `json:"messages_per_commit"`
}

// histogram is one scraped Prometheus histogram: cumulative counts by upper bound.
type histogram struct {
	buckets map[float64]float64 // le -> cumulative count; +Inf included
	sum     float64
	count   float64
}

// storeScrape holds the store histograms of one or more instances, summed.
type storeScrape map[string]*histogram

var storeHistograms = []string{"gifchat_store_wait_seconds", "gifchat_store_commit_seconds", "gifchat_store_commit_messages"}

// scrapeStore reads the store histograms from every instance of srv; nil when the server
// has none (the baseline, or a product from before they existed).
func scrapeStore(srv *server) storeScrape {
	all := storeScrape{}
	for _, s := range append([]*server{srv}, srv.more...) {
		if err := all.add(s); err != nil {
			return nil
		}
	}
	if all["gifchat_store_commit_seconds"] == nil {
		return nil
	}
	return all
}

func (sc storeScrape) add(srv *server) error {
	client := &http.Client{Transport: srv.transport, Timeout: 5 * time.Second}
	resp, err := client.Get(srv.base.JoinPath("/metrics").String())
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/metrics: %s", resp.Status)
	}
	lines := bufio.NewScanner(resp.Body)
	lines.Buffer(make([]byte, 64<<10), 1<<20)
	for lines.Scan() {
		line := lines.Text()
		for _, name := range storeHistograms {
			if !strings.HasPrefix(line, name+"_") {
				continue
			}
			sp := strings.LastIndexByte(line, ' ')
			v, err := strconv.ParseFloat(line[sp+1:], 64)
			if err != nil {
				continue
			}
			h := sc[name]
			if h == nil {
				h = &histogram{buckets: map[float64]float64{}}
				sc[name] = h
			}
			switch rest := line[len(name)+1 : sp]; {
			case rest == "sum":
				h.sum += v
			case rest == "count":
				h.count += v
			case strings.HasPrefix(rest, `bucket{le="`) && strings.HasSuffix(rest, `"}`):
				le, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimPrefix(rest, `bucket{le="`), `"}`), 64)
				if err == nil {
					h.buckets[le] += v
				}
			}
		}
	}
	return lines.Err()
}

// since returns the figures for what happened between before and sc.
func (sc storeScrape) since(before storeScrape) *StoreFigures {
	if sc == nil || before == nil {
		return nil
	}
	delta := func(name string) *histogram {
		a, b := sc[name], before[name]
		if a == nil || b == nil {
			return &histogram{buckets: map[float64]float64{}}
		}
		d := &histogram{buckets: map[float64]float64{}, sum: a.sum - b.sum, count: a.count - b.count}
		for le, n := range a.buckets {
			d.buckets[le] = n - b.buckets[le]
		}
		return d
	}
	wait, commit, batch := delta("gifchat_store_wait_seconds"), delta("gifchat_store_commit_seconds"), delta("gifchat_store_commit_messages")
	f := &StoreFigures{
		Waits: uint64(wait.count), WaitP50Ms: 1000 * wait.quantile(0.5), WaitP99Ms: 1000 * wait.quantile(0.99),
		Commits: uint64(commit.count), CommitP50Ms: 1000 * commit.quantile(0.5), CommitP99Ms: 1000 * commit.quantile(0.99),
	}
	if commit.count > 0 {
		f.CommitMeanMs = 1000 * commit.sum / commit.count
		f.MessagesPerCommit = batch.sum / commit.count
	}
	return f
}

// quantile returns the upper bound of the bucket holding quantile q; past the last finite
// bound, twice that bound (JSON has no infinity). 0 for an empty histogram.
func (h *histogram) quantile(q float64) float64 {
	if h.count <= 0 {
		return 0
	}
	les := make([]float64, 0, len(h.buckets))
	for le := range h.buckets {
		les = append(les, le)
	}
	sort.Float64s(les)
	var lastFinite float64
	for _, le := range les {
		if math.IsInf(le, 1) {
			break
		}
		lastFinite = le
		if h.buckets[le] >= q*h.count {
			return le
		}
	}
	return 2 * lastFinite
}

func (f *StoreFigures) oneLine() string {
	return fmt.Sprintf("store: %d waits p50 ≤%s p99 ≤%s; %d commits p50 ≤%s p99 ≤%s mean %s, %.1f messages each",
		f.Waits, fmtMs(f.WaitP50Ms), fmtMs(f.WaitP99Ms), f.Commits, fmtMs(f.CommitP50Ms), fmtMs(f.CommitP99Ms),
		fmtMs(f.CommitMeanMs), f.MessagesPerCommit)
}
