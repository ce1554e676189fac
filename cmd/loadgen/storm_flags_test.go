package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// Storm mode's flags: -server is required and split on white space; the chat before the
// restart is short, and sockets retry without limit, unless told otherwise; the server
// flags belong to storm mode alone.
func TestStormFlags(t *testing.T) {
	o, err := parseFlags([]string{"-mode", "storm", "-server", "  taskset -c 0\tbin/gifchat -addr 127.0.0.1:8099 ", "-addr", "127.0.0.1:8099"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(o.server, "|"); got != "taskset|-c|0|bin/gifchat|-addr|127.0.0.1:8099" {
		t.Errorf("server argv %q", got)
	}
	c := o.storm.Chat
	if o.serverAddr != "127.0.0.1:8099" || o.storm.Restart != "term" || c.Duration != 3*time.Second || c.Rate != 2 ||
		c.Reconnects != -1 || c.Backoff != htmxBackoff || o.storm.NoticeWait != 5*time.Second {
		t.Errorf("defaults: server-addr %s restart %s duration %v rate %v reconnects %d backoff %s notice-wait %v",
			o.serverAddr, o.storm.Restart, c.Duration, c.Rate, c.Reconnects, c.Backoff.name, o.storm.NoticeWait)
	}
	o, err = parseFlags([]string{"-mode", "storm", "-server", "x", "-duration", "10s", "-rate", "0", "-reconnects", "3",
		"-backoff", "fast", "-restart", "kill", "-server-addr", "127.0.0.1:8012"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c := o.storm.Chat; c.Duration != 10*time.Second || c.Rate != 0 || c.Reconnects != 3 || c.Backoff != fastBackoff ||
		o.storm.Restart != "kill" || o.serverAddr != "127.0.0.1:8012" {
		t.Errorf("given flags not kept: %+v, restart %s, server-addr %s", c, o.storm.Restart, o.serverAddr)
	}
	// Chat mode keeps its own defaults, with htmx's back-off.
	o, err = parseFlags(nil, &bytes.Buffer{})
	if err != nil || o.chat.Duration != 10*time.Second || o.chat.Reconnects != 10 || o.chat.Backoff != htmxBackoff || o.idle.Backoff != htmxBackoff {
		t.Errorf("chat defaults: %v, %+v", err, o.chat)
	}
	for _, args := range [][]string{
		{"-mode", "storm"},
		{"-mode", "storm", "-server", " "},
		{"-mode", "storm", "-server", "x", "-restart", "stop"},
		{"-mode", "storm", "-server", "x", "-pid", "auto"},
		{"-mode", "storm", "-server", "x", "-baseline"},
		{"-mode", "storm", "-server", "x", "-typers", "2"},
		{"-mode", "storm", "-server", "x", "-storm-timeout", "0s"},
		{"-server", "x"},
		{"-server-log", "x.log"},
		{"-backoff", "linear"},
		{"-reconnects", "-2"},
	} {
		if _, err := parseFlags(args, &bytes.Buffer{}); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
}
