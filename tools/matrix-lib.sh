# shellcheck shell=bash
# Functions for tools/test-matrix.sh: find the machine's Debian mirror, build
# and cache a Debian root per PostgreSQL major, unpack it, bind-mount the
# kernel file systems into it, and tear all of that down again.
# Sourced (bash); expects `set -euo pipefail` from the caller.

MATRIX_CACHE=${PIPELINE_MATRIX_CACHE:-/var/cache/pipeline-matrix}
MATRIX_TMP=${PIPELINE_MATRIX_TMPDIR:-/var/tmp}

# matrix_suite V: the Debian suite that ships postgresql-V (empty: none).
matrix_suite() {
	case "$1" in
		15) echo bookworm ;;
		17) echo trixie ;;
		18) echo sid ;;
		*) echo "" ;;
	esac
}

# matrix_best_effort V: true when V's failure must not fail the run (its
# suite is Debian unstable, whose Release file this mirror may serve stale).
matrix_best_effort() {
	[ "$(matrix_suite "$1")" = sid ]
}

# matrix_mirror: the Debian archive URI this machine's own apt sources name
# (first non-security "deb" entry of sources.list, *.list or deb822 *.sources).
# PIPELINE_MATRIX_MIRROR overrides it.
matrix_mirror() {
	if [ -n "${PIPELINE_MATRIX_MIRROR:-}" ]; then
		echo "$PIPELINE_MATRIX_MIRROR"
		return 0
	fi
	local f uris=""
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -r "$f" ] || continue
		uris="$uris $(awk '$1 == "deb" {
			i = 2; if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
			print $i }' "$f")"
	done
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		# deb822: one stanza per paragraph; keep enabled "deb" stanzas.
		uris="$uris $(awk 'BEGIN { RS = ""; FS = "\n" }
			{ types = ""; u = ""; en = "yes"
			  for (k = 1; k <= NF; k++) {
				if ($k ~ /^Types:/) types = $k
				else if ($k ~ /^URIs:/) { u = $k; sub(/^URIs:[ \t]*/, "", u) }
				else if ($k ~ /^Enabled:/ && $k ~ /no/) en = "no"
			  }
			  if (types ~ /[ \t]deb([ \t]|$)/ && en == "yes") print u }' "$f")"
	done
	local u
	for u in $uris; do
		case "$u" in
			*security*|*cloud.google*|*nodesource*) continue ;;
			*/debian|*/debian/) echo "${u%/}"; return 0 ;;
		esac
	done
	for u in $uris; do
		case "$u" in *security*) continue ;; esac
		echo "${u%/}"
		return 0
	done
	echo "no Debian mirror found in /etc/apt/sources.list{,.d/}" >&2
	return 1
}

# matrix_tarball V: path of the cached root for V.
matrix_tarball() {
	local ext=tar.gz
	command -v zstd >/dev/null 2>&1 && ext=tar.zst
	echo "$MATRIX_CACHE/$(matrix_suite "$1")-pg$1.$ext"
}

# matrix_lower V: the unpacked copy of V's cached root, the read-only lower
# layer of each run's overlay (its tarball's name without .tar.*, + .root).
matrix_lower() {
	local t
	t=$(matrix_tarball "$1")
	echo "${t%.tar.*}.root"
}

# matrix_stamp TARBALL: identifies the tarball a lower layer was made from.
matrix_stamp() {
	stat -c '%Y %s' "$1"
}

# matrix_ensure_lower V: make V's lower layer match its tarball, unpacking it
# when missing or stale.  Caller holds V's lock exclusively.
matrix_ensure_lower() {
	local t l
	t=$(matrix_tarball "$1")
	l=$(matrix_lower "$1")
	[ -d "$l" ] && [ "$(cat "$l.stamp" 2>/dev/null)" = "$(matrix_stamp "$t")" ] && return 0
	rm -f "$l.stamp"
	rm -rf --one-file-system "$l.new"
	mkdir -p "$l.new"
	if ! { matrix_decompress "$t" | tar -C "$l.new" --numeric-owner -xpf -; }; then
		rm -rf --one-file-system "$l.new"
		return 1
	fi
	matrix_remove "$l" "$l" || return 1
	mv "$l.new" "$l"
	matrix_stamp "$t" >"$l.stamp"
}

