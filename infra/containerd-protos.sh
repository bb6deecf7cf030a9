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
# The tests drive the real `ctr` (issue 14): Debian's containerd package of
# the same version provides it. Only the binary is extracted (the daemon is
# never installed or started); a ctr already on PATH is used as it is.
ctr_wanted=0
if ! command -v ctr >/dev/null 2>&1 && [ ! -x "$dest/bin/ctr" ]; then ctr_wanted=1; packages+=(containerd=1.6.20~ds1-1+deb12u3); fi
[ -f "$marker" ] && [ "$ctr_wanted" = 0 ] && exit 0

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
find "$dest" -mindepth 1 -maxdepth 1 ! -name bin -exec rm -rf {} + 2>/dev/null || true
mkdir -p "$dest"
# Only the definitions: the API tree, the plugin options it imports, gogo's and googleapis' protos.
(cd "$src" && find github.com/containerd/containerd/api github.com/containerd/containerd/protobuf github.com/gogo/protobuf/gogoproto \
  github.com/gogo/protobuf/protobuf/google/protobuf github.com/gogo/googleapis/google/rpc -name '*.proto' -print0 |
  xargs -0 cp --parents -t "$OLDPWD/$dest")
if [ "$ctr_wanted" = 1 ]; then
  mkdir -p "$dest/bin" && cp "$work/x/usr/bin/ctr" "$dest/bin/ctr"
fi
touch "$marker"
echo "containerd's API definitions are in $dest (from Debian's ${packages[0]})." >&2
