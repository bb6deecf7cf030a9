#!/usr/bin/env bash
# Runs the whole test suite (what CI runs): installs what is missing, then
# `npm test` (tsc, then node --test against real nats-server and LMDB).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash infra/setup.sh
# The tests read the real OCI archive of ../shared/fixtures. A clone made
# elsewhere (`git clone . $(mktemp -d)`) has no ../shared: find it beside the
# repository it was cloned from.
if [ -z "${PURSER_FIXTURES:-}" ] && [ ! -d ../shared/fixtures ]; then
  origin="$(git config --get remote.origin.url || true)"
  if [ -n "$origin" ] && [ -d "$origin/../shared/fixtures" ]; then
    PURSER_FIXTURES="$(cd "$origin/../shared/fixtures" && pwd)"
    export PURSER_FIXTURES
  else
    echo "test.sh: ../shared/fixtures not found (set PURSER_FIXTURES to the directory holding anchor-1.0.oci.tar)" >&2
    exit 1
  fi
fi
npm test
