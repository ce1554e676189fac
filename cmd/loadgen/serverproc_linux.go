package main

import "syscall"

// childAttr puts the server in a process group of its own, so a Ctrl-C at the terminal
// reaches the load generator alone (which then stops the server itself), and has the kernel
// send it SIGTERM should the load generator die without stopping it.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
