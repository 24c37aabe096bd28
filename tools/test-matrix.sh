#!/bin/bash
# `make test-matrix [VERSIONS="17 18"]`: run the full `make test` of the
# current working tree (uncommitted changes included) on other PostgreSQL
# majors, each inside a Debian root that ships it: 17 in Debian 13 (trixie),
# 18 in Debian unstable (sid, best effort: reported, never failing the run),
# 15 in Debian 12 (bookworm).  Roots are built with debootstrap from this
# machine's own apt mirror and cached as tarballs outside the work tree
# (PIPELINE_MATRIX_CACHE, default /var/cache/pipeline-matrix); each run
# works on a fresh overlay of the cached root.  Needs root (debootstrap,
# chroot, mounts).
#
# Usage: tools/test-matrix.sh [--rebuild] [--cmd 'SHELL CMD'] [VERSION...]
#        (default version 17; --cmd runs CMD in the tree's copy instead of
#        `make test`, e.g. --cmd 'make -k WERROR=1' to only compile)
# Env:   PIPELINE_MATRIX_CACHE, PIPELINE_MATRIX_MIRROR, PIPELINE_MATRIX_TMPDIR,
#        PIPELINE_MATRIX_KEEP=1 (keep the unpacked root of a failed run),
#        PIPELINE_MATRIX_TIMEOUT (seconds per version, default 2400).
# Exit:  0 all required versions passed, 1 a required version failed,
#        2 usage error or not root.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$(pwd)
. tools/matrix-lib.sh

rebuild=0
versions=()
DEFAULT_CMD='tools/install-deps.sh && make test && { [ ! -x test/client/run.sh ] || echo MATRIX-CLIENT-OK; }'
RUN_CMD=$DEFAULT_CMD
while [ $# -gt 0 ]; do
	case "$1" in
		--rebuild) rebuild=1 ;;
		--cmd) [ $# -ge 2 ] || { echo "test-matrix: --cmd needs an argument" >&2; exit 2; }
			RUN_CMD=$2; shift ;;
		-h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
		*) for w in $1; do versions+=("$w"); done ;;
	esac
	shift
