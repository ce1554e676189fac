package handlers_test

import (
	. "gifchat/handlers"

	"net/http"
	"strings"
	"testing"
	"time"
)

// Renames are limited per session (each is a notice in every room the person is in): past
// the burst the form comes back with the reason and the name is not changed; a token later,
// renaming works again.
func TestRenamesAreRateLimited(t *testing.T) {
	ts := newLimitedServer(t, RateLimitConfig{Rates: only(map[string]string{ActionRename: "6/m:3"}), AddressFactor: 100})
	alice := ts.newPerson(t)
	for i, name := range []string{"first", "second", "third"} {
		ts.mustRename(t, alice, name, Colours[i], "/")
	}
	resp, body := ts.rename(t, alice, "fourth", Colours[3], "/")
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(body, `value="fourth"`) {
		t.Fatalf("the fourth rename in a burst of 3: %s\n%s", resp.Status, body)
	}
	if got := ts.identity(t, alice).Nickname; got != "third" {
		t.Fatalf("a refused rename changed the name to %q", got)
	}
	if n := ts.hits.get(ActionRename + "/session"); n != 1 {
		t.Errorf("%d rename refusals counted, want 1", n)
	}
	ts.clock.Advance(10 * time.Second) // 6 a minute: one token back
	ts.mustRename(t, alice, "fourth", Colours[3], "/")
}
