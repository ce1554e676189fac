package main

import (
	"net"
	"os"
	"testing"
	"time"
)

// portListening sees a listener come and go, reading only the head of the tables.
func TestPortListening(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	// Some established connections on the same port, listed after the listeners.
	var conns []net.Conn
	for range 5 {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	listening, ok := portListening(port)
	if !ok {
		t.Skip("no /proc/net/tcp here")
	}
	if !listening {
		t.Errorf("port %d: not seen listening", port)
	}
	ln.Close()
	for _, c := range conns {
		c.Close()
	}
	if listening, _ := portListening(port); listening {
		t.Errorf("port %d: still seen listening after the listener closed", port)
	}
}

func TestReadProcFigures(t *testing.T) {
	rss, _, err := readRSS(os.Getpid())
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	if rss < 1<<20 {
		t.Errorf("our own RSS is %d bytes, implausibly small", rss)
	}
	before, err := readCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for x, end := 0, time.Now().Add(50*time.Millisecond); time.Now().Before(end); x++ {
		_ = x * x // burn a little CPU
	}
	after, err := readCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if after < before {
		t.Errorf("CPU time went backwards: %v then %v", before, after)
	}
}
