package components

import "gifchat/static"

// Asset is the content-hashed URL of a static file.
func Asset(name string) string { return static.URL(name) }
