//go:build race

package realtime

// raceEnabled: the race detector makes stacks deeper.
const raceEnabled = true
