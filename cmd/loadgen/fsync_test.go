package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The probe is open loop: one write+fsync every 5 ms whatever the disk does, each timed on
// its own, in a file of its own that it removes after.
func TestFsyncProbe(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	h, skipped, err := probeFsync(ctx, dir, 5*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	// 60 ticks in 300 ms; a loaded test machine may miss some, and a disk stalled past 64
	// waiting probes skips some.
	if n := h.Count() + uint64(skipped); n < 20 || n > 61 {
		t.Errorf("%d probes and %d skipped in 300 ms at one per 5 ms", h.Count(), skipped)
	}
	if h.Count() == 0 || h.Quantile(0.5) <= 0 {
		t.Errorf("no fsync timed: %d probes, p50 %d ns", h.Count(), h.Quantile(0.5))
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("the probe left %d files behind", len(left))
	}

	if _, _, err := probeFsync(context.Background(), filepath.Join(dir, "missing"), time.Millisecond); err == nil {
		t.Error("a probe in a directory that does not exist reported no error")
	}
}

// The limit is the baseline's p99 plus twice the disk's, and the product is judged by it.
func TestFsyncJudge(t *testing.T) {
	run := func(p99 float64, delivered int64) *ChatResult {
		return &ChatResult{Expected: 1000, Deliveries: delivered, Lost: 1000 - delivered, Latency: Summary{P99Ms: p99}}
	}
	r := &FsyncResult{Latency: Summary{Count: 100, P99Ms: 1.5}}
	r.judge(run(0.7, 1000), run(3.6, 1000))
	if r.P99Limit != 3.7 || r.ProductP99 != 3.6 || r.Met == nil || !*r.Met {
		t.Errorf("limit %v product %v met %v, want 3.7 3.6 true", r.P99Limit, r.ProductP99, r.Met)
	}
	r = &FsyncResult{Latency: Summary{Count: 100, P99Ms: 1.5}}
	r.judge(run(0.7, 1000), run(3.8, 1000))
	if *r.Met || !strings.Contains(r.OneLine(), "NOT met") {
		t.Errorf("product 3.8 ms against 3.7 ms judged met: %s", r.OneLine())
	}
	// A product that delivered nothing (it crashed, say) has a p99 of 0 and must not pass.
	r = &FsyncResult{Latency: Summary{Count: 100, P99Ms: 1.5}}
	r.judge(run(0.7, 1000), run(0, 0))
	if r.Met == nil || *r.Met || !strings.Contains(r.OneLine(), "NOT met (the product delivered 0 of 1000)") {
		t.Errorf("a product that delivered nothing: %s", r.OneLine())
	}
	r = &FsyncResult{Latency: Summary{Count: 100, P99Ms: 1.5}}
	r.judge(run(0.7, 1000), run(1.0, 990))
	if r.Met == nil || *r.Met {
		t.Errorf("a product that lost 10 deliveries judged met: %s", r.OneLine())
	}
	// Without a complete baseline there is no limit to judge by.
	r = &FsyncResult{Latency: Summary{Count: 100, P99Ms: 1.5}}
	r.judge(run(0.7, 500), run(1.0, 1000))
	if r.Met != nil || r.P99Limit != 0 || !strings.Contains(r.OneLine(), "no limit: the baseline delivered 500 of 1000") {
		t.Errorf("an incomplete baseline still set a limit: %s", r.OneLine())
	}
	failed := &FsyncResult{Error: "disk gone"}
	failed.judge(&ChatResult{}, &ChatResult{})
	if failed.Met != nil {
		t.Error("a probe that failed still judged the product")
	}
}

// Against the real server: the disk is probed around the runs, the limit is set from the
// baseline, and the product's own account of its group commits over the measured window
// comes from its /metrics (the baseline has none).
func TestChatReportsDiskAndStore(t *testing.T) {
	bin := gifchatBinary(t)
	addr, dir := freeAddr(t), t.TempDir()
	var serverLog bytes.Buffer
	srv := exec.Command(bin, "-addr", addr, "-data", filepath.Join(dir, "data"), "-rate-limits=false")
	srv.Stdout, srv.Stderr = &serverLog, &serverLog
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Process.Signal(os.Interrupt)
		srv.Wait()
		if t.Failed() {
			t.Logf("server log:\n%s", serverLog.String())
		}
	})
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the server did not answer /healthz in 30 s")
		}
	}

	out := filepath.Join(dir, "report.json")
	var stdout, stderr bytes.Buffer
	code := run([]string{"-addr", addr, "-baseline", "-fsync-probe", dir, "-fsync-probe-for", "300ms",
		"-people", "20", "-rooms", "2", "-capacity", "10", "-senders", "1", "-rate", "20", "-duration", "1s",
		"-timeout", "2m", "-json", out}, &stdout, &stderr)
	t.Log(strings.TrimSpace(stdout.String()))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	rep := readReport(t, out)
	if len(rep.Runs) != 2 || rep.Runs[0].Chat == nil || rep.Runs[1].Chat == nil {
		t.Fatalf("want a baseline and a product chat run: %+v", rep.Runs)
	}
	base, prod := rep.Runs[0].Chat, rep.Runs[1].Chat

	f := rep.Fsync
	switch {
	case f == nil:
		t.Fatal("no fsync figures in the report")
	case f.Error != "" || f.Latency.Count < 20 || f.Latency.P99Ms <= 0:
		t.Errorf("fsync probe: %+v", f)
	case f.Met == nil || f.P99Limit != base.Latency.P99Ms+2*f.Latency.P99Ms || f.ProductP99 != prod.Latency.P99Ms:
		t.Errorf("limit %v (baseline p99 %v, fsync p99 %v), product p99 %v (run %v), met %v",
			f.P99Limit, base.Latency.P99Ms, f.Latency.P99Ms, f.ProductP99, prod.Latency.P99Ms, f.Met)
	}
	if !strings.Contains(stdout.String(), "fsync "+dir+":") {
		t.Errorf("no fsync line in the summary:\n%s", stdout.String())
	}

	if base.Store != nil {
		t.Errorf("the baseline has no store, yet: %+v", base.Store)
	}
	s := prod.Store
	switch {
	case s == nil:
		t.Fatal("no store figures for the product")
	case s.Commits < 1 || s.Waits < s.Commits:
		t.Errorf("%d commits, %d waits: want some, and a wait for each commit at least", s.Commits, s.Waits)
	case float64(s.Commits)*s.MessagesPerCommit < float64(prod.Sent):
		t.Errorf("%d commits × %.2f messages < %d sent in the window", s.Commits, s.MessagesPerCommit, prod.Sent)
	case s.CommitP50Ms <= 0 || s.CommitP99Ms < s.CommitP50Ms || s.WaitP99Ms < s.WaitP50Ms || s.CommitMeanMs <= 0:
		t.Errorf("store figures out of order: %+v", s)
	}
}
