package handlers

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"gifchat/i18n"
)

// The page of a failed request is written by hand (rendering may be what failed), and it too
// is in the reader's language, never the error's text.
func TestServerErrorPageSpeaksTheReadersLanguage(t *testing.T) {
	tags := regexp.MustCompile(`<[^>]*>`)
	for _, c := range []struct {
		lang       i18n.Lang
		code, says string
	}{
		{i18n.Ko, "ko", "문제가 생겼습니다"},
		{i18n.En, "en", "Something went wrong"},
	} {
		r := httptest.NewRequest(http.MethodGet, "/rooms/x", nil)
		r = r.WithContext(i18n.With(r.Context(), c.lang))
		w := httptest.NewRecorder()
		serverError(w, r, errors.New("db: secret detail"))
		page := w.Body.String()
		if w.Code != http.StatusInternalServerError || !strings.Contains(page, `<html lang="`+c.code+`">`) || !strings.Contains(page, c.says) {
			t.Errorf("%s: %d\n%s", c.code, w.Code, page)
		}
		if strings.Contains(page, "secret") {
			t.Errorf("%s: the page shows the error's text:\n%s", c.code, page)
		}
		if c.lang == i18n.Ko {
			for _, w := range regexp.MustCompile(`\p{Latin}+`).FindAllString(tags.ReplaceAllString(page, " "), -1) {
				if w != "GIF" {
					t.Errorf("the Korean page says %q:\n%s", w, page)
				}
			}
		}
	}
}
