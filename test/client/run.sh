#!/bin/bash
# Client tests (run by `make test` inside the throwaway cluster, after
# pg_regress): the application flow and BI discovery through Debian's
# psycopg2 and SQLAlchemy.  Connection settings come from PG* variables.
set -euo pipefail
cd "$(dirname "$0")"
exec /usr/bin/python3 -B test_clients.py "$@"