done
[ ${#versions[@]} -eq 0 ] && versions=(17)

if [ "$(id -u)" -ne 0 ]; then
	echo "test-matrix: needs root (debootstrap, chroot and bind mounts); run it as root, e.g. 'sudo make test-matrix'" >&2
	exit 2
fi
for v in "${versions[@]}"; do
	if [ -z "$(matrix_suite "$v")" ]; then
		echo "test-matrix: no Debian suite ships PostgreSQL '$v' here; supported: 15 (bookworm), 17 (trixie), 18 (sid, best effort)" >&2
		exit 2
	fi
done
# Like the other front-door targets, install what is missing (debootstrap;
# zstd for smaller, faster tarballs, gzip otherwise).
if ! command -v debootstrap >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
	echo "test-matrix: installing debootstrap zstd" >&2
	if env DEBIAN_FRONTEND=noninteractive apt-get update -qq; then
		env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap zstd >/dev/null || true
	fi
fi
for t in debootstrap chroot mount mountpoint flock timeout tar; do
	if ! command -v "$t" >/dev/null 2>&1; then
		echo "test-matrix: '$t' is missing (apt-get install debootstrap)" >&2
		exit 2
	fi
done

mkdir -p "$MATRIX_CACHE/logs"
RUN_DIR=""
RUN_ROOT=""
BUILD_DIR=""
CHILD=""
# run_waiting CMD...: run CMD (command or function) as a background job in
# its own process group and wait for it: bash runs traps only between
# foreground commands, so this lets INT/TERM reach cleanup at once, and
# cleanup can end the whole job.  Call it in a `||` context.
run_waiting() {
	local rc=0
	set -m
	"$@" </dev/null &
	CHILD=$!
	set +m
	wait "$CHILD" || rc=$?
	CHILD=""
	return $rc
}

# cleanup: end our running job and whatever runs in the version's root,
# unmount, delete the run's (or an interrupted build's) directory.
cleanup() {
	if [ -n "$CHILD" ]; then
		kill -TERM -- "-$CHILD" 2>/dev/null || true
		CHILD=""
	fi
	if [ -n "$BUILD_DIR" ]; then
		matrix_remove "$BUILD_DIR" "$BUILD_DIR/root" || true
		BUILD_DIR=""
	fi
	if [ -n "$RUN_DIR" ]; then
		if [ "${PIPELINE_MATRIX_KEEP:-}" = 1 ] && [ "${KEEP_THIS:-0}" = 1 ]; then
			matrix_kill_inside "$RUN_ROOT"
			matrix_umount "$RUN_ROOT" keep-root
			echo "test-matrix: kept $RUN_ROOT (when done: umount $RUN_ROOT if it is an overlay, then rm -rf $RUN_DIR)" >&2
		else
			matrix_remove "$RUN_DIR" "$RUN_ROOT" || true
		fi
	fi
	RUN_DIR=""
	RUN_ROOT=""
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# copy_tree DEST: the working tree as git sees it (tracked + untracked, not
# ignored, uncommitted edits included); the whole directory without git.
# Plus the npm packages of the client tests.
copy_tree() {
	local dest=$1
	mkdir -p "$dest"
	# safe.directory: root runs this on a checkout another user may own.
	if git -c safe.directory='*' -C "$SRC" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		git -c safe.directory='*' -C "$SRC" ls-files -z -co --exclude-standard |
			while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
			tar -C "$SRC" --null -T - -cf - | tar -C "$dest" -xf -
	else
		tar -C "$SRC" --exclude='*.o' --exclude='*.so' --exclude='*.bc' -cf - . | tar -C "$dest" -xf -
	fi
	# The client tests' npm packages (git-ignored; installed on this machine
	# by tools/install-deps.sh): plain JavaScript, so they run in any root,
	# and the root need not reach the npm registry itself (it may not trust
	# this machine's certificate authorities).
	if [ -d "$SRC/test/client/node_modules" ]; then
		tar -C "$SRC" -cf - test/client/node_modules | tar -C "$dest" -xf -
	fi
}

# summarize LOG TREE: "pg_regress: All n tests passed; isolation: ..." from
# the pg_regress summary lines of a `make test` log.  PostgreSQL 16+ names
# each run ("+++ regress install-check"); for 15, runs are regress first,
# then isolation, as PGXS's installcheck orders them.
summarize() {
	local log=$1 tree=$2 fallback="" out
	ls "$tree"/test/sql/*.sql >/dev/null 2>&1 && fallback="pg_regress"
	ls "$tree"/test/specs/*.spec >/dev/null 2>&1 && fallback="$fallback isolation"
	out=$(awk -v fallback="$fallback" '
		BEGIN { nf = split(fallback, fb, " ") }
		/\+\+\+ regress/ { name = "pg_regress" }
		/\+\+\+ isolation/ { name = "isolation" }
		/tests passed|tests failed|failed test/ {
			line = $0
			sub(/^[#= ]*/, "", line); sub(/[.= ]*$/, "", line)
			n++
			label = name != "" ? name : (n <= nf ? fb[n] : "suite " n)
			printf "%s%s: %s", (n > 1 ? "; " : ""), label, line
			name = ""
		}' "$log")
	if [ -x "$tree/test/client/run.sh" ] && grep -q '^MATRIX-CLIENT-OK' "$log"; then
		out="$out${out:+; }client tests passed"
	fi
	echo "${out:-no pg_regress summary}"
}

# run_in_root V LOG: RUN_CMD (default: make test) in the run's root, output
# to the terminal (prefixed) and LOG.  Missing test dependencies are
# installed with network access first; the throwaway clusters then run in
# their own network namespace (PG_VIRTUALENV_UNSHARE), so they never collide
# with the host's ports.
# shellcheck disable=SC2317 # called through run_waiting
run_in_root() {
	local v=$1 log=$2
	# shellcheck disable=SC2016 # expanded by the inner bash
	MATRIX_ENV="PG_MAJOR=$v WERROR=1 PG_VIRTUALENV_UNSHARE=-n" \
		timeout --kill-after=30 "${PIPELINE_MATRIX_TIMEOUT:-2400}" \
		bash -c '. tools/matrix-lib.sh; matrix_in_root "$1" "cd /build/pipeline && { $2; }"' _ "$RUN_ROOT" "$RUN_CMD" \
		9>&- 2>&1 | tee "$log" | sed -u "s/^/[pg$v] /"
}

# run_version V: build/reuse V's root, run `make test` in it; sets STATUS
# (PASS/FAIL/SKIPPED), DETAIL, TIMING and TAIL (diff excerpt on failure).
run_version() {
	local v=$1 tarball log t0 t1 tu t2 rc=0 how
	STATUS="" DETAIL="" TAIL="" TIMING=""
	tarball=$(matrix_tarball "$v")
	log="$MATRIX_CACHE/logs/pg$v-test.log"
	t0=$(date +%s)
	# V's lock: shared while a run uses the root, exclusive only while it is
	# (re)built or unpacked, so a --rebuild never pulls the lower layer from
	# under a run and concurrent runs do not wait for each other.
	exec 9>"$MATRIX_CACHE/.lock-pg$v"
	flock -s 9
	how="cached"
	if [ $rebuild = 1 ] || [ ! -s "$tarball" ] || ! matrix_lower_ok "$v"; then
		flock -u 9
		flock -x 9
		if [ $rebuild = 1 ] || [ ! -s "$tarball" ]; then
			how="built"
			BUILD_DIR=$(mktemp -d "$MATRIX_TMP/pipeline-matrix-build.XXXXXX")
			if ! run_waiting matrix_build_root "$v" "$tarball" "$MATRIX_CACHE/logs/pg$v-root.log" "$BUILD_DIR"; then
				BUILD_DIR=""
				flock -u 9
				local why
				why=$(grep -E '^(E: |debootstrap: |W: Failure)' "$MATRIX_CACHE/logs/pg$v-root.log" | head -n 1 | cut -c1-200)
				STATUS=FAIL
				matrix_best_effort "$v" && STATUS=SKIPPED
				DETAIL="could not build the $(matrix_suite "$v") root: ${why:-see $MATRIX_CACHE/logs/pg$v-root.log}"
				return 0
			fi
			BUILD_DIR=""
		fi
		if [ "$how" = cached ]; then how="cached, unpacked"; fi
		matrix_ensure_lower "$v" || true
		flock -s 9
	fi
	local lower="" overlay=0
	matrix_lower_ok "$v" && lower=$(matrix_lower "$v")
	t1=$(date +%s)

	# The run's root: an overlay on the unpacked cached root (writes go to
	# RUN_DIR/upper), or, where overlayfs is unavailable, a fresh unpack.
	RUN_DIR=$(mktemp -d "$MATRIX_TMP/pipeline-matrix-pg$v.XXXXXX")
	RUN_ROOT=$RUN_DIR/root
	mkdir -p "$RUN_ROOT" "$RUN_DIR/upper" "$RUN_DIR/work"
	if [ -n "$lower" ] && mount -t overlay overlay \
		-o "lowerdir=$lower,upperdir=$RUN_DIR/upper,workdir=$RUN_DIR/work" "$RUN_ROOT" 2>/dev/null; then
		overlay=1
	else
		matrix_decompress "$tarball" | tar -C "$RUN_ROOT" --numeric-owner -xpf -
	fi
	matrix_prepare_root "$RUN_ROOT" "$v"
	copy_tree "$RUN_ROOT/build/pipeline"
	matrix_mount "$RUN_ROOT"
	tu=$(date +%s)
	echo "test-matrix: PostgreSQL $v: make test in $(matrix_suite "$v") root $RUN_ROOT (log: $log)" >&2
	run_waiting run_in_root "$v" "$log" || rc=$?
	t2=$(date +%s)
	if [ $rc -eq 0 ]; then
		STATUS=PASS
	else
		STATUS=FAIL
		[ $rc -eq 124 ] && TAIL="timed out after ${PIPELINE_MATRIX_TIMEOUT:-2400} s"
		local f
		for f in regression.diffs output_iso/regression.diffs; do
			if [ -s "$RUN_ROOT/build/pipeline/$f" ]; then
				TAIL="$TAIL${TAIL:+$'\n'}---- tail of $f:"$'\n'"$(tail -n 40 "$RUN_ROOT/build/pipeline/$f")"
			fi
		done
		[ -z "$TAIL" ] && TAIL="---- tail of $log:"$'\n'"$(tail -n 25 "$log")"
		KEEP_THIS=1
	fi
	if [ "$RUN_CMD" = "$DEFAULT_CMD" ]; then
		DETAIL="$(summarize "$log" "$RUN_ROOT/build/pipeline")"
	else
		DETAIL="ran: $RUN_CMD"
	fi
	local setup=overlay
	[ $overlay = 1 ] || setup=unpacked
	TIMING="root $how: $((t1 - t0)) s; $setup: $((tu - t1)) s; tests: $((t2 - tu)) s"
	cleanup
	KEEP_THIS=0
	flock -u 9
}

summary=()
failed=0
for v in "${versions[@]}"; do
	run_version "$v"
	note=""
	if [ "$STATUS" != PASS ] && matrix_best_effort "$v"; then
		note=" (best effort: not failing the run)"
	elif [ "$STATUS" != PASS ]; then
		failed=1
	fi
	summary+=("PostgreSQL $v: $STATUS ($DETAIL)$note${TIMING:+ [$TIMING]}")
	[ -n "$TAIL" ] && summary+=("$TAIL")
done

echo
echo "==== test-matrix summary"
printf '%s\n' "${summary[@]}"
exit $failed
