#!/usr/bin/env bash
# Runs the whole test suite (what CI runs): installs what is missing, then
# `npm test` (tsc, then node --test against real nats-server and LMDB).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash infra/setup.sh
npm test
