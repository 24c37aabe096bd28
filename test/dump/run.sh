#!/bin/bash
# Shell tests of dump and restore, run by `make test` inside the throwaway
# cluster (tools/run-tests.sh: in_cluster test/dump/run.sh).  Runs every
# test/dump/*.sh but this one; exits non-zero if any fails.
set -euo pipefail
cd "$(dirname "$0")"
passed=0
failed=0
for t in *.sh; do
	[ "$t" = run.sh ] && continue
	echo "== test/dump/$t"
	if ./"$t"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
echo "test/dump: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
