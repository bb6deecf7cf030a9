#!/usr/bin/env bash
# Runs purser the embedded way: installs what is missing, builds, then
# `purser serve` starts its own nats-server (infra/nats.conf) with its store
# and the views under ./var/purser. Extra arguments go to `purser serve`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash infra/setup.sh
exec node dist/src/cli/main.js serve "$@"
