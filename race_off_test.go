//go:build !race

package main

// raceEnabled: the tests were built without -race, so the server binary they build is too.
const raceEnabled = false
