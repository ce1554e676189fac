// Command loadgen drives a gifchat server through its real protocol (session
// cookie, room page, room WebSocket with htmx's JSON frames, lobby event
// stream) and reports throughput, end-to-end latency, delivery correctness,
// connect time and server memory. It carries its own bare broadcast server
// as a baseline, so the same workload can show what the machine allows.
//
// It only ever connects to loopback addresses, and every run is bounded in
// time. See README.md for the flags and examples.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// debugf prints progress details with -v; otherwise it does nothing.
var debugf = func(format string, args ...any) {}

// rssSelf marks RSS figures that are the load generator's own, as happens
// with the in-process baseline.
const rssSelf = "self"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process exit, so tests can call it.
func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		return 2
	}
	// The target is checked before anything else runs, the baseline
	// included: a wrong address must fail at once, having sent nothing.
	var product *server
	if o.target == "product" {
		addrs := o.targets
		if len(addrs) == 0 {
			addrs = []string{o.addr}
		}
		if o.mode == "storm" {
			addrs = append(addrs[:len(addrs):len(addrs)], o.serverAddr)
		}
		for _, addr := range addrs {
			if _, err := checkLoopbackAddr(context.Background(), addr); err != nil {
				fmt.Fprintln(stderr, "loadgen:", err)
				return 2
			}
		}
		addrs = addrs[:max(1, len(o.targets))]
		pids, err := resolvePIDs(o.pid, addrs)
		if err != nil {
			fmt.Fprintln(stderr, "loadgen:", err)
			return 2
		}
		source := ""
		switch {
		case pids[0] != 0 && len(pids) > 1:
			source = "pids " + joinInts(pids) + " (summed)"
		case pids[0] != 0:
			source = "pid"
		case o.mode == "idle":
			fmt.Fprintln(stderr, "loadgen: warning: idle mode without -pid measures no memory; pass -pid N or -pid auto")
		}
		var instances []*server
		for i, addr := range addrs {
			instances = append(instances, newServer("product", addr, pids[i], source))
		}
		product = instances[0].spreadOver(instances[1:]...)
	}
	if o.verbose {
		debugf = func(format string, args ...any) {
			fmt.Fprintf(stderr, "loadgen: "+format+"\n", args...)
		}
	}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			fmt.Fprintln(stderr, "loadgen:", err)
			return 2
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(stderr, "loadgen:", err)
			return 2
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM) // e.g. timeout(1): the -server is still stopped
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()

	summaryOut := stdout
	if o.jsonOut == "-" {
		summaryOut = stderr
	}
	// Storm mode starts its server now, and stops it whatever happens next.
	var proc *serverProc
	if o.mode == "storm" {
		out := stderr
		if o.serverLog != "" {
			f, err := os.OpenFile(o.serverLog, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
			if err != nil {
				fmt.Fprintln(stderr, "loadgen:", err)
				return 2
			}
			defer f.Close()
			out = f
		}
		proc = newServerProc(o.server, o.serverAddr, out)
		defer proc.stop()
		if o.verbose {
			fmt.Fprintf(stderr, "loadgen: starting %s\n", strings.Join(o.server, " "))
		}
		if _, err := proc.start(ctx); err != nil {
			fmt.Fprintln(stderr, "loadgen:", err)
			return 1
		}
	}
	if o.mode == "chat" || o.mode == "storm" {
		if per := (o.chat.People + o.chat.Rooms - 1) / o.chat.Rooms; per > o.chat.Capacity {
			fmt.Fprintf(stderr, "loadgen: warning: %d people per room exceeds -capacity %d; expect refusals\n", per, o.chat.Capacity)
		}
	}

	report := &Report{Started: time.Now().UTC(), Args: args, LoadAvg: readLoadAvg()}
	if report.LoadAvg > float64(runtime.NumCPU()) {
		fmt.Fprintf(stderr, "loadgen: note: load average %.1f on %d cores: other work shares the machine, expect noisy figures\n", report.LoadAvg, runtime.NumCPU())
	}
	failed := false
	runOne := func(srv *server) *Result {
		if o.verbose {
			fmt.Fprintf(stderr, "loadgen: %s %s at %s\n", o.mode, srv.name, srv.addrs())
		}
		var res *Result
		switch o.mode {
		case "chat":
			res = RunChat(ctx, srv, o.chat)
		case "idle":
			res = RunIdle(ctx, srv, o.idle)
		case "lobby":
			res = RunLobby(ctx, srv, o.lobby)
		case "storm":
			res = RunStorm(ctx, srv, o.storm, proc)
		}
		if res.Error != "" {
			failed = true
		}
		report.Runs = append(report.Runs, res)
		fmt.Fprintln(summaryOut, res.OneLine())
		if res.Chat != nil && res.Chat.Store != nil {
			fmt.Fprintln(summaryOut, res.Chat.Store.oneLine())
		}
		return res
	}

	var baseRes *Result
	if o.baseline || o.target == "baseline" {
		b, err := StartBaseline("127.0.0.1:0")
		if err != nil {
			fmt.Fprintln(stderr, "loadgen: baseline:", err)
			return 1
		}
		if o.fsyncDir != "" {
			report.Fsync = &FsyncResult{Dir: o.fsyncDir}
			report.Fsync.measure(ctx, o.fsyncFor)
		}
		baseRes = runOne(newServer("baseline", b.Addr(), os.Getpid(), rssSelf))
		b.Close()
	}
	if product != nil {
		prodRes := runOne(product)
		if baseRes != nil && baseRes.Chat != nil && prodRes.Chat != nil && baseRes.Chat.DeliveriesPerSec > 0 {
			ratio := prodRes.Chat.DeliveriesPerSec / baseRes.Chat.DeliveriesPerSec
			report.Ratio = &ratio
			fmt.Fprintf(summaryOut, "product/baseline deliveries/s: %.3f\n", ratio)
		}
		if report.Fsync != nil {
			report.Fsync.measure(ctx, o.fsyncFor)
			report.Fsync.judge(baseRes.Chat, prodRes.Chat)
		}
	}
	if report.Fsync != nil {
		fmt.Fprintln(summaryOut, report.Fsync.OneLine())
	}

	if o.jsonOut != "" {
		if err := writeJSON(o.jsonOut, stdout, report); err != nil {
			fmt.Fprintln(stderr, "loadgen:", err)
			return 1
		}
	}
	if failed {
		return 1
	}
	return 0
}

