#!/usr/bin/env bash
# Installs what purser needs on a fresh Debian machine with Node.js 20:
# the npm dependencies (npm ci), nats-server (Debian package) when missing, and
# containerd's API definitions (infra/containerd-protos.sh).
# Sourced by infra/run.sh and infra/test.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v node >/dev/null 2>&1; then
  echo "purser needs Node.js 20 or later (node was not found on PATH)." >&2
  exit 1
fi

# npm ci when node_modules is missing or older than the lock file. The lock
# is the contract: if npm ci refuses it, say so and stop (a fallback to
# npm install would rewrite the lock and leave the checkout modified).
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  if ! npm ci --no-audit --no-fund; then
    echo "npm ci refused package-lock.json: regenerate it with 'npm install' and commit it." >&2
    exit 1
  fi
fi

if ! command -v nats-server >/dev/null 2>&1 && [ ! -x /usr/sbin/nats-server ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing nats-server from Debian's packages..." >&2
    (apt-get install -y -qq nats-server >/dev/null 2>&1) ||
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server >/dev/null)
  else
    echo "nats-server is missing. Install it with: sudo apt-get install nats-server" >&2
    echo "(or run purser against an existing server: purser serve --server nats://HOST:PORT)" >&2
    exit 1
  fi
fi

bash infra/containerd-protos.sh

npm run --silent build
