package e2e

// The network cut: how a person's browser is taken offline and back, with whichever
// protocol call that browser accepts (see setOffline).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chromedp/cdproto"
	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/dom"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
)

// netCutMethod is the protocol call a browser cuts its network with.
type netCutMethod int32

const (
	netCutUnknown netCutMethod = iota
	// netCutByRule is Network.emulateNetworkConditionsByRule, which cuts requests, with
	// Network.overrideNetworkState for navigator.onLine: the current protocol.
	netCutByRule
	// netCutClassic is Network.emulateNetworkConditions, deprecated but the only one some
	// browsers take (Debian's Chromium 148 answers the other with "Invalid parameters").
	netCutClassic
)

func (m netCutMethod) String() string {
	switch m {
	case netCutByRule:
		return network.CommandEmulateNetworkConditionsByRule
	case netCutClassic:
		return emulateNetworkConditions.Method
	}
	return "not known yet"
}

// emulateNetworkConditions is the classic command, which cdproto no longer generates. It sets
// navigator.onLine itself. The protocol requires every field: latency 0 adds none, and a
// throughput of -1 disables throttling.
var emulateNetworkConditions = cdp.Command[emulateNetworkConditionsParams, cdp.Empty]{Method: "Network.emulateNetworkConditions"}

type emulateNetworkConditionsParams struct {
	Offline            bool    `json:"offline"`
	Latency            float64 `json:"latency"`
	DownloadThroughput float64 `json:"downloadThroughput"`
	UploadThroughput   float64 `json:"uploadThroughput"`
}

// netCutter cuts one browser's network. It tries the current protocol first and, when the
// browser refuses it, the classic call, and remembers which one worked, so later calls go
// straight to it.
type netCutter struct {
	method atomic.Int32 // a netCutMethod
}

// setOffline cuts (offline) or restores the network through s, a tab of the browser, and says
// which method did it.
func (c *netCutter) setOffline(ctx context.Context, s cdp.Session, offline bool) (netCutMethod, error) {
	known := netCutMethod(c.method.Load())
	if known != netCutClassic {
		err := setOfflineByRule(ctx, s, offline)
		if err == nil {
			c.method.Store(int32(netCutByRule))
			return netCutByRule, nil
		}
		// A browser that took the current protocol before has it: a failure now is a failure.
		if known == netCutByRule || !isRefusedCommand(err) {
			return netCutByRule, fmt.Errorf("%s: %w", netCutByRule, err)
		}
		if err2 := setOfflineClassic(ctx, s, offline); err2 != nil {
			return netCutClassic, fmt.Errorf("%s refused (%w), and %s: %w", netCutByRule, err, netCutClassic, err2)
		}
		c.method.Store(int32(netCutClassic))
		return netCutClassic, nil
	}
	if err := setOfflineClassic(ctx, s, offline); err != nil {
		return netCutClassic, fmt.Errorf("%s: %w", netCutClassic, err)
	}
	return netCutClassic, nil
}

func setOfflineByRule(ctx context.Context, s cdp.Session, offline bool) error {
	rules := []*network.Conditions{}
	if offline {
		rules = append(rules, &network.Conditions{Offline: true, DownloadThroughput: -1, UploadThroughput: -1})
	}
	if _, err := cdp.Call(ctx, s, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
		MatchedNetworkConditions: rules,
	}); err != nil {
		return err
	}
	if _, err := cdp.Call(ctx, s, network.OverrideNetworkState, network.OverrideNetworkStateParams{
		Offline: offline, DownloadThroughput: -1, UploadThroughput: -1,
	}); err != nil {
		if offline && isRefusedCommand(err) {
			// Half a cut: lift the rule, so the classic call is the only one in force.
			cdp.Call(ctx, s, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
				MatchedNetworkConditions: []*network.Conditions{},
			})
		}
		return err
	}
	return nil
}

