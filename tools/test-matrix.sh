#!/bin/bash
# `make test-matrix [VERSIONS="17 18"]`: run the full `make test` of the
# current working tree (uncommitted changes included) on other PostgreSQL
# majors, each inside a Debian root that ships it: 17 in Debian 13 (trixie),
# 18 in Debian unstable (sid, best effort: reported, never failing the run),
# 15 in Debian 12 (bookworm).  Roots are built with debootstrap from this
# machine's own apt mirror and cached as tarballs outside the work tree
# (PIPELINE_MATRIX_CACHE, default /var/cache/pipeline-matrix); each run
# unpacks a fresh copy.  Needs root (debootstrap, chroot, mounts).
#
# Usage: tools/test-matrix.sh [--rebuild] [VERSION...]    (default: 17)
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
for a in "$@"; do
	case "$a" in
		--rebuild) rebuild=1 ;;
		-h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
		*) for w in $a; do versions+=("$w"); done ;;
	esac
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
for t in debootstrap chroot mount tar; do
	if ! command -v "$t" >/dev/null 2>&1; then
		echo "test-matrix: '$t' is missing (apt-get install debootstrap)" >&2
		exit 2
	fi
done

mkdir -p "$MATRIX_CACHE/logs"
RUN_DIR=""
RUN_ROOT=""
# cleanup: kill what still runs in the unpacked root, unmount, delete it.
cleanup() {
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
copy_tree() {
	local dest=$1
	mkdir -p "$dest"
	if git -C "$SRC" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		git -C "$SRC" ls-files -z -co --exclude-standard |
			while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
			tar -C "$SRC" --null -T - -cf - | tar -C "$dest" -xf -
	else
		tar -C "$SRC" --exclude='*.o' --exclude='*.so' --exclude='*.bc' -cf - . | tar -C "$dest" -xf -
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

# run_version V: build/reuse V's root, run `make test` in it; sets STATUS
# (PASS/FAIL/SKIPPED), DETAIL, TIMING and TAIL (diff excerpt on failure).
run_version() {
	local v=$1 tarball log t0 t1 tu t2 rc=0 how
	STATUS="" DETAIL="" TAIL="" TIMING=""
	tarball=$(matrix_tarball "$v")
	log="$MATRIX_CACHE/logs/pg$v-test.log"
	t0=$(date +%s)
	# V's lock: exclusive while the root is (re)built, shared while a run
	# uses it, so a --rebuild never pulls the lower layer from under a run.
	exec 9>"$MATRIX_CACHE/.lock-pg$v"
	flock -x 9
	if [ $rebuild = 1 ] || [ ! -s "$tarball" ]; then
		how="root built"
		if ! matrix_build_root "$v" "$tarball" "$MATRIX_CACHE/logs/pg$v-root.log"; then
			flock -u 9
			local why
			why=$(grep -E '^(E: |debootstrap: |W: Failure)' "$MATRIX_CACHE/logs/pg$v-root.log" | head -n 1 | cut -c1-200)
			STATUS=FAIL
			matrix_best_effort "$v" && STATUS=SKIPPED
			DETAIL="could not build the $(matrix_suite "$v") root: ${why:-see $MATRIX_CACHE/logs/pg$v-root.log}"
			return 0
		fi
	else
		how="cached root"
	fi
	local lower="" overlay=0
	matrix_ensure_lower "$v" && lower=$(matrix_lower "$v")
	flock -s 9
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
	# Missing test dependencies are installed with network access first; the
	# throwaway clusters then run in their own network namespace
	# (PG_VIRTUALENV_UNSHARE), so they never collide with the host's ports.
	# shellcheck disable=SC2016 # expanded by the inner bash
	MATRIX_ENV="PG_MAJOR=$v WERROR=1 PG_VIRTUALENV_UNSHARE=-n" \
		timeout --kill-after=30 "${PIPELINE_MATRIX_TIMEOUT:-2400}" \
		bash -c '. tools/matrix-lib.sh; matrix_in_root "$1" "cd /build/pipeline && tools/install-deps.sh && make test && { [ ! -x test/client/run.sh ] || echo MATRIX-CLIENT-OK; }"' _ "$RUN_ROOT" \
		9>&- 2>&1 | tee "$log" | sed -u "s/^/[pg$v] /" || rc=$?
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
	DETAIL="$(summarize "$log" "$RUN_ROOT/build/pipeline")"
	[ $overlay = 1 ] && how="$how, overlay" || how="$how, unpacked"
	TIMING="$how: $((t1 - t0)) s, setup: $((tu - t1)) s, make test: $((t2 - tu)) s"
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
