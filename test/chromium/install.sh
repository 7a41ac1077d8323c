#!/usr/bin/env bash
# Installs Chromium (for test/e2e's headless browser, driven with chromedp) with apt when it is not on
# PATH. Idempotent: when it is there, prints nothing and exits 0. apt-get update runs only if the first
# install fails, so a machine with fresh package lists installs without refreshing them.
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
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
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
}

if ! install; then
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update
	install
fi
