//go:build !linux

package main

import "syscall"

// childAttr: elsewhere the server shares the load generator's process group.
func childAttr() *syscall.SysProcAttr { return nil }
