#!/bin/bash
# `make test`: build with -Werror, install, and run every suite against a
# throwaway cluster: pg_regress, isolation, then the client tests.
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/common.sh

build_and_install
status=0
in_cluster $MAKE -s PG_CONFIG="$PG_CONFIG" installcheck || status=$?
if [ $status -ne 0 ]; then
	for f in regression.diffs output_iso/regression.diffs; do
		[ -s "$f" ] && { echo "==== $f"; head -n 300 "$f"; }
	done
	exit $status
fi
# Client tests (psycopg2, SQLAlchemy), dump and restore, a short load with
# a crash in the middle: each prints its own "N passed, N failed" line.
in_cluster test/client/run.sh
in_cluster test/dump/run.sh
in_cluster test/managed/run.sh
LOAD_SECONDS=8 LOAD_CLIENTS=4 LOAD_TPS_SECONDS=2 LOAD_CRASH_SECONDS=6 test/stress/load.sh
