package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gifchat/logtest"
)

func noEnv(string) string { return "" }

// TestRunServesAndShutsDown starts the real binary's run on a loopback port, uses it, then
// cancels its context (as SIGINT does) and expects a clean, prompt return.
func TestRunServesAndShutsDown(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &logtest.Buffer{}
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-data", dir, "-shutdown-timeout", "5s"}, noEnv, logs, ready)
	}()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("run returned before serving: %v\n%s", err, logs)
	case <-time.After(30 * time.Second):
		t.Fatalf("run did not start\n%s", logs)
	}
	base := "http://" + addr
	client := &http.Client{Timeout: 10 * time.Second}

	resp, err := client.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "ok\n" {
		t.Fatalf("/healthz: %s %q", resp.Status, body)
	}
	resp, err = client.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "<h1 id=\"lobby-title\">GIF chat</h1>") {
		t.Fatalf("lobby: %s", resp.Status)
	}
	if _, err := os.Stat(filepath.Join(dir, "gifchat.db")); err != nil {
		t.Errorf("no database in the -data directory: %v", err)
	}

	// An open lobby stream must not hold the shutdown up.
	req, _ := http.NewRequest(http.MethodGet, base+"/rooms/events", nil)
	stream, err := (&http.Client{}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Body.Close()
	streamEnded := make(chan struct{})
	go func() {
		io.Copy(io.Discard, bufio.NewReader(stream.Body))
		close(streamEnded)
	}()

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run after cancel: %v\n%s", err, logs)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("run did not return after its context was cancelled\n%s", logs)
	}
	select {
	case <-streamEnded:
	case <-time.After(5 * time.Second):
		t.Error("the lobby stream is still open after run returned")
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Error("still accepting connections after run returned")
	}
	log := logs.String()
	for _, want := range []string{`"msg":"gifchat listening"`, `"msg":"shutting down"`} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %s:\n%s", want, log)
		}
	}
	if strings.Contains(log, `"level":"ERROR"`) || strings.Contains(log, "http shutdown") {
		t.Errorf("shutdown was not clean:\n%s", log)
	}
}

// requiredFlags are the settings the operations contract names; -h may show more.
var requiredFlags = []string{"nats", "instance", "addr", "data", "empty-room-grace", "leave-debounce", "max-gif-bytes",
	"max-message-chars", "max-capacity", "log-level", "sqlite-synchronous", "dev", "shutdown-timeout"}

// TestHelpListsEveryFlag: -h returns nil (not an error exit) and documents every flag with
// the environment variable it falls back to (GIFCHAT_ and the flag's name in capitals).
func TestHelpListsEveryFlag(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-h"}, noEnv, &out, nil); err != nil {
		t.Fatalf("-h: %v", err)
	}
	help := map[string]string{} // flag -> its usage text
	var current string
	for _, line := range strings.Split(out.String(), "\n") {
		if f, ok := strings.CutPrefix(line, "  -"); ok {
			current, _, _ = strings.Cut(f, " ")
			help[current] = ""
		} else if current != "" {
			help[current] += strings.TrimSpace(line) + " "
		}
	}
	for _, name := range requiredFlags {
		if _, ok := help[name]; !ok {
			t.Errorf("-h does not show -%s", name)
		}
	}
	for name, usage := range help {
		env := "GIFCHAT_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
		if !strings.Contains(usage, env) {
			t.Errorf("-%s: usage %q does not name its environment variable %s", name, usage, env)
		}
	}
	if len(help) < len(requiredFlags) {
		t.Errorf("-h output not understood:\n%s", out.String())
	}
}

