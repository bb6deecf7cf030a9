#!/usr/bin/env bash
# containerd's gRPC API definitions (the .proto files of containerd 1.6, and
# the gogo and googleapis files they import), taken at install time from
# Debian's packages of the same version: they are never copied into this
# repository (docs/containerd-api.md). `apt-get download` and `dpkg-deb -x`
# need neither root nor installed dependencies. Idempotent: a complete tree
# under var/containerd-api is left alone.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

dest=var/containerd-api
packages=(golang-github-containerd-containerd-dev=1.6.20~ds1-1+deb12u3 golang-github-gogo-protobuf-dev golang-github-gogo-googleapis-dev)
marker="$dest/.complete-1.6.20"
[ -f "$marker" ] && exit 0

if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-deb >/dev/null 2>&1; then
  echo "containerd-protos.sh: apt-get and dpkg-deb are needed to fetch containerd's API definitions (Debian's ${packages[0]%%=*})." >&2
  exit 1
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fetch() { (cd "$work" && apt-get download -qq "${packages[@]}" >/dev/null 2>&1); }
if ! fetch; then
  if [ "$(id -u)" = "0" ]; then
    apt-get update -qq >/dev/null 2>&1 || true
  fi
  if ! fetch; then
    echo "containerd-protos.sh: cannot download ${packages[*]} (run 'sudo apt-get update', or check the package sources)." >&2
    exit 1
  fi
fi
for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$work/x"; done
src="$work/x/usr/share/gocode/src"
rm -rf "$dest" && mkdir -p "$dest"
# Only the definitions: the API tree, the plugin options it imports, gogo's and googleapis' protos.
(cd "$src" && find github.com/containerd/containerd/api github.com/containerd/containerd/protobuf github.com/gogo/protobuf/gogoproto \
  github.com/gogo/protobuf/protobuf/google/protobuf github.com/gogo/googleapis/google/rpc -name '*.proto' -print0 |
  xargs -0 cp --parents -t "$OLDPWD/$dest")
touch "$marker"
echo "containerd's API definitions are in $dest (from Debian's ${packages[0]})." >&2
