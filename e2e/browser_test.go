package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"gifchat/handlers"
	"gifchat/i18n"
)

// stepTimeout bounds every wait: generous for a loaded 2-core CI machine, short enough that
// a broken feature fails in seconds rather than hanging the suite. GIFCHAT_E2E_STEP_TIMEOUT
// (a Go duration) raises it on a machine known to be slower.
var stepTimeout = func() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("GIFCHAT_E2E_STEP_TIMEOUT")); err == nil && d > 0 {
		return d
	}
	return 10 * time.Second
}()

// artifactsDir holds screenshots for people to look at; it is git-ignored.
const artifactsDir = "artifacts"

// chromiumPath finds Debian's chromium. Missing: a skip on a laptop, a failure in CI.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("CHROMIUM"), "/usr/bin/chromium"} {
		if p == "" {
			continue
		}
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium not found at /usr/bin/chromium (CI=true: .ci/run must install it)")
	}
	t.Skip("chromium not installed (apt-get install chromium); skipping the browser suite")
	return ""
}

// person is one visitor: their own chromium with a fresh profile (so their own session
// cookie) and one tab. Every console error, uncaught exception and JavaScript dialog in
// that tab is recorded and fails the test.
type person struct {
	name string
	srv  *testServer
	ctx  context.Context // the tab
	// lang is the language the person's pages are in: the one their browser asks for,
	// until they choose another with the switch. Their helpers find controls by its words.
	lang i18n.Lang

	mu       sync.Mutex
	problems []string
	// netCut is set while this person's network is cut on purpose: failed requests and
	// sockets are expected then and are not problems.
	netCut   atomic.Bool
	net      netCutter // how this person's browser cuts its network
	timeline []string
	// allowed are console errors a step expects (e.g. the browser noting a 401 page).
	allowed []*regexp.Regexp
}

// newPeople starts one browser per name, in parallel (each takes a second or so to start);
// they are closed when the test ends. Their browsers ask for English, chromium's default.
func newPeople(t *testing.T, srv *testServer, names ...string) []*person {
	t.Helper()
	visitors := make([]visitor, len(names))
	for i, name := range names {
		visitors[i] = visitor{name: name}
	}
	return newVisitors(t, srv, visitors...)
}

// visitor is who a person is and which language their browser asks for.
type visitor struct {
	name string
	// acceptLang is what the browser sends as Accept-Language ("ko-KR,ko"); empty is
	// chromium's own "en-US,en".
	acceptLang string
}

// korean is the Accept-Language of a browser set up for Korean.
const korean = "ko-KR,ko"

