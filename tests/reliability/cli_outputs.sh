#!/bin/sh
# Every file the knotmap command writes, against the four things that used to
# lose data (docs/reliability.md, "Whole-file outputs"):
#   link      a symbolic link planted at the output: refused (also with --force);
#             the link's target keeps its bytes and mode
#   existing  an older file at the output, no --force: refused, kept as it was
#   full      the disk fills while writing (a file-size limit, SIGXFSZ ignored so
#             write() fails with EFBIG; 512 bytes), with --force: an error, the older file
#             kept byte for byte, no temporary file left beside it
#   readonly  a folder the user cannot write (run as nobody when we are root):
#             an error, nothing created
# usage: cli_outputs.sh /path/to/knotmap
# The work folder is under /tmp so that nobody can reach it (a build folder may
# sit inside root's 0700 home).
set -u
K="$1"
W=$(mktemp -d /tmp/km-outputs-XXXXXX) || exit 1
trap 'rm -rf "$W"' EXIT
chmod 755 "$W"
fail() { echo "FAIL: $*"; exit 1; }
export SDL_VIDEODRIVER=dummy SDL_AUDIODRIVER=dummy # the viewer's screenshot, headless

# An input every command can read: 1.5 s of the tennis-ball demo.
"$K" record --sim tennis-ball-trapezius --duration 1.5 --fast --no-history \
	-o "$W/in.kmrec" > /dev/null 2>&1 || fail "could not record the input"

# name | output file | command line (OUT stands for the output's path)
outputs='
export-csv|out.csv|export IN --format csv -o OUT
export-json|out.json|export IN --format json -o OUT
export-npy|out.npy|export IN --format npy -o OUT
export-tekscan|out.txt|export IN --format tekscan -o OUT
export-png|out.png|export IN --format png -o OUT
sim-truth|truth.json|sim back-lying --duration 0.5 --quiet-summary --truth OUT
sim-packets|packets.bin|sim back-lying --duration 0.5 --quiet-summary --packets OUT
record|rec.kmrec|record --sim back-lying --duration 1 --fast --no-history -o OUT
screenshot|shot.png|view --replay IN --no-sound --screenshot OUT --after 0.2
'

# Runs one output's command in folder $1 with --force when $2 is "force";
# extra shell set-up (ulimit, user) comes from $RUN_AS / $LIMIT.
run_output() { # dir force cmdline
	dir=$1 force=$2 line=$3
	args=$(echo "$line" | sed "s|IN|$W/in.kmrec|g; s|OUT|$dir/$file|g")
	[ "$force" = force ] && args="$args --force"
	# shellcheck disable=SC2086
	(
		cd "$dir" || exit 99
		[ -n "${LIMIT:-}" ] && { trap '' XFSZ; ulimit -f "$LIMIT"; }
		exec ${RUN_AS:-} "$K" $args
	) > "$W/last.out" 2>&1
}

is_root=0
[ "$(id -u)" -eq 0 ] && is_root=1
if [ $is_root = 1 ]; then
	# nobody must reach the binary and the input: a copy in a world-readable place
	cp "$K" "$W/knotmap-copy" && chmod 755 "$W/knotmap-copy"
	chmod 644 "$W/in.kmrec"
fi

echo "$outputs" | while IFS='|' read -r name file line; do
	[ -n "$name" ] || continue

	# link: a planted link at the output, with and without --force
	d="$W/$name-link"
	mkdir -p "$d"
	printf 'not yours\n' > "$d/victim"
	chmod 644 "$d/victim"
	ln -s "$d/victim" "$d/$file"
	for f in noforce force; do
		run_output "$d" $f "$line" && fail "$name: wrote through a link ($f)"
		[ "$(cat "$d/victim")" = "not yours" ] || fail "$name: the link's target changed ($f)"
		[ "$(stat -c %a "$d/victim")" = 644 ] || fail "$name: the link's target was chmod'ed"
		[ -L "$d/$file" ] || fail "$name: the link was replaced ($f)"
		grep -q "symbolic link" "$W/last.out" || fail "$name: says not why: $(cat "$W/last.out")"
	done
	[ -e "$d/nowhere" ] && fail "$name: something was created"

	# existing: an older file, no --force
	d="$W/$name-existing"
	mkdir -p "$d"
	printf 'older\n' > "$d/$file"
	run_output "$d" noforce "$line" && fail "$name: overwrote without --force"
	[ "$(cat "$d/$file")" = "older" ] || fail "$name: the older file changed"
	grep -q -- "--force" "$W/last.out" || fail "$name: no --force hint: $(cat "$W/last.out")"

	# full: the disk fills half way, with --force
	d="$W/$name-full"
	mkdir -p "$d"
	printf 'older\n' > "$d/$file"
	LIMIT=1 run_output "$d" force "$line" && fail "$name: a full disk was not an error"
	# A recording is appended while it records (crash-safe by design): with
	# --force it replaces the older file once its header is written, and keeps
	# what fitted. Every other output is whole or not there at all.
	if [ "$name" != record ]; then
		[ "$(cat "$d/$file")" = "older" ] || fail "$name: a full disk destroyed the older file"
	fi
	grep -qi "no space left\|file too large" "$W/last.out" ||
		fail "$name: a full disk, but: $(cat "$W/last.out")"
	left=$(ls -A "$d" | grep -v "^$file\$")
	[ -z "$left" ] || fail "$name: left behind on a full disk: $left"

	# readonly: a folder nobody may write (needs root to become nobody)
	if [ $is_root = 1 ]; then
		d="$W/$name-readonly"
		mkdir -p "$d"
		chown 65534:65534 "$d"
		chmod 555 "$d"
		K_SAVE=$K
		K="$W/knotmap-copy"
		RUN_AS="setpriv --reuid=65534 --regid=65534 --clear-groups" \
			run_output "$d" noforce "$line" && fail "$name: wrote into a read-only folder"
		K=$K_SAVE
		[ -z "$(ls -A "$d")" ] || fail "$name: created in a read-only folder: $(ls -A "$d")"
		grep -qi "permission denied" "$W/last.out" || fail "$name: says not why: $(cat "$W/last.out")"
	fi
	echo "ok $name"
done || exit 1
echo "ok"
