#!/bin/sh
# Install what the build, the tests and the demo need, only if missing.
# Works as root or through sudo; on a machine with everything present it
# does nothing (no apt-get update, no network).
set -eu

PG_MAJOR=${PG_MAJOR:-$(tools/pg-major.sh)}
PACKAGES="postgresql-$PG_MAJOR postgresql-server-dev-$PG_MAJOR postgresql-common
make gcc libc6-dev python3-psycopg2 python3-sqlalchemy"

missing=""
for p in $PACKAGES; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$status" in
		*"install ok installed"*) ;;
		*) missing="$missing $p" ;;
	esac
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
echo "installing:$missing" >&2
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
# Debian's postgresql-common would create a "main" cluster per major; the
# tests use throwaway clusters (pg_virtualenv), so do not start one.
if [ ! -e /etc/postgresql-common/createcluster.conf ] || ! grep -q '^create_main_cluster *= *false' /etc/postgresql-common/createcluster.conf; then
	$SUDO mkdir -p /etc/postgresql-common
	echo 'create_main_cluster = false' | $SUDO tee -a /etc/postgresql-common/createcluster.conf >/dev/null
fi
# shellcheck disable=SC2086
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold $missing >/dev/null
