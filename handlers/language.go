package handlers

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"gifchat/i18n"
)

// LangCookie remembers the language a person chose with the switch. Without it, the browser's
// Accept-Language decides.
const LangCookie = "gifchat_lang"

// langOf is the language a request is answered in: the one chosen with the switch, else the
// first the browser asks for that gifchat speaks, else English.
func langOf(r *http.Request) i18n.Lang {
	if c, err := r.Cookie(LangCookie); err == nil {
		if l, ok := i18n.Parse(c.Value); ok {
			return l
		}
	}
	return i18n.Negotiate(r.Header.Get("Accept-Language"))
}

// withLang puts the request's language into its context, where components and handlers read
// it. Pages vary by the header and the cookie; assets and GIFs do not.
func withLang(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/static/") && !strings.HasPrefix(r.URL.Path, "/gifs/") {
			w.Header().Add("Vary", "Accept-Language, Cookie")
		}
		inner := r.WithContext(i18n.With(r.Context(), langOf(r)))
		// The mux records the route it matched on the copy; the metrics read the original's.
		defer func() { r.Pattern = inner.Pattern }()
		next.ServeHTTP(w, inner)
	})
}

// handleLanguage is the language switch: GET /lang?to=ko remembers the choice and goes back to
// the page the link was on (a plain link: it works without JS). Only a page of this site is
// gone back to; anything else goes to the lobby.
func handleLanguage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l, ok := i18n.Parse(r.URL.Query().Get("to"))
		if !ok {
			errorPage(w, r, http.StatusBadRequest, i18n.T(r.Context(), "error.lang.title"), i18n.T(r.Context(), "error.lang.message"))
			return
		}
		http.SetCookie(w, &http.Cookie{
			Name: LangCookie, Value: l.Code(), Path: "/", MaxAge: int(365 * 24 * time.Hour / time.Second),
			HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: requestSecure(r),
		})
		http.Redirect(w, r, backTo(r), http.StatusSeeOther)
	})
}

// backTo is the local page a request came from (its Referer, if it is this site's), or the lobby.
func backTo(r *http.Request) string {
	ref, err := url.Parse(r.Referer())
	if err != nil || ref.Host != r.Host || !strings.HasPrefix(ref.Path, "/") || strings.HasPrefix(ref.Path, "//") || strings.HasPrefix(ref.Path, "/lang") {
		return "/"
	}
	if ref.RawQuery != "" {
		return ref.Path + "?" + ref.RawQuery
	}
	return ref.Path
}
