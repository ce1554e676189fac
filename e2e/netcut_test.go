package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chromedp/cdproto"
	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/cdp/jsonv2"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/gorilla/websocket"
)

// The network cut has two ways into the browser: the current protocol and the classic
// call, which is all some browsers take (Chromium 148 answers the current one with
// "Invalid parameters"). The tests here keep both working without an old browser at hand.

var (
	errInvalidParams  = &cdproto.Error{Code: -32602, Message: "Invalid parameters"}
	errMethodNotFound = &cdproto.Error{Code: -32601, Message: "method wasn't found"}
	errInternal       = &cdproto.Error{Code: -32000, Message: "Internal error"}
)

// fakeSession records the commands it is sent and fails those in fail.
type fakeSession struct {
	fail  map[string]error
	calls []string // method and params, as JSON
}

func (f *fakeSession) Call(_ context.Context, method string, params, _ any) error {
	b, err := json.Marshal(params)
	if err != nil {
		return err
	}
	f.calls = append(f.calls, method+" "+string(b))
	return f.fail[method]
}

func (f *fakeSession) Subscribe(string) (<-chan jsonv2.Value, func()) {
	return make(chan jsonv2.Value), func() {}
}

func (f *fakeSession) take() []string {
	calls := f.calls
	f.calls = nil
	return calls
}

const (
	byRuleMethod   = network.CommandEmulateNetworkConditionsByRule
	overrideMethod = network.CommandOverrideNetworkState
	classicMethod  = "Network.emulateNetworkConditions"
	// The classic call as the protocol requires it: every field, no latency, no throttling.
	classicOffline = classicMethod + ` {"offline":true,"latency":0,"downloadThroughput":-1,"uploadThroughput":-1}`
	classicOnline  = classicMethod + ` {"offline":false,"latency":0,"downloadThroughput":-1,"uploadThroughput":-1}`
	byRuleOffline  = byRuleMethod + ` {"matchedNetworkConditions":[{"urlPattern":"","latency":0,"downloadThroughput":-1,"uploadThroughput":-1,"packetReordering":false,"offline":true}]}`
	byRuleOnline   = byRuleMethod + ` {"matchedNetworkConditions":[]}`
	overrideOff    = overrideMethod + ` {"offline":true,"latency":0,"downloadThroughput":-1,"uploadThroughput":-1}`
	overrideOn     = overrideMethod + ` {"offline":false,"latency":0,"downloadThroughput":-1,"uploadThroughput":-1}`
)

// step is one setOffline call and what it should send and answer.
type step struct {
	offline   bool
	want      []string // the commands sent, in order
	method    netCutMethod
	errSubstr string // "" for no error
}

func TestNetCutChoosesAndRemembersAMethod(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fail  map[string]error
		steps []step
	}{
		{
			name: "a browser with the current protocol uses it throughout",
			steps: []step{
				{offline: true, want: []string{byRuleOffline, overrideOff}, method: netCutByRule},
				{offline: false, want: []string{byRuleOnline, overrideOn}, method: netCutByRule},
			},
		},
		{
			name: "Chromium 148: invalid parameters for the current call, so the classic one, then only that",
			fail: map[string]error{byRuleMethod: errInvalidParams},
			steps: []step{
				{offline: true, want: []string{byRuleOffline, classicOffline}, method: netCutClassic},
				{offline: false, want: []string{classicOnline}, method: netCutClassic},
				{offline: true, want: []string{classicOffline}, method: netCutClassic},
			},
		},
		{
			name: "a browser without the current call: method not found, so the classic one",
			fail: map[string]error{byRuleMethod: errMethodNotFound},
			steps: []step{
				{offline: true, want: []string{byRuleOffline, classicOffline}, method: netCutClassic},
				{offline: false, want: []string{classicOnline}, method: netCutClassic},
			},
		},
		{
			name: "rules but no navigator override: the rule is lifted and the classic call does it all",
			fail: map[string]error{overrideMethod: errMethodNotFound},
			steps: []step{
				{offline: true, want: []string{byRuleOffline, overrideOff, byRuleOnline, classicOffline}, method: netCutClassic},
				{offline: false, want: []string{classicOnline}, method: netCutClassic},
			},
		},
		{
			name: "any other failure is reported, not papered over, and nothing is remembered",
			fail: map[string]error{byRuleMethod: errInternal},
			steps: []step{
				{offline: true, want: []string{byRuleOffline}, method: netCutByRule, errSubstr: "Internal error"},
				{offline: true, want: []string{byRuleOffline}, method: netCutByRule, errSubstr: "Internal error"},
			},
		},
		{
			name: "a browser that takes neither: both refusals are reported",
			fail: map[string]error{byRuleMethod: errInvalidParams, classicMethod: errMethodNotFound},
			steps: []step{
				{offline: true, want: []string{byRuleOffline, classicOffline}, method: netCutClassic, errSubstr: "Network.emulateNetworkConditionsByRule refused (Invalid parameters (-32602)), and Network.emulateNetworkConditions: method wasn't found (-32601)"},
				{offline: true, want: []string{byRuleOffline, classicOffline}, method: netCutClassic, errSubstr: "-32602"},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &fakeSession{fail: tc.fail}
			var c netCutter
			for i, st := range tc.steps {
				method, err := c.setOffline(t.Context(), s, st.offline)
				got := s.take()
				if strings.Join(got, "\n") != strings.Join(st.want, "\n") {
					t.Errorf("call %d (offline=%v) sent\n  %s\nwant\n  %s", i+1, st.offline, strings.Join(got, "\n  "), strings.Join(st.want, "\n  "))
				}
				if method != st.method {
					t.Errorf("call %d: method %v, want %v", i+1, method, st.method)
				}
				switch {
				case st.errSubstr == "" && err != nil:
					t.Errorf("call %d: %v", i+1, err)
				case st.errSubstr != "" && (err == nil || !strings.Contains(err.Error(), st.errSubstr)):
					t.Errorf("call %d: error %v, want one containing %q", i+1, err, st.errSubstr)
				}
			}
		})
	}
}

