#!/bin/bash
# `make demo`: build, install, and run the analyst report (test/demo/demo.sql)
# on a throwaway cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/common.sh

build_and_install
in_cluster psql -X -q -v ON_ERROR_STOP=1 -P pager=off -f test/demo/demo.sql
