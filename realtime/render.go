package realtime

import (
	"bytes"
	"context"

	"github.com/a-h/templ"

	"gifchat/components"
)

func renderBytes(c templ.Component) ([]byte, error) {
	var buf bytes.Buffer
	if err := c.Render(context.Background(), &buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func refusedOOB(reason string) templ.Component {
	return components.RoomClosedOOB(reason)
}
