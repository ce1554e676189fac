package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// listenerPID finds the process listening on addr's TCP port, so that -pid
// auto saves looking it up by hand (go run puts the server in a child
// process whose pid is not the one the shell printed). It reads the socket
// tables in /proc/net and matches their inodes against every process's
// open file descriptors, which needs permission to read those.
func listenerPID(addr string) (int, error) {
	_, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, err
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return 0, fmt.Errorf("port %q: %w", portStr, err)
	}
	inodes := map[string]bool{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		if err := listeningInodes(table, uint16(port), inodes); err != nil && !os.IsNotExist(err) {
			return 0, err
		}
	}
	if len(inodes) == 0 {
		return 0, fmt.Errorf("nothing is listening on TCP port %d", port)
	}
	procs, err := filepath.Glob("/proc/[0-9]*/fd/*")
	if err != nil {
		return 0, err
	}
	for _, fd := range procs {
		link, err := os.Readlink(fd)
		if err != nil {
			continue // processes come and go; fds we may not read are skipped
		}
		inode, ok := strings.CutPrefix(link, "socket:[")
		if !ok || !inodes[strings.TrimSuffix(inode, "]")] {
			continue
		}
		pidDir := filepath.Dir(filepath.Dir(fd))
		return strconv.Atoi(filepath.Base(pidDir))
	}
	return 0, fmt.Errorf("no readable process owns the listener on port %d", port)
}

// portListening reports whether some process has a TCP socket listening on port, from
// /proc/net/tcp and tcp6 (ok is false when they cannot be read). The kernel lists listening
// sockets before the others, so only the head of each table is read, however many
// connections the machine holds.
func portListening(port uint16) (listening, ok bool) {
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(table)
		if err != nil {
			continue
		}
		ok = true
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 4 || fields[3] != "0A" { // past the listening sockets
				break
			}
			if _, hexPort, found := strings.Cut(fields[1], ":"); found {
				if p, err := strconv.ParseUint(hexPort, 16, 16); err == nil && uint16(p) == port {
					listening = true
				}
			}
		}
		f.Close()
		if listening {
			return true, true
		}
	}
	return false, ok
}

// listeningInodes adds the inodes of sockets in LISTEN state on port from a
// /proc/net/tcp-style table.
func listeningInodes(table string, port uint16, into map[string]bool) error {
	f, err := os.Open(table)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 || fields[3] != "0A" { // 0A = TCP_LISTEN
			continue
		}
		_, hexPort, ok := strings.Cut(fields[1], ":")
		if !ok {
			continue
		}
		p, err := strconv.ParseUint(hexPort, 16, 16)
		if err == nil && uint16(p) == port {
			into[fields[9]] = true
		}
	}
	return sc.Err()
}
