package realtime

import (
	"bytes"
	"context"

	"github.com/a-h/templ"
)

// renderBytes renders a component into bytes, to be sent as they are to any number of
// connections.
func renderBytes(c templ.Component) ([]byte, error) {
	var buf bytes.Buffer
	if err := c.Render(context.Background(), &buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
