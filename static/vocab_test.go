package static

import (
	"os"
	"regexp"
	"slices"
	"testing"

	"gifchat/vocab"
)

// The stylesheet and the scripts name status kinds (status-KIND) and log entry kinds
// (data-kind="KIND"), which the server defines once, in vocab. A name the server never sends
// is dead style or a dead branch; a status the server sends must be styled.
func TestStaticUsesTheServersVocabulary(t *testing.T) {
	statusRef := regexp.MustCompile(`status-([a-z-]+)`)
	kindRef := regexp.MustCompile(`data-kind="?([a-z-]+)`)
	styled := map[string]bool{}
	for _, name := range []string{"app.css", "app.js", "upload.js"} {
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range statusRef.FindAllStringSubmatch(string(src), -1) {
			if !slices.Contains(vocab.Statuses, m[1]) {
				t.Errorf("%s names status kind %q, which the server never sends (vocab.Statuses: %v)", name, m[1], vocab.Statuses)
			}
			if name == "app.css" {
				styled[m[1]] = true
			}
		}
		for _, m := range kindRef.FindAllStringSubmatch(string(src), -1) {
			if !slices.Contains(vocab.Kinds, m[1]) {
				t.Errorf("%s names log entry kind %q, which the server never sends (vocab.Kinds: %v)", name, m[1], vocab.Kinds)
			}
		}
	}
	for _, s := range vocab.Statuses {
		if !styled[s] {
			t.Errorf("status kind %q has no style in app.css", s)
		}
	}
}