func writeJSON(path string, stdout io.Writer, report *Report) error {
	data, err := json.MarshalIndent(report, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	if path == "-" {
		_, err = stdout.Write(data)
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

// parseTargets reads the -targets list into host:port addresses.
func parseTargets(list string) ([]string, error) {
	var addrs []string
	for _, t := range strings.Split(list, ",") {
		t = strings.TrimSpace(t)
		if t == "" {
			continue
		}
		if strings.Contains(t, "://") {
			u, err := url.Parse(t)
			if err != nil || u.Scheme != "http" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
				return nil, fmt.Errorf("-targets: %q: want host:port or http://host:port", t)
			}
			t = u.Host
		}
		addrs = append(addrs, t)
	}
	if len(addrs) == 0 {
		return nil, errors.New("-targets: no address given")
	}
	return addrs, nil
}

// resolvePIDs interprets the -pid flag for each of addrs: none, "auto" for
// all, or one id per address.
func resolvePIDs(flagValue string, addrs []string) ([]int, error) {
	values := make([]string, len(addrs))
	switch {
	case flagValue == "" || flagValue == "auto":
		for i := range values {
			values[i] = flagValue
		}
	default:
		values = strings.Split(flagValue, ",")
		if len(values) != len(addrs) {
			return nil, fmt.Errorf("-pid: %d ids for %d targets; give one per target, or \"auto\"", len(values), len(addrs))
		}
	}
	pids := make([]int, len(addrs))
	for i, addr := range addrs {
		pid, err := resolvePID(strings.TrimSpace(values[i]), addr)
		if err != nil {
			return nil, err
		}
		pids[i] = pid
	}
	return pids, nil
}

func joinInts(l []int) string {
	s := make([]string, len(l))
	for i, n := range l {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

// resolvePID interprets the -pid flag for one address.
func resolvePID(flagValue, addr string) (int, error) {
	switch flagValue {
	case "":
		return 0, nil
	case "auto":
		pid, err := listenerPID(addr)
		if err != nil {
			return 0, fmt.Errorf("-pid auto: %w", err)
		}
		return pid, nil
	}
	pid, err := strconv.Atoi(flagValue)
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("-pid: want a process id or \"auto\", not %q", flagValue)
	}
	if _, _, err := readRSS(pid); err != nil {
		return 0, fmt.Errorf("-pid %d: %w", pid, err)
	}
	return pid, nil
}
