// Package proctest runs a cluster the way an operator does, for the tests that kill one of
// its processes: gifchat instances as child processes on one fresh PostgreSQL schema and the
// machine's NATS, with cmd/proxy in front. Without PostgreSQL or NATS a test skips, and fails
// under CI=true (dbtest, natstest). The binaries are built with the race detector when the
// test has it, so the build reuses the test's compiled packages and the servers run checked.
package proctest

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, for where-is-who queries

	"gifchat/cluster/natstest"
	"gifchat/db/dbtest"
	"gifchat/logtest"
)

// Options shape a cluster; zero fields take the defaults noted.
type Options struct {
	Instances     int           // 2, named one, two, three…
	Lease         time.Duration // 3s (-cluster-lease): how soon a killed instance's people are reaped
	LeaveDebounce time.Duration // 500ms (-leave-debounce)
	RateLimits    bool          // off, as load tests need; the browser test turns them on
}

// Cluster is the running processes and the database they share.
type Cluster struct {
	URL       string // the proxy, http://127.0.0.1:port: what people use
	Postgres  string // the instances' database, a schema of its own
	Instances []*Proc
	Proxy     *Proc
	Opts      Options
	db        *sql.DB
}

// Proc is one child process and what it printed.
type Proc struct {
	Name   string
	Addr   string // 127.0.0.1:port it listens on
	cmd    *exec.Cmd
	logs   *logtest.Buffer
	exited chan struct{}
}

var names = []string{"one", "two", "three", "four", "five"}

// Start builds gifchat and cmd/proxy, starts the instances, then the proxy in front of them,
// and stops everything when the test ends.
func Start(t *testing.T, o Options) *Cluster {
	t.Helper()
	if o.Instances == 0 {
		o.Instances = 2
	}
	if o.Lease == 0 {
		o.Lease = 3 * time.Second
	}
	if o.LeaveDebounce == 0 {
		o.LeaveDebounce = 500 * time.Millisecond
	}
	c := &Cluster{Postgres: dbtest.PostgresURL(t), Opts: o}
	nats := natstest.URL(t)
	bin := build(t)
	var err error
	if c.db, err = sql.Open("pgx", c.Postgres); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.db.Close() })
	var backends []string
	for i := range o.Instances {
		p := start(t, names[i], filepath.Join(bin, "gifchat"), `"msg":"gifchat listening"`, `"addr":"([^"]+)"`,
			"-addr", "127.0.0.1:0", "-data", t.TempDir(), "-postgres", c.Postgres, "-nats", nats,
			"-instance", names[i], "-trust-proxy", fmt.Sprintf("-rate-limits=%v", o.RateLimits),
			"-cluster-lease", o.Lease.String(), "-leave-debounce", o.LeaveDebounce.String(),
			"-empty-room-grace", "10m", "-shutdown-timeout", "5s")
		c.Instances = append(c.Instances, p)
		backends = append(backends, "http://"+p.Addr)
	}
	c.Proxy = start(t, "proxy", filepath.Join(bin, "proxy"), `msg="proxy listening"`, `addr=(\S+)`,
		"-addr", "127.0.0.1:0", "-backends", strings.Join(backends, ","), "-health-interval", "500ms")
	c.URL = "http://" + c.Proxy.Addr
	return c
}

// build compiles both commands into the test's temporary directory (the go build cache makes
// a second test's build a link only).
func build(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, pkg := range map[string]string{"gifchat": "gifchat", "proxy": "gifchat/cmd/proxy"} {
		args := []string{"build", "-o", filepath.Join(dir, name)}
		if raceEnabled {
			args = append(args, "-race")
		}
		if out, err := exec.Command("go", append(args, pkg)...).CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	return dir
}

// start runs a binary and waits for the log line matching ready, whose address it reads
// with addrRe. A failed test prints every process's log; a data race fails the test.
func start(t *testing.T, name, bin, ready, addrRe string, args ...string) *Proc {
	t.Helper()
	p := &Proc{Name: name, cmd: exec.Command(bin, args...), logs: &logtest.Buffer{}, exited: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), "GORACE=halt_on_error=1")
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := regexp.MustCompile(addrRe)
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(p.logs, line)
			if m := addr.FindStringSubmatch(line); m != nil && strings.Contains(line, ready) {
				select {
				case listening <- m[1]:
				default:
				}
			}
		}
		p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			p.cmd.Process.Kill()
			<-p.exited
		}
		if strings.Contains(p.Logs(), "DATA RACE") {
			t.Errorf("%s: the race detector found a data race", name)
		}
		if t.Failed() {
			t.Logf("%s's log (last 150 lines):\n%s", name, p.tail(150))
		}
	})
	select {
	case p.Addr = <-listening:
	case <-p.exited:
		t.Fatalf("%s exited before listening:\n%s", name, p.Logs())
	case <-time.After(60 * time.Second):
		t.Fatalf("%s did not start:\n%s", name, p.Logs())
	}
	return p
}

// Kill sends SIGKILL, as a crash or an OOM kill would, and waits for the process to be gone.
func (p *Proc) Kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
	case <-time.After(20 * time.Second):
		t.Fatalf("%s still running 20 s after SIGKILL", p.Name)
	}
}

// Logs is everything the process printed so far.
func (p *Proc) Logs() string { return p.logs.String() }

func (p *Proc) tail(n int) string {
	lines := strings.Split(strings.TrimRight(p.Logs(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  " + strings.Join(lines, "\n  ")
}

// Instance is the instance named name.
func (c *Cluster) Instance(name string) *Proc {
	for _, p := range c.Instances {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// InstanceOf names the instances holding the person's sockets in the room (none while they
// have none; a killed instance's until they are reaped), read from the connection rows the
// instances share: the honest answer to "where did the proxy send them".
func (c *Cluster) InstanceOf(t *testing.T, room string, identity int64) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rows, err := c.db.QueryContext(ctx, `SELECT i.name FROM connections AS c JOIN instances AS i ON i.id = c.instance_id
		WHERE c.room_id = $1 AND c.identity_id = $2 ORDER BY c.id`, room, identity)
	if err != nil {
		t.Fatalf("where is %d: %v", identity, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		out = append(out, name)
	}
	return out
}

// DB is the shared database, for a test's own queries.
func (c *Cluster) DB() *sql.DB { return c.db }
