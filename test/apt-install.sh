#!/usr/bin/env bash
# Usage: test/apt-install.sh COMMAND PACKAGE
# Installs the Debian PACKAGE with apt when COMMAND is not on PATH (redis-server for
# test/redisserver, chromium for test/e2e). Idempotent: when COMMAND is there, prints nothing and
# exits 0. apt-get update runs only if the first install fails, so a machine with fresh package
# lists installs without refreshing them.
set -euo pipefail

cmd=${1:?usage: $0 COMMAND PACKAGE}
pkg=${2:?usage: $0 COMMAND PACKAGE}

if command -v "$cmd" >/dev/null 2>&1; then
	exit 0
fi

as_root() {
	if [[ "$(id -u)" -eq 0 ]]; then
		"$@"
	else
		sudo "$@"
	fi
}

install() {
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "$pkg"
}

if ! install; then
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update
	install
fi