// newVisitors is newPeople with each person's browser language given.
func newVisitors(t *testing.T, srv *testServer, visitors ...visitor) []*person {
	t.Helper()
	path := chromiumPath(t)
	people := make([]*person, len(visitors))
	errs := make([]error, len(visitors))
	var wg sync.WaitGroup
	for i, v := range visitors {
		wg.Go(func() {
			p, stop, err := startPerson(path, t.TempDir(), srv, v)
			people[i], errs[i] = p, err
			if err == nil {
				t.Cleanup(func() {
					if t.Failed() {
						p.report(t)
					}
					stop()
				})
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	return people
}

// startPerson starts a chromium with a fresh profile in profileDir and opens one tab.
func startPerson(path, profileDir string, srv *testServer, v visitor) (*person, func(), error) {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(profileDir),
		chromedp.WindowSize(1280, 860),
	)
	lang := i18n.En
	if v.acceptLang != "" {
		// --accept-lang is what headless chromium sends on every request (WebSocket
		// handshakes too) and shows as navigator.languages; --lang is its own UI.
		first, _, _ := strings.Cut(v.acceptLang, ",")
		opts = append(opts, chromedp.Flag("accept-lang", v.acceptLang), chromedp.Flag("lang", first))
		lang = i18n.Negotiate(v.acceptLang)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	p := &person{name: v.name, srv: srv, lang: lang}
	ctx, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithListener(p.onEvent))
	p.ctx = ctx
	stop := func() {
		cancelTab()
		cancelAlloc()
	}
	// The first run starts the browser and ties its life to ctx, so it gets no timeout.
	if err := chromedp.Do(ctx); err != nil {
		stop()
		return nil, nil, fmt.Errorf("start chromium for %s: %w", v.name, err)
	}
	return p, stop, nil
}

// onEvent runs in the tab's event loop, in order: record, never block, never call back in.
func (p *person) onEvent(ev any) {
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type != runtime.ConsoleAPICalledTypeError && ev.Type != runtime.ConsoleAPICalledTypeAssert {
			return
		}
		text := argsText(ev.Args)
		// htmx reports each failed socket attempt; expected while the network is cut.
		if p.netCut.Load() && (isNetworkFailure(text) || strings.Contains(text, "htmx:ws:error")) {
			return
		}
		p.problem("console.%s: %s", ev.Type, text)
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		text := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			text += " " + d.Exception.Description
		}
		p.problem("uncaught exception at %s:%d: %s", d.URL, d.LineNumber+1, text)
	case *cdplog.EventEntryAdded:
		e := ev.Entry
		if e.Level != cdplog.EntryLevelError {
			return
		}
		text := e.Text
		if e.URL != "" {
			text += " (" + e.URL + ")"
		}
		if p.netCut.Load() && isNetworkFailure(text) {
			return
		}
		if p.isAllowed(text) {
			return
		}
		p.problem("console error [%s]: %s", e.Source, text)
	case *network.EventWebSocketCreated:
		p.note("websocket %s created", ev.URL)
	case *network.EventWebSocketHandshakeResponseReceived:
		p.note("websocket handshake answered %d", ev.Response.Status)
	case *network.EventWebSocketClosed:
		p.note("websocket closed")
	case *network.EventWebSocketFrameError:
		p.note("websocket frame error: %s", ev.ErrorMessage)
	case *network.EventLoadingFailed:
		p.note("request failed (%s): %s canceled=%v", ev.Type, ev.ErrorText, ev.Canceled)
	case *page.EventFrameNavigated:
		if ev.Frame.ParentID == "" {
			p.note("navigated to %s", ev.Frame.URL)
		}
	case *page.EventJavascriptDialogOpening:
		p.problem("a JavaScript %s dialog opened: %q", ev.Type, ev.Message)
		// The dialog blocks the page; dismiss it from outside the event loop.
		go chromedp.Call(p.ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
	}
}

func argsText(args []*runtime.RemoteObject) string {
	parts := make([]string, 0, len(args))
	for _, a := range args {
		var s string
		if len(a.Value) > 0 && json.Unmarshal(a.Value, &s) == nil {
			parts = append(parts, s)
		} else if len(a.Value) > 0 {
			parts = append(parts, string(a.Value))
		} else {
			parts = append(parts, a.Description)
		}
	}
	return strings.Join(parts, " ")
}

var networkFailure = regexp.MustCompile(`(?i)ERR_INTERNET_DISCONNECTED|ERR_CONNECTION|ERR_NETWORK|WebSocket connection to .* failed|ERR_EMPTY_RESPONSE|Failed to fetch`)

func isNetworkFailure(text string) bool { return networkFailure.MatchString(text) }

// note keeps a timeline of the person's page and sockets, printed if the test fails.
func (p *person) note(format string, args ...any) {
	p.mu.Lock()
	p.timeline = append(p.timeline, time.Now().Format("15:04:05.000")+" "+fmt.Sprintf(format, args...))
	if len(p.timeline) > 200 {
		p.timeline = p.timeline[len(p.timeline)-200:]
	}
	p.mu.Unlock()
}

func (p *person) problem(format string, args ...any) {
	p.mu.Lock()
	p.problems = append(p.problems, fmt.Sprintf(format, args...))
	p.mu.Unlock()
}

func (p *person) isAllowed(text string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, re := range p.allowed {
		if re.MatchString(text) {
			return true
		}
	}
	return false
}

// allow accepts console errors matching pattern from now on (a page the test expects
// to come with an error status, for instance).
func (p *person) allow(pattern string) {
	p.mu.Lock()
	p.allowed = append(p.allowed, regexp.MustCompile(pattern))
	p.mu.Unlock()
}

// checkConsole fails the test with every console error, exception or dialog seen so far.
// Events that arrived before a command's reply are handled before the command returns, so
// a round trip first makes "so far" mean "up to now".
func (p *person) checkConsole(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](`0`))
	p.mu.Lock()
	problems := p.problems
	p.problems = nil
	p.mu.Unlock()
	for _, pr := range problems {
		t.Errorf("%s's browser: %s", p.name, pr)
	}
}

// do runs actions with a bounded wait; on failure it saves what the person saw.
func (p *person) do(t *testing.T, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.fail(t, what, err)
	}
}

