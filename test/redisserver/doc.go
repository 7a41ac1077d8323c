// Package redisserver runs a private redis-server for tests: on 127.0.0.1, on a free port,
// without persistence, stopped when the test ends. `make test` installs redis-server where it is
// missing (test/apt-install.sh).
package redisserver
