package gcfloor

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		live, floor uint64
		base, want  int
	}{
		{7 * mib, 32 * mib, 100, 357},   // the 100 × 10 load test's live heap
		{16 * mib, 32 * mib, 100, 100},  // half the floor: the default already reaches it
		{100 * mib, 32 * mib, 100, 100}, // 10,000 idle sockets: untouched
		{1 * mib, 32 * mib, 100, 1000},  // almost empty: bounded
		{0, 32 * mib, 100, 100},         // nothing measured yet
		{7 * mib, 32 * mib, 400, 400},   // never below the operator's own GOGC
		{3 * mib, 12 * mib, 50, 300},
	} {
		if got := Percent(c.live, c.floor, c.base); got != c.want {
			t.Errorf("Percent(%d MiB live, %d MiB floor, base %d) = %d, want %d", c.live/mib, c.floor/mib, c.base, got, c.want)
		}
	}
}

func gogc() uint64 {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// A floor far above this test's heap raises GOGC; stopping puts it back; a second floor
// while one runs changes nothing.
func TestStartRaisesAndStopRestores(t *testing.T) {
	runtime.GC() // the live heap is known after a collection
	before := gogc()
	stop := Start(1<<30, 5*time.Millisecond)
	defer stop()
	deadline := time.Now().Add(5 * time.Second)
	for gogc() <= before {
		if time.Now().After(deadline) {
			t.Fatalf("GOGC still %d after 5 s under a 1 GiB floor", gogc())
		}
		time.Sleep(5 * time.Millisecond)
	}
	raised := gogc()
	if raised > maxPercent {
		t.Errorf("GOGC %d, above the bound %d", raised, maxPercent)
	}

	Start(1<<20, time.Millisecond)() // a second floor: nothing started, nothing to stop
	time.Sleep(20 * time.Millisecond)
	if got := gogc(); got != raised {
		t.Errorf("a second Start or its stop changed GOGC from %d to %d", raised, got)
	}

	stop()
	if got := gogc(); got != before {
		t.Errorf("GOGC %d after stop, want %d as before", got, before)
	}
	stop() // twice is harmless
	if old := debug.SetGCPercent(int(before)); uint64(old) != before {
		t.Errorf("GOGC %d after the second stop", old)
	}
}

func TestZeroFloorDoesNothing(t *testing.T) {
	before := gogc()
	stop := Start(0, time.Millisecond)
	time.Sleep(10 * time.Millisecond)
	stop()
	if got := gogc(); got != before {
		t.Errorf("GOGC %d with no floor, want %d", got, before)
	}
}
