#!/usr/bin/env bash
# Installs oidc-provider into test/oidcprovider/node_modules for the Go tests, with npm ci.
# Fast and silent when node_modules already matches package-lock.json: the lock's sha256
# is kept in node_modules/.kfgate-lock.sha256 after a successful install.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

for tool in node npm; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "test/oidcprovider/install.sh: $tool is not installed; install Node.js (>= 20) and npm" >&2
		exit 1
	fi
done

stamp=node_modules/.kfgate-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [[ -f $stamp && $(<"$stamp") == "$want" && -f node_modules/oidc-provider/package.json ]]; then
	exit 0
fi

echo "test/oidcprovider: npm ci" >&2
npm ci --no-audit --no-fund >&2
echo "$want" >"$stamp"