func TestConfigFromEnvironmentAndFlags(t *testing.T) {
	env := map[string]string{
		"GIFCHAT_ADDR":             "127.0.0.1:9999",
		"GIFCHAT_DATA":             "/tmp/from-env",
		"GIFCHAT_EMPTY_ROOM_GRACE": "5s",
		"GIFCHAT_MAX_CAPACITY":     "500",
		"GIFCHAT_LOG_LEVEL":        "debug",
		"GIFCHAT_DEV":              "true",
	}
	getenv := func(k string) string { return env[k] }
	c, err := parseConfig([]string{"-data", "/tmp/from-flag"}, getenv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.addr != "127.0.0.1:9999" || c.dataDir != "/tmp/from-flag" || c.emptyRoomGrace != 5*time.Second ||
		c.maxCapacity != 500 || c.logLevel.String() != "DEBUG" || !c.dev {
		t.Errorf("config = %+v; want env values, with -data from the flag", c)
	}
	c, err = parseConfig(nil, noEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.addr != ":8005" || c.dataDir != "./data" || c.maxGIFBytes != 5<<20 || c.sqliteSync != "FULL" {
		t.Errorf("defaults = %+v", c)
	}

	for _, args := range [][]string{{"-log-level", "loud"}, {"-max-gif-bytes", "10"}, {"-nope"}, {"-addr"}} {
		var out bytes.Buffer
		err := run(context.Background(), args, noEnv, &out, nil)
		if err == nil || errors.Is(err, flag.ErrHelp) {
			t.Errorf("run %v: err = %v, want a refusal", args, err)
		}
	}
}

// A -postgres that cannot be used stops the start with one line naming the cause, and never
// shows the URL's password.
func TestPostgresThatCannotBeUsed(t *testing.T) {
	for _, tc := range []struct {
		name, url string
		want      []string
	}{
		{"unreadable URL", "postgres://gifchat:hunter2@[::1/x", []string{"PostgreSQL URL cannot be read"}},
		{"nobody listening", "postgres://gifchat:hunter2@127.0.0.1:1/chat?connect_timeout=5", []string{"127.0.0.1:1", `database "chat"`, "does not answer", "refused"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out logtest.Buffer
			err := run(context.Background(), []string{"-addr", "127.0.0.1:0", "-data", t.TempDir(), "-postgres", tc.url}, noEnv, &out, nil)
			if err == nil {
				t.Fatal("started without its database")
			}
			msg := err.Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not say %q", msg, w)
				}
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error is more than one line: %q", msg)
			}
			if strings.Contains(msg+out.String(), "hunter2") {
				t.Errorf("the password was shown: %q\n%s", msg, out.String())
			}
		})
	}
	// The environment works as the flag does.
	c, err := parseConfig(nil, func(k string) string {
		if k == "GIFCHAT_POSTGRES" {
			return "postgres:///test?host=/var/run/postgresql"
		}
		return ""
	}, io.Discard)
	if err != nil || c.postgres != "postgres:///test?host=/var/run/postgresql" {
		t.Errorf("GIFCHAT_POSTGRES gave %q, %v", c.postgres, err)
	}
}

// -nats without -postgres is refused at start with one clear line: a SQLite file cannot be
// shared by instances.
func TestNATSNeedsPostgres(t *testing.T) {
	var out logtest.Buffer
	err := run(context.Background(), []string{"-addr", "127.0.0.1:0", "-data", t.TempDir(), "-nats", "nats://127.0.0.1:4222"}, noEnv, &out, nil)
	if err == nil || !strings.Contains(err.Error(), "-nats needs -postgres") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("started a cluster instance on SQLite, or said so unclearly: %v", err)
	}
	c, err := parseConfig(nil, func(k string) string {
		return map[string]string{"GIFCHAT_NATS": "nats://n:4222", "GIFCHAT_POSTGRES": "postgres:///x", "GIFCHAT_INSTANCE": "one"}[k]
	}, io.Discard)
	if err != nil || c.nats != "nats://n:4222" || c.instance != "one" {
		t.Errorf("GIFCHAT_NATS and GIFCHAT_INSTANCE gave %q, %q, %v", c.nats, c.instance, err)
	}
}

// The collector's floor: 32 MiB unless the flag or the environment says otherwise, off at 0,
// and off whenever the operator tuned the collector with Go's own variables.
func TestGCHeapFloorFlag(t *testing.T) {
	c, err := parseConfig(nil, noEnv, io.Discard)
	if err != nil || c.gcHeapFloor != 32<<20 || heapFloor(c, noEnv) != 32<<20 {
		t.Fatalf("default floor %d (%v), want 32 MiB", c.gcHeapFloor, err)
	}
	env := map[string]string{"GIFCHAT_GC_HEAP_FLOOR": "1048576"}
	if c, _ := parseConfig(nil, func(k string) string { return env[k] }, io.Discard); c.gcHeapFloor != 1<<20 {
		t.Errorf("floor from the environment: %d", c.gcHeapFloor)
	}
	if c, _ := parseConfig([]string{"-gc-heap-floor", "0"}, noEnv, io.Discard); heapFloor(c, noEnv) != 0 {
		t.Errorf("-gc-heap-floor 0 kept a floor of %d", heapFloor(c, noEnv))
	}
	if _, err := parseConfig([]string{"-gc-heap-floor", "-1"}, noEnv, io.Discard); err == nil {
		t.Error("a negative floor was accepted")
	}
	for _, v := range []string{"GOGC", "GOMEMLIMIT"} {
		if f := heapFloor(c, func(k string) string {
			if k == v {
				return "200"
			}
			return ""
		}); f != 0 {
			t.Errorf("with %s set the floor is still %d", v, f)
		}
	}
}
