package main

// The fault tests' harness: the real binary started on a data directory, visitors with
// their own sessions, senders that post flat out and remember what was acknowledged, and a
// reading of what the database kept. The binary is built once per test run (with the race
// detector when the tests have it, so the build reuses the test's compiled packages and the
// server runs checked too).

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	_ "github.com/mattn/go-sqlite3"

	"gifchat/db"
	"gifchat/db/dbtest"
	"gifchat/logtest"
)

// serverBinary builds gifchat into a temporary directory (once per test process).
func serverBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gifchat-bin-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "gifchat")
		args := []string{"build", "-o", builtBin}
		if raceEnabled {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, ".")...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if builtBin != "" {
		os.RemoveAll(filepath.Dir(builtBin))
	}
	os.Exit(code)
}

// serverProc is one running gifchat process.
type serverProc struct {
	cmd    *exec.Cmd
	addr   string // 127.0.0.1:port
	logs   *logtest.Buffer
	exited chan struct{}
	err    error // the process's exit, once exited is closed
}

// startServer runs the binary on a free loopback port with dir as -data and waits until it
// listens. Rate limits are off: these tests drive it hard on purpose.
func startServer(t *testing.T, dir string, extra ...string) *serverProc {
	t.Helper()
	args := append([]string{"-addr", "127.0.0.1:0", "-data", dir, "-rate-limits=false", "-empty-room-grace", "10m",
		"-shutdown-timeout", "10s"}, extra...)
	if dbtest.OnPostgres() {
		args = append(args, "-postgres", dbtest.PostgresURLFor(t, dir)) // a restart on dir: the same database
	}
	p := &serverProc{cmd: exec.Command(serverBinary(t), args...), logs: &logtest.Buffer{}, exited: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), "GORACE=halt_on_error=1")
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.logs.Write([]byte(line + "\n"))
			var rec struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "gifchat listening" {
				listening <- rec.Addr
			}
		}
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("server log:\n%s", p.logs)
		}
	})
	select {
	case p.addr = <-listening:
	case <-p.exited:
		t.Fatalf("server exited before listening: %v\n%s", p.err, p.logs)
	case <-time.After(60 * time.Second):
		t.Fatalf("server did not start\n%s", p.logs)
	}
	return p
}

// wait waits for the process to exit and returns its error (nil for exit code 0).
func (p *serverProc) wait(t *testing.T, within time.Duration) error {
	t.Helper()
	select {
	case <-p.exited:
		return p.err
	case <-time.After(within):
		t.Fatalf("server still running after %v\n%s", within, p.logs)
		return nil
	}
}

// person is a browser-like client of a serverProc: a cookie jar with a session.
type person struct {
	base   string
	client *http.Client
}

