package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func startBaseline(t *testing.T) *server {
	t.Helper()
	b, err := StartBaseline("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return newServer("baseline", b.Addr(), os.Getpid(), rssSelf)
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func chatConfig() ChatConfig {
	return ChatConfig{
		People: 20, Rooms: 1, Senders: 1, Window: 64,
		Duration: time.Second, Capacity: 100,
		ConnectConcurrency: 8, Settle: 100 * time.Millisecond, Drain: 5 * time.Second,
		Reconnects: 3, Quiet: 50 * time.Millisecond,
	}
}

func TestBaselineChatFlatOut(t *testing.T) {
	srv := startBaseline(t)
	res := RunChat(testCtx(t), srv, chatConfig())
	if res.Error != "" {
		t.Fatalf("run failed: %s", res.Error)
	}
	c := res.Chat
	t.Log(res.OneLine())
	if c.Members != 20 || c.Senders != 1 || res.ConnectFailures != 0 {
		t.Fatalf("members %d senders %d failures %d, want 20 1 0", c.Members, c.Senders, res.ConnectFailures)
	}
	if c.Sent == 0 || c.Deliveries == 0 {
		t.Fatalf("sent %d deliveries %d, want some", c.Sent, c.Deliveries)
	}
	// Every message reaches every member, the sender included.
	if c.Expected != c.Sent*20 || c.Deliveries != c.Expected {
		t.Errorf("expected %d, deliveries %d, sent %d x 20 members", c.Expected, c.Deliveries, c.Sent)
	}
	if c.Lost != 0 || c.Duplicated != 0 || c.Reordered != 0 || c.Stray != 0 || c.Disconnects != 0 {
		t.Errorf("lost %d dup %d reordered %d stray %d disconnects %d, want all 0",
			c.Lost, c.Duplicated, c.Reordered, c.Stray, c.Disconnects)
	}
	if c.Latency.Count != uint64(c.Deliveries) || c.Latency.P50Ms <= 0 || c.Latency.MaxMs < c.Latency.P99Ms {
		t.Errorf("latency summary inconsistent: %+v", c.Latency)
	}
	if c.DeliveriesPerSec <= 0 || res.Connect.Count != 20 {
		t.Errorf("deliveries/s %v, connect count %d", c.DeliveriesPerSec, res.Connect.Count)
	}
	if res.RSS.End <= 0 {
		t.Errorf("no RSS sampled from our own pid")
	}
	// The send phase is bounded by the duration (generously: CI machines
	// are shared); the drain by its own cap.
	if c.SendSeconds > 10 {
		t.Errorf("send phase took %.1fs for a 1s duration", c.SendSeconds)
	}
}

func TestBaselineChatPacedAndCapped(t *testing.T) {
	srv := startBaseline(t)
	cfg := chatConfig()
	cfg.People, cfg.Rooms, cfg.Senders = 15, 3, 2
	cfg.Rate, cfg.Messages, cfg.Duration = 100, 20, 0 // stops on the message cap
	res := RunChat(testCtx(t), srv, cfg)
	if res.Error != "" {
		t.Fatalf("run failed: %s", res.Error)
	}
	c := res.Chat
	t.Log(res.OneLine())
	// 3 rooms x 2 senders x 20 messages, each to the room's 5 members.
	if c.Sent != 120 || c.Expected != 600 || c.Deliveries != 600 {
		t.Errorf("sent %d expected %d deliveries %d, want 120 600 600", c.Sent, c.Expected, c.Deliveries)
	}
	if c.Lost != 0 || c.Duplicated != 0 || c.Reordered != 0 || c.Stray != 0 {
		t.Errorf("lost %d dup %d reordered %d stray %d", c.Lost, c.Duplicated, c.Reordered, c.Stray)
	}
	// 20 messages at 100/s take about 0.19s: pacing makes it no faster,
	// and only a badly overloaded machine makes it much slower.
	if c.SendSeconds < 0.15 || c.SendSeconds > 10 {
		t.Errorf("pacing: send phase took %.2fs, want ~0.19s", c.SendSeconds)
	}
}

func TestBaselineRefusalIsConnectFailure(t *testing.T) {
	srv := startBaseline(t)
	cfg := chatConfig()
	cfg.People, cfg.Capacity, cfg.Messages, cfg.Duration = 8, 5, 10, 0
	res := RunChat(testCtx(t), srv, cfg)
	if res.Error != "" {
		t.Fatalf("run failed: %s", res.Error)
	}
	t.Log(res.OneLine())
	if res.ConnectFailures != 3 || res.FailureReasons["ws closed: 4003 room full"] != 3 {
		t.Errorf("failures %d %v, want 3 x 4003 room full", res.ConnectFailures, res.FailureReasons)
	}
	// The five admitted members still get everything.
	if c := res.Chat; c.Members != 5 || c.Deliveries != 50 || c.Lost != 0 {
		t.Errorf("members %d deliveries %d lost %d, want 5 50 0", c.Members, c.Deliveries, c.Lost)
	}
}

func TestBaselineLobbyFanOut(t *testing.T) {
	srv := startBaseline(t)
	res := RunLobby(testCtx(t), srv, LobbyConfig{
		Subscribers: 20, Creates: 3, Gap: 10 * time.Millisecond, Capacity: 10,
		ConnectConcurrency: 8, Settle: 50 * time.Millisecond, Drain: 5 * time.Second,
	})
	if res.Error != "" {
		t.Fatalf("run failed: %s", res.Error)
	}
	t.Log(res.OneLine())
	l := res.Lobby
	if l.Expected != 60 || l.Seen != 60 || l.Missed != 0 || l.Latency.Count != 60 {
		t.Errorf("expected %d seen %d missed %d samples %d, want 60 60 0 60", l.Expected, l.Seen, l.Missed, l.Latency.Count)
	}
	if res.Connect.Count != 20 {
		t.Errorf("connect samples %d, want 20", res.Connect.Count)
	}
}

func TestBaselineIdle(t *testing.T) {
	for _, kind := range []string{"ws", "sse"} {
		t.Run(kind, func(t *testing.T) {
			srv := startBaseline(t)
			res := RunIdle(testCtx(t), srv, IdleConfig{
				Conns: 30, Kind: kind, Capacity: 10, ConnectConcurrency: 8, Settle: 50 * time.Millisecond,
			})
			if res.Error != "" {
				t.Fatalf("run failed: %s", res.Error)
			}
			t.Log(res.OneLine())
			if res.Idle.Open != 30 || res.ConnectFailures != 0 {
				t.Errorf("open %d failures %v, want 30 and none", res.Idle.Open, res.FailureReasons)
			}
			if kind == "ws" && res.Idle.Rooms != 3 {
				t.Errorf("rooms %d, want 3 of 10", res.Idle.Rooms)
			}
			if res.RSS.Before == 0 || res.RSS.Ready == 0 {
				t.Errorf("RSS not sampled: %+v", res.RSS)
			}
		})
	}
}

// TestRunBaselineJSON drives the command itself: flags in, summary line and
// JSON report out.
func TestRunBaselineJSON(t *testing.T) {
	out := filepath.Join(t.TempDir(), "report.json")
	var stdout, stderr bytes.Buffer
	code := run([]string{"-target=baseline", "-people=6", "-messages=5", "-duration=0",
		"-settle=50ms", "-json", out}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d, stderr: %s", code, stderr.String())
	}
	line := stdout.String()
	if !strings.HasPrefix(line, "baseline: 1 rooms x 6 people, 1 senders/room: ") || !strings.Contains(line, "lost 0 dup 0 reordered 0") {
		t.Errorf("summary line: %q", line)
	}
	rep := readReport(t, out)
	if len(rep.Runs) != 1 || rep.Runs[0].Chat == nil || rep.Runs[0].Chat.Deliveries != 30 {
		t.Errorf("report runs: %+v", rep.Runs)
	}
}

func TestRunRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{"10.0.0.1:8005", "192.168.1.10:80", "8.8.8.8:53", "[2001:db8::1]:80", "nohost"} {
		var stdout, stderr bytes.Buffer
		if code := run([]string{"-addr", addr, "-duration=1s"}, &stdout, &stderr); code != 2 {
			t.Errorf("%s: exit %d, want 2 (stderr %q)", addr, code, stderr.String())
		}
	}
}

func TestLoopbackChecks(t *testing.T) {
	ctx := context.Background()
	for _, ok := range []string{"127.0.0.1:8005", "127.1.2.3:1", "[::1]:80", "localhost:8005"} {
		if _, err := checkLoopbackAddr(ctx, ok); err != nil {
			t.Errorf("%s refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"10.0.0.1:80", "172.16.0.1:80", "0.0.0.0:80", "[::]:80", "1.1.1.1:443", "127.0.0.1"} {
		if _, err := checkLoopbackAddr(ctx, bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	// The dialer refuses before any packet is sent.
	if c, err := loopbackDial(ctx, "tcp", "10.9.9.9:80"); err == nil {
		c.Close()
		t.Error("loopbackDial connected to 10.9.9.9")
	} else if !strings.Contains(err.Error(), "refusing") {
		t.Errorf("loopbackDial error %q, want a refusal", err)
	}
}

// TestBaselineChatWithTypers: typers signal while the sender sends; every signal comes back
// to every member as a typing line (the baseline broadcasts each), and the chat stays whole.
func TestBaselineChatWithTypers(t *testing.T) {
	srv := startBaseline(t)
	cfg := chatConfig()
	cfg.Rate, cfg.Duration = 50, time.Second
	cfg.Typers, cfg.TypingEvery = 5, 100*time.Millisecond
	res := RunChat(testCtx(t), srv, cfg)
	if res.Error != "" {
		t.Fatalf("run failed: %s", res.Error)
	}
	c := res.Chat
	t.Log(res.OneLine())
	ty := c.Typing
	if ty == nil {
		t.Fatal("no typing figures")
	}
	if ty.Typers != 5 || ty.TypersPerRoom != 5 || ty.EverySeconds != 0.1 {
		t.Errorf("typing figures %+v, want 5 typers every 0.1s", ty)
	}
	// 5 typers for about 1 s, each every 100 ms (generously: CI machines are shared).
	if ty.Signals < 20 || ty.Signals > 60 {
		t.Errorf("%d typing signals sent, want about 50", ty.Signals)
	}
	// Each signal reaches the 20 members; the last ones may land after the send phase.
	if most, least := ty.Signals*20, (ty.Signals-5)*20; ty.Lines > most || ty.Lines < least {
		t.Errorf("%d typing lines received for %d signals to 20 members, want %d..%d", ty.Lines, ty.Signals, least, most)
	}
	if ty.Frames == 0 || ty.Frames > ty.Lines || ty.LinesPerSec <= 0 || ty.SignalsPerSec <= 0 {
		t.Errorf("typing frames %d, lines/s %v, signals/s %v", ty.Frames, ty.LinesPerSec, ty.SignalsPerSec)
	}
	if c.Expected != c.Sent*20 || c.Deliveries != c.Expected || c.Lost != 0 || c.Duplicated != 0 || c.Reordered != 0 {
		t.Errorf("sent %d expected %d deliveries %d lost %d dup %d reordered %d", c.Sent, c.Expected, c.Deliveries, c.Lost, c.Duplicated, c.Reordered)
	}
	if !strings.Contains(res.OneLine(), "typing: 5 typers every 100ms") {
		t.Errorf("summary line lacks the typing figures: %s", res.OneLine())
	}
}

// TestBaselineChatWithoutTypersReportsNoTyping: the typing figures appear only with -typers.
func TestBaselineChatWithoutTypersReportsNoTyping(t *testing.T) {
	res := RunChat(testCtx(t), startBaseline(t), chatConfig())
	if res.Error != "" || res.Chat.Typing != nil || strings.Contains(res.OneLine(), "typing") {
		t.Errorf("error %q, typing %+v, line %s", res.Error, res.Chat.Typing, res.OneLine())
	}
}

func TestFlagValidation(t *testing.T) {
	for _, args := range [][]string{
		{"-duration=0", "-messages=0"},
		{"-rooms=5", "-people=3"},
		{"-window=0"},
		{"-target=nope"},
		{"-mode=nope"},
		{"-baseline", "-target=baseline"},
		{"-mode=idle", "-idle-kind=udp"},
		{"-timeout=0"},
		{"-typers=-1"},
		{"-typers=1", "-typing-every=0"},
		{"-people=10", "-rooms=2", "-senders=2", "-typers=4"}, // 6 in rooms of 5
		{"-fsync-probe=/tmp"}, // no baseline to set a limit from
		{"-fsync-probe=/tmp", "-baseline", "-mode=idle"},
		{"-fsync-probe=/tmp", "-baseline", "-fsync-probe-for=0"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

func TestListenerPIDFindsOurBaseline(t *testing.T) {
	srv := startBaseline(t)
	pid, err := listenerPID(srv.addr)
	if err != nil {
		t.Skipf("cannot inspect /proc here: %v", err)
	}
	if pid != os.Getpid() {
		t.Errorf("listenerPID = %d, want our pid %d", pid, os.Getpid())
	}
}

// readReport reads the JSON report a run wrote (-json).
func readReport(t *testing.T, path string) Report {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rep Report
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatalf("report is not JSON: %v", err)
	}
	return rep
}
