package handlers

// What the tests (package handlers_test, outside so that they can start the app through
// gifchat/app, which imports this package) need from inside.

var (
	RoomIDPattern  = roomIDPattern
	HashToken      = hashToken
	IsControl      = isControl
	WithDevHeaders = withDevHeaders
)

// SetDevStaticDir points the dev static handler at dir and returns a function that puts the
// old directory back.
func SetDevStaticDir(dir string) (restore func()) {
	old := devStaticDir
	devStaticDir = dir
	return func() { devStaticDir = old }
}

// SessionAddresses is how many session-to-address entries the limiter holds.
func (rl *RateLimits) SessionAddresses() int {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	return len(rl.addrOf)
}
