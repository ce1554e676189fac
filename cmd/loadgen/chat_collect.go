package main

// Collecting: what every member saw, turned into the run's figures.

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// collect turns the members' bookkeeping into the result.
func (run *chatRun) collect(rooms []*chatRoom, res *Result, start, sendEnd time.Time) {
	cr := res.Chat
	var lat Histogram
	var last int64
	disconnects, reconnects, refusals := tally{}, tally{}, tally{}
	for _, r := range rooms {
		for _, s := range r.senders {
			if s.alive {
				cr.Sent += s.sent.Load()
				cr.Refused += s.refused.Load()
				for reason, n := range s.refusals {
					refusals[reason] += n
				}
			}
		}
		for _, m := range r.members {
			if !m.alive {
				continue
			}
			lat.Merge(&m.hist)
			cr.Duplicated += m.dups
			cr.Reordered += m.reordered
			cr.Stray += m.stray
			last = max(last, m.lastAt)
			for slot, s := range r.senders {
				sent := max(0, s.sent.Load()-s.refused.Load())
				got := m.perSender[slot].unique
				cr.Expected += sent
				cr.Deliveries += got
				cr.Lost += max(0, sent-got)
			}
			if m.sock.endReason != "" {
				disconnects.add(m.sock.endReason)
			}
			for reason, n := range m.sock.reconnects {
				reconnects[reason] += n
			}
		}
	}
	for _, n := range disconnects {
		cr.Disconnects += n
	}
	if len(disconnects) > 0 {
		cr.DisconnectReasons = disconnects
	}
	for _, n := range reconnects {
		cr.Reconnects += n
	}
	if len(refusals) > 0 {
		cr.RefusalReasons = refusals
	}
	if len(reconnects) > 0 {
		cr.ReconnectReasons = reconnects
	}
	cr.Latency = summarize(&lat)
	cr.SendSeconds = sendEnd.Sub(start).Seconds()
	elapsed := sendEnd.Sub(start)
	if last > 0 {
		elapsed = time.Unix(0, last).Sub(start)
	}
	cr.ElapsedSeconds = elapsed.Seconds()
	if elapsed > 0 {
		cr.DeliveriesPerSec = float64(cr.Deliveries) / elapsed.Seconds()
		cr.SentPerSec = float64(cr.Sent) / elapsed.Seconds()
	}
	if cr.ServerCPUSeconds > 0 {
		cr.DeliveriesPerCPUSecond = float64(cr.Deliveries) / cr.ServerCPUSeconds
	}
	if cr.ServerCPUSeconds > 0 && cr.Deliveries > 0 {
		cr.CPUPerThousand = (cr.ServerCPUSeconds + cr.ServicesCPUSeconds) / float64(cr.Deliveries) * 1000
	}
}

// commandsCPU is the CPU time used so far by every process whose command name is one of
// names (0 without names). Processes that ended are not counted: the services measured
// (PostgreSQL's pooled backends, nats-server) live through a run.
func commandsCPU(names []string) time.Duration {
	if len(names) == 0 {
		return 0
	}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var total time.Duration
	for _, d := range dirs {
		comm, err := os.ReadFile(filepath.Join(d, "comm"))
		if err != nil || !slices.Contains(names, strings.TrimSpace(string(comm))) {
			continue
		}
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		if cpu, err := readCPU(pid); err == nil {
			total += cpu
		}
	}
	return total
}

// serverCPU reads the CPU time used so far by srv's process, or by all its
// instances' processes together with -targets.
func serverCPU(srv *server) (time.Duration, error) {
	var total time.Duration
	for _, in := range srv.instances() {
		if in.pid == 0 {
			return 0, errors.New("no pid")
		}
		cpu, err := readCPU(in.pid)
		if err != nil {
			return 0, err
		}
		total += cpu
	}
	return total, nil
}

// forEachBounded runs fn(0..n-1) with at most limit running at once and
// stops starting new ones once ctx is done.
func forEachBounded(ctx context.Context, n, limit int, fn func(i int)) error {
	sem := make(chan struct{}, max(1, limit))
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return ctx.Err()
		}
		wg.Go(func() {
			defer func() { <-sem }()
			fn(i)
		})
	}
	wg.Wait()
	return ctx.Err()
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
