#!/bin/bash
# `make stress`: the long hardening runs that do not fit in `make test`.
# Builds and installs the extension (as `make test` does), then runs every
# test/stress/*.sh; each starts its own throwaway server and prints its
# bounds and figures.  Exits non-zero if any fails.
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/common.sh

build_and_install
passed=0
failed=0
for s in test/stress/*.sh; do
	[ -x "$s" ] || continue
	echo "== $s"
	if PG_CONFIG="$PG_CONFIG" "$s"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
echo "stress: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
