package main

import (
	"bytes"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// door is one address of a baseline reachable on several, standing in for one instance of a
// cluster: the state (rooms, members) is shared, as PostgreSQL and NATS share it between
// instances, and each door counts what came through it.
type door struct {
	addr string

	mu      sync.Mutex
	creates int            // POST /rooms
	sockets map[string]int // room id -> sockets opened through this door
}

// seen returns the door's counts so far.
func (d *door) seen() (creates int, sockets map[string]int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	sockets = make(map[string]int, len(d.sockets))
	for id, n := range d.sockets {
		sockets[id] = n
	}
	return d.creates, sockets
}

// startDoors serves one baseline on n further loopback addresses.
func startDoors(t *testing.T, n int) []*door {
	t.Helper()
	b, err := StartBaseline("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	var doors []*door
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		d := &door{addr: ln.Addr().String(), sockets: map[string]int{}}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			d.mu.Lock()
			switch {
			case r.Method == http.MethodPost && r.URL.Path == "/rooms":
				d.creates++
			case strings.HasSuffix(r.URL.Path, "/ws"):
				d.sockets[strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/rooms/"), "/ws")]++
			}
			d.mu.Unlock()
			b.srv.Handler.ServeHTTP(w, r)
		})}
		go srv.Serve(ln)
		// Baseline.Close ends the hijacked sockets; this ends the door's listener.
		t.Cleanup(func() { srv.Close() })
		doors = append(doors, d)
	}
	return doors
}

// TestChatSpreadOverTargets: with -targets, each room's people are dealt over the instances
// in turn, every room is created on the first, and the report is the one a single instance
// gets, with every address named.
func TestChatSpreadOverTargets(t *testing.T) {
	doors := startDoors(t, 3)
	out := filepath.Join(t.TempDir(), "report.json")
	var stdout, stderr bytes.Buffer
	targets := "http://" + doors[0].addr + "," + doors[1].addr + ",http://" + doors[2].addr + "/"
	code := run([]string{"-targets", targets, "-people=18", "-rooms=2", "-senders=2", "-messages=5", "-duration=0",
		"-settle=50ms", "-json", out}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d, stderr: %s", code, stderr.String())
	}
	line := stdout.String()
	if !strings.HasPrefix(line, "product: 2 rooms x 18 people, 2 senders/room: ") || !strings.Contains(line, "lost 0 dup 0 reordered 0") {
		t.Errorf("summary line: %q", line)
	}

	// Rooms of 9: members 0, 3, 6 on the first door, 1, 4, 7 on the second, 2, 5, 8 on the third.
	creates := make([]int, len(doors))
	sockets := make([]map[string]int, len(doors))
	for i, d := range doors {
		creates[i], sockets[i] = d.seen()
	}
	if creates[0] != 2 || creates[1] != 0 || creates[2] != 0 {
		t.Errorf("rooms created through the doors: %v, want [2 0 0]", creates)
	}
	if len(sockets[0]) != 2 {
		t.Fatalf("sockets through the first door: %v, want two rooms", sockets[0])
	}
	for id := range sockets[0] {
		for i := range doors {
			if got := sockets[i][id]; got != 3 {
				t.Errorf("room %s: %d sockets through door %d, want 3 of its 9", id, got, i)
			}
		}
	}

	rep := readReport(t, out)
	r := rep.Runs[0]
	// 2 rooms x 2 senders x 5 messages, each to the room's 9 members, wherever they are.
	if r.Chat.Sent != 20 || r.Chat.Deliveries != 180 || r.Chat.Lost != 0 || r.Chat.Members != 18 {
		t.Errorf("sent %d deliveries %d lost %d members %d, want 20 180 0 18", r.Chat.Sent, r.Chat.Deliveries, r.Chat.Lost, r.Chat.Members)
	}
	if want := doors[0].addr + "," + doors[1].addr + "," + doors[2].addr; r.Addr != want {
		t.Errorf("report addr %q, want %q", r.Addr, want)
	}
}

// TestSpreadPIDs: with -targets, -pid auto finds every instance's process, and RSS and CPU
// are summed over them (here all three doors are this process, so the sum is three times it).
func TestSpreadPIDs(t *testing.T) {
	doors := startDoors(t, 3)
	addrs := []string{doors[0].addr, doors[1].addr, doors[2].addr}
	pids, err := resolvePIDs("auto", addrs)
	if err != nil {
		t.Skipf("cannot inspect /proc here: %v", err)
	}
	for i, pid := range pids {
		if pid != os.Getpid() {
			t.Errorf("pid of %s = %d, want ours", addrs[i], pid)
		}
	}
	if _, err := resolvePIDs("1,2", addrs); err == nil {
		t.Error("two pids for three targets accepted")
	}
	srv := newServer("product", addrs[0], pids[0], "").spreadOver(
		newServer("product", addrs[1], pids[1], ""), newServer("product", addrs[2], pids[2], ""))
	var r RSS
	if got := sampleRSS(srv, &r); got < 3*(1<<20) || r.Peak < got {
		t.Errorf("summed rss %d, peak %d", got, r.Peak)
	}
	if _, err := serverCPU(srv); err != nil {
		t.Errorf("summed cpu: %v", err)
	}
}

func TestTargetsFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string // nil: refused
	}{
		{[]string{"-targets", "127.0.0.1:8011,127.0.0.1:8012"}, []string{"127.0.0.1:8011", "127.0.0.1:8012"}},
		{[]string{"-targets", "http://127.0.0.1:8011/, http://localhost:8012"}, []string{"127.0.0.1:8011", "localhost:8012"}},
		{[]string{"-targets", "127.0.0.1:8011", "-addr", "127.0.0.1:8005"}, nil},
		{[]string{"-targets", "https://127.0.0.1:8011"}, nil},
		{[]string{"-targets", "http://127.0.0.1:8011/rooms"}, nil},
		{[]string{"-targets", ","}, nil},
		{[]string{"-targets", "127.0.0.1:8011", "-target=baseline"}, nil},
	} {
		o, err := parseFlags(tc.args, &bytes.Buffer{})
		switch {
		case tc.want == nil && err == nil:
			t.Errorf("%v accepted", tc.args)
		case tc.want != nil && err != nil:
			t.Errorf("%v: %v", tc.args, err)
		case tc.want != nil && strings.Join(o.targets, " ") != strings.Join(tc.want, " "):
			t.Errorf("%v: targets %q, want %q", tc.args, o.targets, tc.want)
		}
	}
	// Every target must be on loopback, checked before anything is sent.
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-targets", "127.0.0.1:8011,10.0.0.1:8012", "-duration=1s"}, &stdout, &stderr); code != 2 {
		t.Errorf("non-loopback second target: exit %d, want 2 (stderr %q)", code, stderr.String())
	}
}
