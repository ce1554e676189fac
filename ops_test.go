package main

// The operator's view, through run() as main wires it: the limit flags reach the server, and
// /metrics reports what happened.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"io"
	"mime/multipart"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"gifchat/handlers"

	"gifchat/logtest"
)

// startRun serves run() on a loopback port with args added to a fresh data directory; it
// stops when the test ends.
func startRun(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := &logtest.Buffer{}
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"-addr", "127.0.0.1:0", "-data", t.TempDir()}, args...), noEnv, logs, ready)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("run did not stop")
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs)
		}
	})
	select {
	case addr := <-ready:
		return addr
	case err := <-done:
		t.Fatalf("run: %v\n%s", err, logs)
	case <-time.After(30 * time.Second):
		t.Fatal("run did not start")
	}
	return ""
}

func TestLimitFlagsAndEnvironment(t *testing.T) {
	var help bytes.Buffer
	if err := run(context.Background(), []string{"-h"}, noEnv, &help, nil); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"max-body-bytes", "max-frame-bytes", "max-message-chars", "max-gif-bytes", "max-rooms-per-person",
		"max-sockets-per-person", "rate-limits", "rate-messages", "rate-rooms", "rate-uploads", "rate-connects", "rate-passwords",
		"rate-address-factor", "trust-proxy"} {
		if !strings.Contains(help.String(), "  -"+name+" ") && !strings.Contains(help.String(), "  -"+name+"\n") {
			t.Errorf("-h does not list -%s", name)
		}
	}
	env := map[string]string{
		"GIFCHAT_MAX_BODY_BYTES":         "4096",
		"GIFCHAT_MAX_FRAME_BYTES":        "2048",
		"GIFCHAT_MAX_ROOMS_PER_PERSON":   "2",
		"GIFCHAT_MAX_SOCKETS_PER_PERSON": "3",
		"GIFCHAT_RATE_MESSAGES":          "5/s:20",
		"GIFCHAT_RATE_ADDRESS_FACTOR":    "3",
		"GIFCHAT_TRUST_PROXY":            "true",
	}
	c, err := parseConfig([]string{"-rate-rooms", "1/m:1", "-max-sockets-per-person", "4"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.maxBodyBytes != 4096 || c.maxFrameBytes != 2048 || c.maxRoomsPer != 2 || c.maxSocketsPer != 4 ||
		c.rateAddrFactor != 3 || !c.trustProxy || !c.rateLimits {
		t.Errorf("config from env and flags: %+v", c)
	}
	if got := c.rates[handlers.ActionSay].String(); got != "5/s:20" {
		t.Errorf("messages rate from env: %s", got)
	}
	if got := c.rates[handlers.ActionCreateRoom].String(); got != "1/m:1" {
		t.Errorf("rooms rate from the flag: %s", got)
	}
	if got := c.rates[handlers.ActionUpload]; got != handlers.DefaultRates[handlers.ActionUpload] {
		t.Errorf("uploads rate default: %s", got)
	}
	c, err = parseConfig([]string{"-rate-limits=false"}, noEnv, io.Discard)
	if err != nil || c.rateLimits {
		t.Errorf("-rate-limits=false: %v %v", c.rateLimits, err)
	}
	for _, bad := range [][]string{{"-rate-messages", "fast"}, {"-rate-uploads", "1/s"}, {"-max-body-bytes", "10"},
		{"-max-frame-bytes", "0"}, {"-max-sockets-per-person", "0"}, {"-max-rooms-per-person", "0"}, {"-rate-address-factor", "0.5"}} {
		if _, err := parseConfig(bad, noEnv, io.Discard); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	if _, err := parseConfig(nil, func(k string) string {
		if k == "GIFCHAT_RATE_CONNECTS" {
			return "lots"
		}
		return ""
	}, io.Discard); err == nil || !strings.Contains(err.Error(), "GIFCHAT_RATE_CONNECTS") {
		t.Errorf("a bad rate in the environment: %v", err)
	}
}

// TestAbuseLimitFlags: the room cap, the GIF quotas and the idle-identity TTL are flags with
// an environment fallback and the documented defaults; values that cannot work are refused.
func TestAbuseLimitFlags(t *testing.T) {
	c, err := parseConfig(nil, noEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.maxRoomsAll != 1000 || c.maxGIFStore != 1<<30 || c.maxGIFPerRoom != 50<<20 || c.identityTTL != 720*time.Hour {
		t.Errorf("defaults: max-rooms %d, max-gif-store-bytes %d, max-gif-bytes-per-room %d, identity-ttl %v",
			c.maxRoomsAll, c.maxGIFStore, c.maxGIFPerRoom, c.identityTTL)
	}
	env := map[string]string{
		"GIFCHAT_MAX_ROOMS":              "50",
		"GIFCHAT_MAX_GIF_STORE_BYTES":    "104857600",
		"GIFCHAT_MAX_GIF_BYTES_PER_ROOM": "10485760",
		"GIFCHAT_IDENTITY_TTL":           "48h",
	}
	c, err = parseConfig([]string{"-max-rooms", "70"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.maxRoomsAll != 70 || c.maxGIFStore != 100<<20 || c.maxGIFPerRoom != 10<<20 || c.identityTTL != 48*time.Hour {
		t.Errorf("from env and flags: %+v", c)
	}
	for _, bad := range [][]string{{"-max-rooms", "0"}, {"-identity-ttl", "1h"}, {"-max-gif-bytes-per-room", "1024"},
		{"-max-gif-store-bytes", "1048576"}} {
		if _, err := parseConfig(bad, noEnv, io.Discard); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

// scrape returns /metrics as "name{labels}" -> value.
func scrape(t *testing.T, base string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %s", resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		out[line[:i]] = v
	}
	return out
}

// waitMetrics scrapes until every wanted series has its value (hooks run on the hubs'
// goroutines, a moment after the request that caused them).
func waitMetrics(t *testing.T, base string, want map[string]float64) map[string]float64 {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		got := scrape(t, base)
		var wrong []string
		for k, v := range want {
			if got[k] != v {
				wrong = append(wrong, fmt.Sprintf("%s = %v, want %v", k, got[k], v))
			}
		}
		if len(wrong) == 0 {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics after 15 s:\n%s", strings.Join(wrong, "\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *person) postGIF(t *testing.T, room string, data []byte) int {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("gif", "wave.gif")
	fw.Write(data)
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, p.base+"/rooms/"+room+"/gifs", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Origin", p.base)
	req.Header.Set("X-Requested-With", "XMLHttpRequest")
	resp, err := p.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (p *person) dial(t *testing.T, room string) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	conn, _, err := d.Dial(strings.Replace(p.base, "http", "ws", 1)+"/rooms/"+room+"/ws?after=0", http.Header{"Origin": {p.base}, "Cookie": {p.cookie()}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	go func() { // keep reading, as a browser does
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				return
			}
		}
	}()
	return conn
}

func sayFrame(text string, to int64) []byte {
	f := `{"action":"say","text":"` + text + `"`
	if to != 0 {
		f += `,"to":"` + strconv.FormatInt(to, 10) + `"`
	}
	return []byte(f + `,"headers":{}}`)
}

var memberIDPattern = regexp.MustCompile(`data-author="(\d+)"`)

// After known activity, /metrics shows exactly that activity: sockets, lobby streams, rooms,
// messages by kind, refusals by reason, rate-limit hits, GIF bytes, requests by route.
func TestMetricsReportActivity(t *testing.T) {
	addr := startRun(t, "-rate-messages", "1/h:4", "-leave-debounce", "100ms")
	base := "http://" + addr
	alice, bob, carol := newVisitor(t, addr), newVisitor(t, addr), newVisitor(t, addr)

	// carol watches the lobby.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/rooms/events", nil)
	stream, err := carol.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Body.Close()
	go io.Copy(io.Discard, stream.Body)

	room := alice.createRoom(t, "Metered", 2)
	a := alice.dial(t, room)
	b := bob.dial(t, room)
	waitMetrics(t, base, map[string]float64{`gifchat_sockets_open`: 2, `gifchat_messages_total{kind="system"}`: 2})
	// Four messages are alice's burst; the fifth is rate limited.
	for i := range 5 {
		a.WriteMessage(websocket.TextMessage, sayFrame(fmt.Sprint("hello ", i), 0))
	}
	// bob whispers to alice.
	aliceID := waitForAuthor(t, alice, room)
	b.WriteMessage(websocket.TextMessage, sayFrame("psst", aliceID))
	// carol finds the room full.
	carol.dial(t, room)
	// A GIF.
	img := image.NewPaletted(image.Rect(0, 0, 3, 2), color.Palette{color.Black, color.White})
	var gifData bytes.Buffer
	gif.Encode(&gifData, img, nil)
	if code := alice.postGIF(t, room, gifData.Bytes()); code != http.StatusNoContent {
		t.Fatalf("GIF upload: %d", code)
	}

	got := waitMetrics(t, base, map[string]float64{
		`gifchat_sockets_open`:                                                  2,
		`gifchat_lobby_subscribers`:                                             1,
		`gifchat_rooms_live`:                                                    1,
		`gifchat_messages_total{kind="text"}`:                                   4,
		`gifchat_messages_total{kind="whisper"}`:                                1,
		`gifchat_messages_total{kind="gif"}`:                                    1,
		`gifchat_messages_total{kind="system"}`:                                 2,
		`gifchat_socket_refusals_total{reason="full"}`:                          1,
		`gifchat_rate_limited_total{action="say",scope="session"}`:              1,
		`gifchat_gifs_posted_total`:                                             1,
		`gifchat_gif_upload_bytes_total`:                                        float64(gifData.Len()),
		`gifchat_http_requests_total{code="303",route="POST /rooms"}`:           1,
		`gifchat_http_requests_total{code="204",route="POST /rooms/{id}/gifs"}`: 1,
		`gifchat_http_requests_total{code="101",route="GET /rooms/{id}/ws"}`:    3,
		`gifchat_http_requests_total{code="200",route="GET /rooms/events"}`:     1,
		`gifchat_slow_client_drops_total`:                                       0,
		`gifchat_message_store_failures_total`:                                  0,
	})
	if got[`gifchat_fragment_renders_total`] < 8 {
		t.Errorf("renders = %v", got[`gifchat_fragment_renders_total`])
	}
	// The six messages above were group-committed and timed: a room's hand-over to the writer
	// (one or several messages) is one wait, and a commit serves at least one of them.
	if n := got[`gifchat_store_commit_messages_sum`]; n < 6 {
		t.Errorf("messages committed = %v, want at least the 6 sent", n)
	}
	if w, c := got[`gifchat_store_wait_seconds_count`], got[`gifchat_store_commit_seconds_count`]; c < 1 || c > w {
		t.Errorf("store waits = %v, commits = %v: want at least one commit, and no more commits than waits", w, c)
	}
	if got[`gifchat_store_commit_seconds_sum`] <= 0 || got[`gifchat_store_commit_seconds_bucket{le="+Inf"}`] != got[`gifchat_store_commit_seconds_count`] {
		t.Errorf("commit durations not recorded: sum %v, +Inf bucket %v, count %v", got[`gifchat_store_commit_seconds_sum`],
			got[`gifchat_store_commit_seconds_bucket{le="+Inf"}`], got[`gifchat_store_commit_seconds_count`])
	}
	// bob leaves: a socket fewer, and a "left" notice after the debounce.
	b.Close()
	waitMetrics(t, base, map[string]float64{`gifchat_sockets_open`: 1, `gifchat_messages_total{kind="system"}`: 3})
}

// waitForAuthor returns the person's identity id, read from their own message in the room page.
func waitForAuthor(t *testing.T, p *person, room string) int64 {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		_, page := p.get(t, "/rooms/"+room)
		if i := strings.Index(page, "hello 0"); i > 0 {
			ms := memberIDPattern.FindAllStringSubmatch(page[:i], -1)
			if len(ms) > 0 {
				id, _ := strconv.ParseInt(ms[len(ms)-1][1], 10, 64)
				return id
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("own message never appeared on the room page")
	return 0
}
