package main

// The server storm mode restarts: a child process the load generator starts, signals, waits
// for, starts again on the same command line, and always stops in the end.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Bounds on the server's own steps, so a run whose server hangs still ends.
const (
	healthTimeout = 60 * time.Second // from starting the process to /healthz answering 200
	exitTimeout   = 60 * time.Second // from a signal to the process being gone
)

// serverProc is the -server command: one process at a time, started again by restart. Its
// output (both streams) goes to out, line by line, and its log lines are counted.
type serverProc struct {
	argv   []string
	health string // http://host:port/healthz
	out    io.Writer
	outMu  sync.Mutex // an old process's last lines may still come as the next one starts
	log    *serverLog
	client *http.Client

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{} // closed when the current process has been waited for
	waitErr error         // its exit, once exited is closed
	output  chan struct{} // closed when the current process's output has been read to the end
}

// splitCommand splits -server's value on white space: no quoting, no shell. A command that
// needs one (an environment variable, a redirect) goes in a script that ends with exec.
func splitCommand(s string) ([]string, error) {
	argv := strings.Fields(s)
	if len(argv) == 0 {
		return nil, errors.New("-server: no command given")
	}
	return argv, nil
}

func newServerProc(argv []string, healthAddr string, out io.Writer) *serverProc {
	return &serverProc{
		argv:   argv,
		health: "http://" + healthAddr + "/healthz",
		out:    out,
		log:    &serverLog{levels: tally{}, messages: tally{}},
		client: &http.Client{
			Transport: &http.Transport{DialContext: loopbackDial, DisableKeepAlives: true},
			Timeout:   time.Second,
		},
	}
}

// serverUp says when a started server could be reached: listening is the first moment its
// port had a listening socket (connections then wait in its queue, whether or not the server
// has got round to accepting them), healthy when /healthz first answered 200.
type serverUp struct {
	listening, healthy time.Time
}

// start runs the command once more and returns when /healthz answers 200. The process it
// started is stopped again if it does not become healthy.
func (sp *serverProc) start(ctx context.Context) (serverUp, error) {
	cmd := exec.Command(sp.argv[0], sp.argv[1:]...)
	cmd.SysProcAttr = childAttr()
	r, w, err := os.Pipe()
	if err != nil {
		return serverUp{}, err
	}
	cmd.Stdout, cmd.Stderr = w, w
	err = cmd.Start()
	w.Close() // the child has its own copy; the pipe ends when the child's is closed
	if err != nil {
		r.Close()
		return serverUp{}, fmt.Errorf("-server: %w", err)
	}
	exited, output := make(chan struct{}), make(chan struct{})
	sp.mu.Lock()
	sp.cmd, sp.exited, sp.output = cmd, exited, output
	sp.mu.Unlock()
	go func() {
		defer close(output)
		defer r.Close()
		sp.copyOutput(r)
	}()
	go func() {
		err := cmd.Wait()
		sp.mu.Lock()
		sp.waitErr = err
		sp.mu.Unlock()
		close(exited)
	}()
	up, err := sp.waitHealthy(ctx, exited)
	if err != nil {
		sp.stop()
		return serverUp{}, err
	}
	return up, nil
}

// waitHealthy asks /healthz until it answers 200, one request at a time. Until then it also
// looks every 10 ms for the port's listening socket: a health check can wait a long time in
// the listener's queue behind a crowd's reconnects, and says nothing about when the server
// had its port.
func (sp *serverProc) waitHealthy(ctx context.Context, exited <-chan struct{}) (serverUp, error) {
	var up serverUp
	deadline := time.Now().Add(healthTimeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	port := sp.port()
	checked := make(chan bool, 1)
	checked <- false
	for {
		if up.listening.IsZero() && port != 0 {
			if listening, _ := portListening(port); listening {
				up.listening = time.Now()
			}
		}
		select { // one health check at a time, each up to a second
		case ok := <-checked:
			if ok {
				up.healthy = time.Now()
				if up.listening.IsZero() {
					up.listening = up.healthy
				}
				return up, nil
			}
			go func() { checked <- sp.healthy(ctx) }()
		default:
		}
		select {
		case <-exited:
			return up, fmt.Errorf("-server exited before %s answered (%v); its output is in the server log", sp.health, sp.exitErr())
		case <-ctx.Done():
			return up, ctx.Err()
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			return up, fmt.Errorf("-server: %s did not answer 200 within %s", sp.health, healthTimeout)
		}
	}
}

// port is the -server-addr's port (0 if it has none).
func (sp *serverProc) port() uint16 {
	u, err := url.Parse(sp.health)
	if err != nil {
		return 0
	}
	p, _ := strconv.ParseUint(u.Port(), 10, 16)
	return uint16(p)
}

// healthy asks /healthz once.
func (sp *serverProc) healthy(ctx context.Context) bool {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, sp.health, nil)
	resp, err := sp.client.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	return resp.StatusCode == http.StatusOK
}