// refusingSession is a real tab that answers the current call as Chromium 148 does.
type refusingSession struct {
	cdp.Session
	refused atomic.Int32
}

func (r *refusingSession) Call(ctx context.Context, method string, params, result any) error {
	if method == byRuleMethod {
		r.refused.Add(1)
		return errInvalidParams
	}
	return r.Session.Call(ctx, method, params, result)
}

// TestNetCutInChromium cuts a real browser's network each way the suite can and checks
// that the page really is offline (no request and no socket reaches the server, and
// navigator.onLine says so) and really is back afterwards.
func TestNetCutInChromium(t *testing.T) {
	chromiumPath(t)
	var hits atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "<!doctype html><title>net cut</title><p>here")
	})
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent) // no 404 in the console
	})
	mux.HandleFunc("GET /ping", func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprint(w, "pong")
	})
	mux.HandleFunc("GET /ws", func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		c, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err == nil {
			c.Close()
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	// reach tries a fetch and a socket from the page and says what happened to each.
	const reach = `Promise.all([
		fetch("/ping?" + Math.random(), {cache: "no-store"}).then(r => r.text(), e => "fetch failed"),
		new Promise(resolve => {
			const ws = new WebSocket(location.origin.replace(/^http/, "ws") + "/ws");
			ws.onopen = () => { resolve("socket opened"); ws.close(); };
			ws.onerror = () => resolve("socket failed");
		}),
	]).then(r => (navigator.onLine ? "online" : "offline") + ", " + r.join(", "))`

	for _, tc := range []struct {
		name string
		// cut sets the network through the person's cutter, its own way.
		cut  func(t *testing.T, p *person, offline bool) netCutMethod
		want netCutMethod
	}{
		{
			name: "current protocol",
			cut: func(t *testing.T, p *person, offline bool) netCutMethod {
				return cutThrough(t, p, offline, func(tg *chromedp.Target) cdp.Session { return tg })
			},
			want: netCutByRule,
		},
		{
			name: "classic call",
			cut: func(t *testing.T, p *person, offline bool) netCutMethod {
				p.net.method.Store(int32(netCutClassic))
				return cutThrough(t, p, offline, func(tg *chromedp.Target) cdp.Session { return tg })
			},
			want: netCutClassic,
		},
		{
			name: "fallback when the current call is refused as Chromium 148 refuses it",
			cut: func() func(t *testing.T, p *person, offline bool) netCutMethod {
				var refusing refusingSession
				return func(t *testing.T, p *person, offline bool) netCutMethod {
					m := cutThrough(t, p, offline, func(tg *chromedp.Target) cdp.Session {
						refusing.Session = tg
						return &refusing
					})
					if n := refusing.refused.Load(); n != 1 {
						t.Errorf("the refused call was tried %d times, want once (then remembered)", n)
					}
					return m
				}
			}(),
			want: netCutClassic,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPeople(t, nil, "carol")[0]
			p.do(t, "open the page", chromedp.Navigate(srv.URL+"/"))
			if tc.want == netCutByRule {
				v, err := chromedp.CallBrowser(p.ctx, browser.GetVersion, cdp.Empty{})
				if err != nil {
					t.Fatalf("browser version: %v", err)
				}
				t.Logf("browser: %s, protocol %s", v.Product, v.ProtocolVersion)
			}
			if got := evalAwait[string](t, p, reach); got != "online, pong, socket opened" {
				t.Fatalf("before the cut the page saw %q", got)
			}

			p.netCut.Store(true)
			m := tc.cut(t, p, true)
			if tc.want == netCutByRule && m != netCutByRule {
				t.Skipf("this browser refuses %s and used %s; the other subtests cover that", netCutByRule, m)
			}
			if m != tc.want {
				t.Errorf("cut with %v, want %v", m, tc.want)
			}
			before := hits.Load()
			if got := evalAwait[string](t, p, reach); got != "offline, fetch failed, socket failed" {
				t.Errorf("while cut the page saw %q, want it offline with the fetch and the socket failing", got)
			}
			if n := hits.Load() - before; n != 0 {
				t.Errorf("while cut %d requests reached the server", n)
			}

			if m := tc.cut(t, p, false); m != tc.want {
				t.Errorf("restored with %v, want %v", m, tc.want)
			}
			p.netCut.Store(false)
			if got := evalAwait[string](t, p, reach); got != "online, pong, socket opened" {
				t.Errorf("after the cut the page saw %q", got)
			}
			p.checkConsole(t)
		})
	}
}

// cutThrough cuts or restores p's network through the session session makes of the tab.
func cutThrough(t *testing.T, p *person, offline bool, session func(*chromedp.Target) cdp.Session) netCutMethod {
	t.Helper()
	var m netCutMethod
	p.do(t, fmt.Sprintf("set offline=%v", offline), chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		var err error
		m, err = p.net.setOffline(ctx, session(tg), offline)
		return err
	}))
	return m
}

// evalAwait evaluates an expression whose value is a promise and decodes what it resolves to.
func evalAwait[T any](t *testing.T, p *person, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		p.fail(t, "evaluate "+expr, err)
	}
	return v
}
