#!/bin/bash
# `make bench`: build, install, and run every benchmark script
# (test/bench/*.sh, in name order; BENCH=name runs one) against a throwaway
# cluster.  Benchmarks print ratios against baselines measured in the same
# run, never bare times, and are never part of `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/common.sh

build_and_install
scripts=()
for s in test/bench/*.sh; do
	[ -e "$s" ] || continue
	if [ -n "${BENCH:-}" ] && [ "$(basename "$s" .sh)" != "$BENCH" ]; then continue; fi
	scripts+=("$s")
done
[ ${#scripts[@]} -gt 0 ] || { echo "no benchmark selected" >&2; exit 1; }
in_cluster -o jit=off -o shared_buffers=1GB -o max_wal_size=8GB -o checkpoint_timeout=30min \
	bash -c 'set -e; for s in "$@"; do echo "=== $(basename "$s" .sh)"; bash "$s"; done' bench "${scripts[@]}"
