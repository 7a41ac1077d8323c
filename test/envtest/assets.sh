#!/usr/bin/env bash
# Builds the kube-apiserver and etcd that envtest starts, from the Go module proxy, into a cache keyed by
# version outside the repository, and prints that directory (for KUBEBUILDER_ASSETS). Idempotent: when both
# binaries are there it only prints the directory. setup-envtest is not used: it downloads from the internet.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-1.36.3}"
ETCD_VERSION="${ETCD_VERSION:-3.6.16}"
CACHE="${KFGATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kfgate}"
DIR="$CACHE/envtest/k8s-$K8S_VERSION-etcd-$ETCD_VERSION"
GO="${GO:-go}"

if [[ -x "$DIR/kube-apiserver" && -x "$DIR/etcd" ]]; then
	echo "$DIR"
	exit 0
fi
mkdir -p "$DIR"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# k8s.io/kubernetes replaces its staging modules with local paths; a module of our own replaces them with
# the published modules of the same release instead.
if [[ ! -x "$DIR/kube-apiserver" ]]; then
	echo "building kube-apiserver v$K8S_VERSION (a few minutes, once)" >&2
	mkdir -p "$work/apiserver"
	cd "$work/apiserver"
	gomod="$(GOFLAGS=-mod=mod "$GO" mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')"
	staging="$(sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$gomod")"
	{
		echo "module kfgate.local/envtest-apiserver"
		echo "go 1.26"
		echo "require k8s.io/kubernetes v$K8S_VERSION"
		for m in $staging; do echo "replace $m => $m v0.${K8S_VERSION#1.}"; done
	} >go.mod
	echo 'package tools
import _ "k8s.io/kubernetes/cmd/kube-apiserver"' >tools.go
	"$GO" mod tidy >&2
	CGO_ENABLED=0 "$GO" build -trimpath -o "$DIR/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver
	mv "$DIR/kube-apiserver.tmp" "$DIR/kube-apiserver"
fi

if [[ ! -x "$DIR/etcd" ]]; then
	echo "building etcd v$ETCD_VERSION (once)" >&2
	mkdir -p "$work/etcd"
	cd "$work/etcd"
	{
		echo "module kfgate.local/envtest-etcd"
		echo "go 1.26"
		echo "require go.etcd.io/etcd/server/v3 v$ETCD_VERSION"
	} >go.mod
	echo 'package tools
import _ "go.etcd.io/etcd/server/v3"' >tools.go
	"$GO" mod tidy >&2
	CGO_ENABLED=0 "$GO" build -trimpath -o "$DIR/etcd.tmp" go.etcd.io/etcd/server/v3
	mv "$DIR/etcd.tmp" "$DIR/etcd"
fi
echo "$DIR"
