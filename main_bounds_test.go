package main

import (
	"io"
	"testing"

	"gifchat/handlers"
)

// TestMemoryAndConnectionBoundFlags: the bounds default to what docs/OPERATIONS.md says,
// reach the app's configuration, and a replay bound the socket queue could not hold is refused.
func TestMemoryAndConnectionBoundFlags(t *testing.T) {
	c, err := parseConfig(nil, noEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.replayBytes != 1<<20 || c.sendQueueBytes != 4<<20 || c.maxSocketsAddr != handlers.DefaultMaxSocketsPerAddress || c.maxLobbyAddr != handlers.DefaultMaxLobbyStreamsPerAddress {
		t.Errorf("defaults: replay %d, queue %d, sockets per address %d, lobby streams per address %d",
			c.replayBytes, c.sendQueueBytes, c.maxSocketsAddr, c.maxLobbyAddr)
	}
	env := map[string]string{"GIFCHAT_MAX_LOBBY_STREAMS_PER_ADDRESS": "7"}
	c, err = parseConfig([]string{"-replay-bytes", "131072", "-send-queue-bytes", "262144", "-max-sockets-per-address", "9"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.replayBytes != 128<<10 || c.sendQueueBytes != 256<<10 || c.maxSocketsAddr != 9 || c.maxLobbyAddr != 7 {
		t.Errorf("from flags and environment: %+v", c)
	}
	for _, args := range [][]string{
		{"-replay-bytes", "2097152", "-send-queue-bytes", "1048576"}, // the replay is one queue entry
		{"-replay-bytes", "1048576", "-send-queue-bytes", "1048576"},
		{"-replay-bytes", "1024"},
		{"-max-sockets-per-address", "0"},
		{"-max-lobby-streams-per-address", "0"},
		{"-max-lobby-streams-per-person", "0"},
	} {
		if _, err := parseConfig(args, noEnv, io.Discard); err == nil {
			t.Errorf("%v accepted; want a refusal", args)
		}
	}
}
