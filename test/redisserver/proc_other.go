//go:build !linux

package redisserver

import (
	"os"
	"os/exec"
)

var sigterm = os.Interrupt

// setParentDeathSignal has no portable equivalent outside Linux: a crashed test may leave its
// redis-server running there.
func setParentDeathSignal(*exec.Cmd) {}
