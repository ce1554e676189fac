package static

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
)

func serve(t *testing.T, path string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

func TestURLIsContentHashed(t *testing.T) {
	for _, name := range append([]string{"app.css", "app.js"}, Vendored...) {
		t.Run(name, func(t *testing.T) {
			content, err := os.ReadFile(name)
			if err != nil {
				t.Fatalf("%s not in the source tree: %v", name, err)
			}
			sum := sha256.Sum256(content)
			ext := name[strings.LastIndex(name, "."):]
			want := Prefix + strings.TrimSuffix(name, ext) + "." + hex.EncodeToString(sum[:6]) + ext
			if got := URL(name); got != want {
				t.Errorf("URL(%q) = %q, want %q (the name with its content's hash)", name, got, want)
			}
			resp, body := serve(t, URL(name), nil)
			if resp.StatusCode != http.StatusOK || string(body) != string(content) {
				t.Fatalf("GET %s: %s, %d bytes; want the file", URL(name), resp.Status, len(body))
			}
			cc := resp.Header.Get("Cache-Control")
			if !strings.Contains(cc, "immutable") || !strings.Contains(cc, "max-age=31536000") || !strings.Contains(cc, "public") {
				t.Errorf("Cache-Control %q; want a year, immutable", cc)
			}
			wantType := map[string]string{".css": "text/css", ".js": "text/javascript"}[ext]
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, wantType) {
				t.Errorf("Content-Type %q, want %s", ct, wantType)
			}
			if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Error("no nosniff")
			}
		})
	}
	if URL("app.css") == URL("app.js") {
		t.Error("two files, one URL")
	}
}

// TestPlainNameRevalidates: the unhashed name works for tools but must not be cached for a
// year, or a deploy would keep serving the old file.
func TestPlainNameRevalidates(t *testing.T) {
	resp, body := serve(t, Prefix+"app.css", nil)
	if resp.StatusCode != http.StatusOK || len(body) == 0 {
		t.Fatalf("GET app.css: %s", resp.Status)
	}
	if cc := resp.Header.Get("Cache-Control"); strings.Contains(cc, "immutable") || !strings.Contains(cc, "no-cache") {
		t.Errorf("plain name Cache-Control %q; want no-cache", cc)
	}
	etag := resp.Header.Get("ETag")
	if !regexp.MustCompile(`^"[^"]+"$`).MatchString(etag) {
		t.Fatalf("ETag %q is not a strong ETag", etag)
	}
	resp, body = serve(t, Prefix+"app.css", http.Header{"If-None-Match": {etag}})
	if resp.StatusCode != http.StatusNotModified || len(body) != 0 {
		t.Errorf("If-None-Match with the current ETag: %s, %d bytes; want 304", resp.Status, len(body))
	}
	resp, _ = serve(t, Prefix+"app.css", http.Header{"If-None-Match": {`"stale"`}})
	if resp.StatusCode != http.StatusOK {
		t.Errorf("If-None-Match with a stale ETag: %s, want 200", resp.Status)
	}
}

func TestUnknownAssetIs404(t *testing.T) {
	for _, path := range []string{
		Prefix + "nope.css",
		Prefix + "app.000000000000.css", // a hash that is not the file's
		Prefix,
		Prefix + "../static.go",
		Prefix + "package.json",
	} {
		if resp, _ := serve(t, path, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %s, want 404", path, resp.Status)
		}
	}
	if got := URL("nope.css"); got != Prefix+"nope.css" {
		t.Errorf("URL of an unknown file = %q", got)
	}
}

func TestCheck(t *testing.T) {
	if err := Check(); err != nil {
		t.Fatalf("Check with the htmx files in place: %v", err)
	}
	// Take one vendored file out of the build, as a fresh clone without the assets task has it.
	missing := Vendored[1]
	saved := byName[missing]
	delete(byName, missing)
	t.Cleanup(func() { byName[missing] = saved })
	err := Check()
	if err == nil {
		t.Fatalf("Check with %s missing: no error", missing)
	}
	msg := err.Error()
	if !strings.Contains(msg, missing) || !strings.Contains(msg, "go tool -modfile=tools/go.mod task assets") {
		t.Errorf("Check error %q does not name the missing file and the command that fixes it", msg)
	}
	for _, other := range Vendored {
		if other != missing && strings.Contains(msg, other) {
			t.Errorf("Check error names %s, which is present", other)
		}
	}
}
