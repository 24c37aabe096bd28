#!/bin/sh
# Print the PostgreSQL major version to build for: PG_CONFIG's if it works,
# else the newest postgresql-server-dev Debian offers, else 15.
set -eu
if v=$(${PG_CONFIG:-pg_config} --version 2>/dev/null); then
	echo "$v" | sed -E 's/^PostgreSQL ([0-9]+).*/\1/'
	exit 0
fi
for d in /usr/lib/postgresql/*/bin/postgres; do
	[ -e "$d" ] && basename "$(dirname "$(dirname "$d")")"
done | sort -n | tail -1 | grep . && exit 0
echo 15