# matrix_compress / matrix_decompress: stdin -> stdout by the tarball's suffix.
matrix_compress() {
	case "$1" in
		*.zst) zstd -q -T0 -3 ;;
		*) gzip -1 ;;
	esac
}
matrix_decompress() {
	case "$1" in
		*.zst) zstd -q -dc "$1" ;;
		*) gzip -dc "$1" ;;
	esac
}

# matrix_mount ROOT: bind-mount /proc, /dev, /dev/pts, /dev/shm and /sys
# into ROOT (recorded in ROOT's mount list so matrix_umount undoes them).
matrix_mount() {
	local r=$1 d
	for d in proc dev dev/pts dev/shm sys; do
		[ -d "/$d" ] || continue
		mountpoint -q "/$d" || [ "$d" = dev ] || continue
		mkdir -p "$r/$d"
		mount --bind "/$d" "$r/$d"
		mount --make-private "$r/$d" 2>/dev/null || true
	done
}

# matrix_kill_inside ROOT: end every process whose root directory is ROOT
# (clusters the tests left behind); they are ours, started in that chroot.
matrix_kill_inside() {
	local r p pids="" sig
	r=$(readlink -f "$1")
	for sig in TERM KILL; do
		pids=""
		for p in /proc/[0-9]*; do
			[ "$(readlink "$p/root" 2>/dev/null)" = "$r" ] && pids="$pids ${p#/proc/}"
		done
		[ -z "$pids" ] && return 0
		# shellcheck disable=SC2086
		kill -s "$sig" $pids 2>/dev/null || true
		sleep 2
	done
}

# matrix_mounts_under ROOT: mount points at or below ROOT, deepest first.
matrix_mounts_under() {
	local r
	r=$(readlink -f "$1")
	awk -v r="$r" '$2 == r || index($2, r "/") == 1 { print $2 }' /proc/mounts | sort -r
}

# matrix_umount ROOT [keep-root]: undo matrix_mount and the run's overlay
# (lazily if something is still busy); keep-root leaves ROOT itself mounted.
matrix_umount() {
	local m r
	r=$(readlink -f "$1")
	for m in $(matrix_mounts_under "$1"); do
		[ "${2:-}" = keep-root ] && [ "$m" = "$r" ] && continue
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
	done
}

# matrix_remove DIR ROOT: delete DIR, but never while anything is mounted
# below ROOT (that would delete the host's /dev).
matrix_remove() {
	local dir=$1 r=$2
	[ -n "$dir" ] && [ -d "$dir" ] || return 0
	if [ -d "$r" ]; then
		matrix_kill_inside "$r"
		matrix_umount "$r"
		if [ -n "$(matrix_mounts_under "$r")" ]; then
			echo "test-matrix: still mounted below $r; leaving $dir in place" >&2
			return 1
		fi
	fi
	rm -rf --one-file-system "$dir"
}

# matrix_in_root ROOT CMD: run a bash command line as root inside ROOT with
# a clean environment (extra VAR=value words may precede CMD via MATRIX_ENV).
matrix_in_root() {
	local r=$1
	shift
	# shellcheck disable=SC2086
	chroot "$r" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		DEBIAN_FRONTEND=noninteractive ${MATRIX_ENV:-} /bin/bash -lc "$*"
}

