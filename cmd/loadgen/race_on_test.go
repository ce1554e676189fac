//go:build race

package main

// raceEnabled: the tests were built with -race, so the gifchat binary they build is too.
const raceEnabled = true