// pid is the current process's id (0 before the first start).
func (sp *serverProc) pid() int {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if sp.cmd == nil || sp.cmd.Process == nil {
		return 0
	}
	return sp.cmd.Process.Pid
}

func (sp *serverProc) exitErr() error {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return sp.waitErr
}

// signal sends sig to the current process.
func (sp *serverProc) signal(sig os.Signal) error {
	sp.mu.Lock()
	cmd := sp.cmd
	sp.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return errors.New("no server process")
	}
	return cmd.Process.Signal(sig)
}

// waitExit waits up to limit for the current process to end and returns when it did.
func (sp *serverProc) waitExit(limit time.Duration) (time.Time, error) {
	sp.mu.Lock()
	exited := sp.exited
	sp.mu.Unlock()
	if exited == nil {
		return time.Now(), nil
	}
	select {
	case <-exited:
		return time.Now(), nil
	case <-time.After(limit):
		return time.Time{}, fmt.Errorf("the server was still running %s after the signal", limit)
	}
}

// running reports whether the current process has not exited.
func (sp *serverProc) running() bool {
	sp.mu.Lock()
	exited := sp.exited
	sp.mu.Unlock()
	if exited == nil {
		return false
	}
	select {
	case <-exited:
		return false
	default:
		return true
	}
}

// stop ends the current process, if it still runs: SIGTERM (a graceful shutdown), SIGKILL if
// it is not gone within exitTimeout. It then waits until its output has been read. Calling it
// again is harmless.
func (sp *serverProc) stop() {
	if sp.running() {
		_ = sp.signal(syscall.SIGTERM)
		if _, err := sp.waitExit(exitTimeout); err != nil {
			_ = sp.signal(syscall.SIGKILL)
			_, _ = sp.waitExit(exitTimeout)
		}
	}
	sp.drainOutput()
}

// drainOutput waits (briefly) until the current process's output has been read to the end.
func (sp *serverProc) drainOutput() {
	sp.mu.Lock()
	output := sp.output
	sp.mu.Unlock()
	if output == nil {
		return
	}
	select {
	case <-output:
	case <-time.After(5 * time.Second): // a grandchild holding the pipe open
	}
}

// copyOutput passes the server's output on and counts its log lines.
func (sp *serverProc) copyOutput(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		sp.log.add(line)
		sp.outMu.Lock()
		sp.out.Write(append(line, '\n'))
		sp.outMu.Unlock()
	}
}

// serverLog counts the server's log lines: gifchat logs JSON records (log/slog) with a level
// and a message. Warnings and errors are kept by message, as they say where the server
// struggled; lines that are not JSON count as "other".
type serverLog struct {
	mu       sync.Mutex
	levels   tally // level -> lines
	messages tally // "LEVEL message" -> lines, for warnings and errors
	races    int   // "WARNING: DATA RACE" lines (a race-built server)
}

func (l *serverLog) add(line []byte) {
	var rec struct {
		Level string `json:"level"`
		Msg   string `json:"msg"`
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if strings.Contains(string(line), "DATA RACE") {
		l.races++
	}
	if json.Unmarshal(line, &rec) != nil || rec.Level == "" {
		l.levels.add("other")
		return
	}
	l.levels.add(rec.Level)
	if rec.Level == "WARN" || rec.Level == "ERROR" {
		l.messages.add(rec.Level + " " + rec.Msg)
	}
}

// snapshot copies the counts so far.
func (l *serverLog) snapshot() (levels, messages map[string]int, races int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	levels, messages = map[string]int{}, map[string]int{}
	for k, v := range l.levels {
		levels[k] = v
	}
	for k, v := range l.messages {
		messages[k] = v
	}
	return levels, messages, l.races
}