# matrix_prepare_root ROOT V: per-run settings that must follow this machine:
# name resolution, the mirror, no services, no "main" cluster.
matrix_prepare_root() {
	local r=$1 v=$2 suite mirror
	suite=$(matrix_suite "$v")
	mirror=$(matrix_mirror)
	cp -L /etc/resolv.conf "$r/etc/resolv.conf" 2>/dev/null || true
	if [ ! -s "$r/etc/hosts" ]; then
		printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$r/etc/hosts"
	fi
	echo "deb $mirror $suite main" >"$r/etc/apt/sources.list"
	if [ "$suite" = sid ]; then
		# unstable's Release file may be stale on this mirror.
		echo 'Acquire::Check-Valid-Until "false";' >"$r/etc/apt/apt.conf.d/99pipeline-matrix"
	fi
	printf '#!/bin/sh\nexit 101\n' >"$r/usr/sbin/policy-rc.d"
	chmod 755 "$r/usr/sbin/policy-rc.d"
	mkdir -p "$r/etc/postgresql-common"
	if ! grep -qs '^create_main_cluster *= *false' "$r/etc/postgresql-common/createcluster.conf"; then
		echo 'create_main_cluster = false' >>"$r/etc/postgresql-common/createcluster.conf"
	fi
}

# matrix_build_steps V ROOT MIRROR: debootstrap V's suite into ROOT and
# install PostgreSQL V plus the build and test tools.  Every step is checked
# explicitly: callers run it in a `||` context, where `set -e` does not apply.
matrix_build_steps() {
	local v=$1 r=$2 mirror=$3 suite apt_opts
	suite=$(matrix_suite "$v")
	apt_opts="-y -q --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold"
	debootstrap --variant=minbase "$suite" "$r" "$mirror" || return 1
	matrix_prepare_root "$r" "$v" || return 1
	matrix_mount "$r" || return 1
	matrix_in_root "$r" "apt-get -q -o Acquire::Check-Valid-Until=false update" || return 1
	# postgresql-common first, so the "no main cluster" setting is in place
	# before any server package's postinst runs.
	matrix_in_root "$r" "apt-get install $apt_opts postgresql-common" || return 1
	matrix_prepare_root "$r" "$v" || return 1
	matrix_in_root "$r" "apt-get install $apt_opts postgresql-$v postgresql-server-dev-$v \
		make gcc libc6-dev git ca-certificates iproute2 procps \
		python3 python3-psycopg2 python3-sqlalchemy" || return 1
	matrix_in_root "$r" "apt-get clean; rm -rf /var/lib/apt/lists/*" || return 1
	test -x "$r/usr/lib/postgresql/$v/bin/postgres" || return 1
	test -x "$r/usr/lib/postgresql/$v/bin/pg_config" || return 1
}

# matrix_build_root V TARBALL LOG: build V's root (matrix_build_steps, output
# in LOG) and pack it as TARBALL; the build directory is always removed.
matrix_build_root() {
	local v=$1 tarball=$2 log=$3 mirror work r rc=0
	mirror=$(matrix_mirror) || return 1
	mkdir -p "$MATRIX_CACHE"
	work=$(mktemp -d "$MATRIX_TMP/pipeline-matrix-build.XXXXXX")
	r=$work/root
	echo "test-matrix: building $(matrix_suite "$v") root for PostgreSQL $v from $mirror (log: $log)" >&2
	matrix_build_steps "$v" "$r" "$mirror" >"$log" 2>&1 || rc=1
	matrix_kill_inside "$r"
	matrix_umount "$r"
	if [ $rc -eq 0 ]; then
		{ tar -C "$r" --numeric-owner --one-file-system -cf - . | matrix_compress "$tarball" >"$tarball.tmp.$$"; } &&
			mv -f "$tarball.tmp.$$" "$tarball" || rc=1
		rm -f "$tarball.tmp.$$"
	fi
	# The fresh root becomes the lower layer as it is (no unpacking).
	local l
	l=$(matrix_lower "$v")
	if [ $rc -eq 0 ] && [ -z "$(matrix_mounts_under "$r")" ] && rm -f "$l.stamp" && matrix_remove "$l" "$l"; then
		mv "$r" "$l" && matrix_stamp "$tarball" >"$l.stamp"
	fi
	matrix_remove "$work" "$r" || true
	return $rc
}