// waitFor polls a JavaScript predicate until it is truthy; on timeout the failure shows
// what the page showed instead. A navigation in the middle (a form post) restarts the poll
// on the new page.
func (p *person) waitFor(t *testing.T, what, predicate string) {
	t.Helper()
	p.waitForWithin(t, stepTimeout, what, predicate)
}

// waitForWithin is waitFor with its own bound, for waits that include a known delay.
func (p *person) waitForWithin(t *testing.T, limit time.Duration, what, predicate string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, limit)
	defer cancel()
	for {
		_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](predicate,
			chromedp.WithPollingInterval(50*time.Millisecond),
			chromedp.WithPollingTimeout(limit)))
		if err == nil {
			return
		}
		if ctx.Err() != nil || errors.Is(err, chromedp.ErrPollingTimeout) {
			p.fail(t, what, err)
		}
		select { // the page went away under the poll; give the next one a moment to load
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// eval evaluates an expression and decodes its value.
func eval[T any](t *testing.T, p *person, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		p.fail(t, "evaluate "+expr, err)
	}
	return v
}

func (p *person) fail(t *testing.T, what string, err error) {
	t.Helper()
	shot := p.screenshot(t, "FAIL-"+sanitize(t.Name())+"-"+p.name)
	ctx, cancel := context.WithTimeout(p.ctx, 3*time.Second)
	defer cancel()
	body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	p.checkConsole(t)
	t.Fatalf("%s: %s: %v\n  at %s (screenshot %s)\n  page text:\n%s", p.name, what, err, loc, shot, indent(body))
}

// report logs what the person sees, for a failed test's reader.
func (p *person) report(t *testing.T) {
	ctx, cancel := context.WithTimeout(p.ctx, 3*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	if loc == "about:blank" || loc == "" {
		t.Logf("at the end %s had not opened any page", p.name)
		return
	}
	shot := p.screenshot(t, "FAIL-"+sanitize(t.Name())+"-"+p.name+"-end")
	body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	p.mu.Lock()
	timeline := strings.Join(p.timeline, "\n")
	p.mu.Unlock()
	t.Logf("at the end %s was at %s (screenshot %s), seeing:\n%s\n  timeline:\n%s", p.name, loc, shot, indent(body), indent(timeline))
}

func indent(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > 60 {
		lines = append(lines[:60], "…")
	}
	return "    " + strings.Join(lines, "\n    ")
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func sanitize(s string) string { return unsafeName.ReplaceAllString(s, "_") }

// screenshot saves the whole page as artifacts/<name>.png and returns the path.
func (p *person) screenshot(t *testing.T, name string) string {
	t.Helper()
	if err := os.MkdirAll(artifactsDir, 0o755); err != nil {
		t.Errorf("screenshot dir: %v", err)
		return ""
	}
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	// Let transitions finish (a colour-scheme switch fades), or the picture shows a blend
	// of two themes. Endless animations (a pulsing dot) are not waited for.
	chromedp.Run(ctx, chromedp.Poll[chromedp.Void](
		`document.getAnimations().every(a => a.playState !== 'running' || a.effect.getTiming().iterations === Infinity)`,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(3*time.Second)))
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return ""
	}
	path := filepath.Join(artifactsDir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Errorf("save screenshot: %v", err)
		return ""
	}
	abs, _ := filepath.Abs(path)
	return abs
}

// open navigates and waits for the page to load.
func (p *person) open(t *testing.T, path string) {
	t.Helper()
	p.do(t, "open "+path, chromedp.Navigate(p.srv.URL+path))
}

// session is the person's session cookie, which the server's connection tracker keys on.
func (p *person) session(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{p.srv.URL + "/"}})
	if err != nil {
		t.Fatalf("%s: read cookies: %v", p.name, err)
	}
	for _, c := range res.Cookies {
		if c.Name == handlers.SessionCookie {
			return c.Value
		}
	}
	t.Fatalf("%s has no %s cookie", p.name, handlers.SessionCookie)
	return ""
}

// setOffline cuts or restores this person's network as the browser sees it: new requests
// and socket handshakes fail while offline, and navigator.onLine follows.
func (p *person) setOffline(t *testing.T, offline bool) {
	t.Helper()
	p.do(t, fmt.Sprintf("set offline=%v", offline), chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := p.net.setOffline(ctx, tg, offline)
		return err
	}))
}
