package redisserver

import (
	"os/exec"
	"syscall"
)

var sigterm = syscall.SIGTERM

// setParentDeathSignal kills redis-server when the test binary dies without running its
// cleanups (a panic in another goroutine, a -timeout), so no server outlives its test. The
// signal follows the OS thread that started the process; the Go runtime does not end threads
// while the program runs, except ones locked with LockOSThread, which this package never uses.
func setParentDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
