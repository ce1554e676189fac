package main

import (
	"os"
	"testing"
	"time"
)

func TestReadProcFigures(t *testing.T) {
	rss, _, err := readRSS(os.Getpid())
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	if rss < 1<<20 {
		t.Errorf("our own RSS is %d bytes, implausibly small", rss)
	}
	before, err := readCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for x, end := 0, time.Now().Add(50*time.Millisecond); time.Now().Before(end); x++ {
		_ = x * x // burn a little CPU
	}
	after, err := readCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if after < before {
		t.Errorf("CPU time went backwards: %v then %v", before, after)
	}
}
