# Shared by the front-door scripts: pick the PostgreSQL major, build and
# install the extension into it (as root or through sudo).
PG_MAJOR=${PG_MAJOR:-$(tools/pg-major.sh)}
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/$PG_MAJOR/bin/pg_config}
export PG_MAJOR PG_CONFIG
if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
MAKE=${MAKE:-make}

# build_and_install: warnings are errors for everything we ship.
build_and_install() {
	$MAKE -s PG_CONFIG="$PG_CONFIG" WERROR=1 all
	$SUDO $MAKE -s PG_CONFIG="$PG_CONFIG" install >/dev/null
}

# in_cluster CMD...: run CMD against a throwaway cluster of PG_MAJOR.
in_cluster() {
	pg_virtualenv -v "$PG_MAJOR" -o max_prepared_transactions=10 "$@"
}
