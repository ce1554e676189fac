//go:build !race

package main

// raceEnabled: the tests were built without -race, so the gifchat binary they build is too.
const raceEnabled = false