func newVisitor(t *testing.T, addr string) *person {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	p := &person{base: "http://" + addr, client: &http.Client{Jar: jar, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	resp, err := p.client.Get(p.base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if p.cookie() == "" {
		t.Fatal("no session cookie")
	}
	return p
}

func (p *person) cookie() string {
	u, _ := url.Parse(p.base)
	for _, c := range p.client.Jar.Cookies(u) {
		if c.Name == "gifchat_session" {
			return c.String()
		}
	}
	return ""
}

// moveTo points the person (same session) at another server address, after a restart.
func (p *person) moveTo(addr string) {
	old, _ := url.Parse(p.base)
	p.base = "http://" + addr
	u, _ := url.Parse(p.base)
	p.client.Jar.SetCookies(u, p.client.Jar.Cookies(old))
}

func (p *person) createRoom(t *testing.T, title string, capacity int) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, p.base+"/rooms", strings.NewReader(url.Values{"title": {title}, "capacity": {fmt.Sprint(capacity)}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", p.base)
	resp, err := p.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	id, ok := strings.CutPrefix(resp.Header.Get("Location"), "/rooms/")
	if resp.StatusCode != http.StatusSeeOther || !ok {
		t.Fatalf("create room: %s %q", resp.Status, resp.Header.Get("Location"))
	}
	return id
}

func (p *person) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := p.client.Get(p.base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var msgTextPattern = regexp.MustCompile(`<p class="msg-text"[^>]*>([^<]*)</p>`)

// sender sends numbered messages over a room socket and records each that came back to it:
// the server sends a message's fragment to its sender only after storing it.
type sender struct {
	name string
	conn *websocket.Conn

	mu         sync.Mutex
	echoed     map[string]bool
	closeCode  int
	readerDone chan struct{}
	sent       int
}

func (p *person) startSender(t *testing.T, room, name string) *sender {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	u := strings.Replace(p.base, "http", "ws", 1) + "/rooms/" + room + "/ws?after=0"
	conn, _, err := d.Dial(u, http.Header{"Origin": {p.base}, "Cookie": {p.cookie()}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	s := &sender{name: name, conn: conn, echoed: map[string]bool{}, readerDone: make(chan struct{})}
	window := make(chan struct{}, 32) // at most 32 unacknowledged: load, not an unbounded queue
	go func() {
		defer close(s.readerDone)
		for {
			_, data, err := conn.ReadMessage()
			if err != nil {
				var ce *websocket.CloseError
				s.mu.Lock()
				if errors.As(err, &ce) {
					s.closeCode = ce.Code
				}
				s.mu.Unlock()
				return
			}
			for _, m := range msgTextPattern.FindAllStringSubmatch(string(data), -1) {
				if strings.HasPrefix(m[1], name+"-") {
					s.mu.Lock()
					s.echoed[m[1]] = true
					s.mu.Unlock()
					select {
					case <-window:
					default:
					}
				}
			}
		}
	}()
	go func() {
		for i := 0; ; i++ {
			select {
			case window <- struct{}{}:
			case <-s.readerDone:
				return
			}
			frame, _ := json.Marshal(map[string]any{"action": "say", "text": fmt.Sprintf("%s-%06d", name, i), "headers": map[string]string{"HX-Request": "true"}})
			conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if conn.WriteMessage(websocket.TextMessage, frame) != nil {
				return
			}
			s.mu.Lock()
			s.sent++
			s.mu.Unlock()
		}
	}()
	return s
}

func (s *sender) acknowledged() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.echoed))
	for k := range s.echoed {
		out = append(out, k)
	}
	return out
}

// waitForLoad waits until the senders together have had at least n messages acknowledged.
func waitForLoad(t *testing.T, senders []*sender, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		total := 0
		for _, s := range senders {
			total += len(s.acknowledged())
		}
		if total >= n {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("fewer than %d messages acknowledged in 30 s", n)
}

// storedTexts opens the database (the server has exited) and returns every message body of
// the room with how often it is stored, after an integrity check of the whole file on SQLite.
func storedTexts(t *testing.T, dir, room string) map[string]int {
	t.Helper()
	if dbtest.OnPostgres() {
		store, err := db.OpenPostgres(context.Background(), dbtest.PostgresURLFor(t, dir), db.PostgresOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		return roomTexts(t, store, room)
	}
	path := filepath.Join(dir, "gifchat.db")
	raw, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	var check string
	if err := raw.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check: %q %v", check, err)
	}
	raw.Close()
	store, err := db.Open(context.Background(), path, db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	return roomTexts(t, store, room)
}

// roomTexts is every message body of the room with how often it is stored.
func roomTexts(t *testing.T, store *db.Store, room string) map[string]int {
	t.Helper()
	msgs, err := store.LatestMessages(context.Background(), room, 0, 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, m := range msgs {
		out[m.Body]++
	}
	return out
}

// checkNothingLost fails for every acknowledged message that is not stored exactly once.
func checkNothingLost(t *testing.T, senders []*sender, stored map[string]int) int {
	t.Helper()
	acked := 0
	for _, s := range senders {
		for _, text := range s.acknowledged() {
			acked++
			if n := stored[text]; n != 1 {
				t.Errorf("%s was acknowledged to its sender but is stored %d times", text, n)
			}
		}
	}
	return acked
}