func setOfflineClassic(ctx context.Context, s cdp.Session, offline bool) error {
	_, err := cdp.Call(ctx, s, emulateNetworkConditions, emulateNetworkConditionsParams{
		Offline: offline, Latency: 0, DownloadThroughput: -1, UploadThroughput: -1,
	})
	return err
}

// isRefusedCommand reports whether the browser refused a command as one it does not have:
// -32601 "method not found", or -32602 "Invalid parameters" (a browser whose version of the
// command takes other parameters).
func isRefusedCommand(err error) bool {
	var e *cdproto.Error
	return errors.As(err, &e) && (e.Code == -32601 || e.Code == -32602)
}

// colorScheme emulates prefers-color-scheme ("dark", "light", or "" to reset).
func colorScheme(scheme string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		params := emulation.SetEmulatedMediaParams{}
		if scheme != "" {
			params.Features = []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}
		}
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, params)
		return err
	})
}

// closeTab closes the person's tab the way a person closes it (pagehide and all).
func (p *person) closeTab(t *testing.T) {
	t.Helper()
	c := chromedp.FromContext(p.ctx)
	if c == nil || c.Target == nil {
		t.Fatalf("%s has no tab", p.name)
	}
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	if _, err := chromedp.CallBrowser(ctx, target.CloseTarget, target.CloseTargetParams{TargetID: c.Target.TargetID}); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("%s: close tab: %v", p.name, err)
	}
}

// --- Finding things the way a person does: by role and accessible name. ---

// byRole selects elements by their computed accessibility role and name (what a screen
// reader announces), through the browser's own accessibility tree. Names compare without
// regard to case: chromium applies CSS text-transform to accessible names, and "MESSAGE"
// is still the box labelled "Message".
func byRole(role, name string) chromedp.QueryOption {
	return chromedp.ByFunc(func(ctx context.Context, t *chromedp.Target, n *chromedp.Node) ([]cdp.NodeID, error) {
		res, err := cdp.Call(ctx, t, accessibility.QueryAXTree, accessibility.QueryAXTreeParams{
			NodeID: n.NodeID, Role: role,
		})
		if err != nil {
			return nil, fmt.Errorf("query accessibility tree: %w", err)
		}
		var backend []cdp.BackendNodeID
		for _, ax := range res.Nodes {
			if ax.Ignored || ax.BackendDOMNodeID == 0 || ax.Name == nil {
				continue
			}
			var got string
			if json.Unmarshal(ax.Name.Value, &got) == nil && strings.EqualFold(strings.TrimSpace(got), name) {
				backend = append(backend, ax.BackendDOMNodeID)
			}
		}
		if len(backend) == 0 {
			return []cdp.NodeID{}, nil
		}
		pushed, err := cdp.Call(ctx, t, dom.PushNodesByBackendIDsToFrontend, dom.PushNodesByBackendIDsToFrontendParams{BackendNodeIDs: backend})
		if err != nil {
			return nil, fmt.Errorf("resolve accessibility nodes: %w", err)
		}
		return pushed.NodeIDs, nil
	})
}

func roleSel(role, name string) chromedp.Search {
	return chromedp.Search(role + " " + strconvQuote(name))
}

func strconvQuote(s string) string { b, _ := json.Marshal(s); return string(b) }

// click presses the control with this role and name.
func click(role, name string) chromedp.Action[chromedp.Void] {
	return chromedp.Click(roleSel(role, name), byRole(role, name), chromedp.NodeVisible)
}

// fill types text into the text box with this accessible name (its label).
func fill(label, text string) chromedp.Action[chromedp.Void] {
	return chromedp.SendKeys(roleSel("textbox", label), text, byRole("textbox", label))
}

// visible waits until an element with this role and name is shown.
func visible(role, name string) chromedp.Action[chromedp.Void] {
	return chromedp.WaitVisible(roleSel(role, name), byRole(role, name))
}

// jsString quotes a Go string for use inside a JavaScript expression.
func jsString(s string) string { return strconvQuote(s) }
