#!/bin/sh
# Install what the build, the tests and the demo need, only if missing.
# Works as root or through sudo; on a machine with everything present it
# does nothing (no apt-get update, no network).
set -eu

PG_MAJOR=${PG_MAJOR:-$(tools/pg-major.sh)}
PACKAGES="postgresql-$PG_MAJOR postgresql-server-dev-$PG_MAJOR postgresql-common
make gcc libc6-dev python3-psycopg2 python3-sqlalchemy
libpostgresql-jdbc-java default-jdk-headless odbc-postgresql unixodbc"
# The node-postgres client test needs node, and npm to install pg unless it
# is there already (a node from elsewhere will do).
command -v node >/dev/null 2>&1 || PACKAGES="$PACKAGES nodejs"
[ -d test/client/node_modules/pg ] || command -v npm >/dev/null 2>&1 || PACKAGES="$PACKAGES npm"

missing=""
for p in $PACKAGES; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$status" in
		*"install ok installed"*) ;;
		*) missing="$missing $p" ;;
	esac
done
# node-postgres for the client tests, from npm into the folder the test owns
# (git-ignored), here rather than in the test: tests may run without network
# (the version matrix runs its clusters in their own network namespace).
install_node_pg() {
	[ -d test/client/node_modules/pg ] && return 0
	echo "installing: pg@8 (npm) into test/client/node_modules" >&2
	(cd test/client && npm install --no-save --no-package-lock --no-audit --no-fund --silent pg@8 >/dev/null)
}

if [ -z "$missing" ]; then
	install_node_pg
	exit 0
fi

if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
echo "installing:$missing" >&2
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
# On first install Debian's postgresql package creates and starts its own
# default "main" cluster on port 5432.  That is harmless: the tests use
# throwaway clusters (pg_virtualenv, or a private server for the load and
# stress runs) on other ports and never touch it, so this script leaves
# /etc/postgresql-common alone (no make target edits system configuration).
# shellcheck disable=SC2086
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold $missing >/dev/null
install_node_pg
