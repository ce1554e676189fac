package components

import (
	_ "embed"
	"io"
	"text/template"
)

//go:embed me.css.tmpl
var meCSSSource string

// meCSS is me.css.tmpl: a designer edits it as CSS. text/template, not html/template: the
// only value in it is a number, and CSS is not HTML.
var meCSS = template.Must(template.New("me.css").Parse(meCSSSource))

// MeCSS writes the per-viewer stylesheet for the identity viewerID.
func MeCSS(w io.Writer, viewerID int64) error {
	return meCSS.Execute(w, struct{ ID int64 }{viewerID})
}
