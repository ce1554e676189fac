package components

import (
	_ "embed"
	"io"
	"strconv"
	"strings"
	"text/template"

	"gifchat/i18n"
)

//go:embed me.css.tmpl
var meCSSSource string

// meCSS is me.css.tmpl: a designer edits it as CSS. text/template, not html/template: its
// values are a number and a CSS string that cssString has quoted, and CSS is not HTML.
var meCSS = template.Must(template.New("me.css").Parse(meCSSSource))

// MeCSS writes the per-viewer stylesheet for the identity viewerID, with its words in l.
func MeCSS(w io.Writer, viewerID int64, l i18n.Lang) error {
	return meCSS.Execute(w, struct {
		ID  int64
		You string
	}{viewerID, cssString(" " + l.T("viewer.you"))})
}

// cssString quotes s as a CSS string: a catalog's words cannot end the string or the rule.
func cssString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f || r == '<' || r == '>':
			// Control characters cannot stand in a CSS string; "<" and ">" are escaped so
			// nothing reads as markup should the sheet ever be inlined.
			b.WriteString("\\" + strconv.FormatInt(int64(r), 16) + " ")
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
