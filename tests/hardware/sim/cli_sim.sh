#!/bin/sh
# knotmap sim: usage errors exit 2 naming the option; --list; truth JSON and
# packets are written, deterministic per seed; outputs never clobber a file
# without --force, never write through a symbolic link, and come out 0600.
# usage: cli_sim.sh /path/to/knotmap WORKDIR
set -u
K="$1"
W="$2"
rm -rf "$W"
mkdir -p "$W"
fail() { echo "FAIL: $*"; exit 1; }

"$K" sim --help > "$W/help.txt" || fail "--help exit $?"
grep -q -- "--packets" "$W/help.txt" || fail "--help does not document --packets"

"$K" sim --list > "$W/list.txt" || fail "--list exit $?"
for s in back-lying tennis-ball-trapezius lacrosse-ball-glute foam-roller-thigh \
	roller-device tensing-up faulty-sensor; do
	grep -q "^  $s " "$W/list.txt" || fail "--list lacks $s"
done

expect_usage() { # expected-text args...
	want="$1"; shift
	"$K" sim "$@" > /dev/null 2> "$W/err.txt"
	rc=$?
	[ "$rc" -eq 2 ] || fail "'$*' exit $rc, want 2"
	grep -q -- "$want" "$W/err.txt" || fail "'$*' message lacks '$want': $(cat "$W/err.txt")"
}
expect_usage "--bogus" back-lying --bogus
expect_usage "--seed" back-lying --seed abc
expect_usage "--seed" back-lying --seed -1
expect_usage "--duration" back-lying --duration 0
expect_usage "--duration" back-lying --duration
expect_usage "--rate" back-lying --rate 5000
expect_usage "SCENARIO"
expect_usage "extra" back-lying extra

"$K" sim no-such-scenario > /dev/null 2>&1
[ $? -eq 1 ] || fail "unknown scenario must exit 1"

"$K" sim tennis-ball-trapezius --duration 0.5 --seed 7 --truth "$W/a.json" \
	--packets "$W/a.bin" --quiet-summary || fail "run exit $?"
"$K" sim tennis-ball-trapezius --duration 0.5 --seed 7 --packets "$W/b.bin" \
	--quiet-summary || fail "run exit $?"
"$K" sim tennis-ball-trapezius --duration 0.5 --seed 8 --packets "$W/c.bin" \
	--quiet-summary || fail "run exit $?"
[ -s "$W/a.bin" ] || fail "no packets"
cmp -s "$W/a.bin" "$W/b.bin" || fail "same seed, different packets"
cmp -s "$W/a.bin" "$W/c.bin" && fail "different seed, same packets"
if command -v python3 > /dev/null; then
	python3 - "$W/a.json" <<'PY' || fail "truth JSON"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["scenario"] == "tennis-ball-trapezius", d["scenario"]
assert len(d["frames"]) == 50, len(d["frames"])
assert d["frames"][0]["seq"] == 0 and d["frames"][-1]["seq"] == 49
assert d["tool"] == "tennis_ball" and d["body"] is True
assert "sacrum" in d["landmarks"]
PY
fi
# An existing output is kept without --force, replaced with it.
echo "keep me" > "$W/old.json"
"$K" sim back-lying --duration 0.1 --truth "$W/old.json" --quiet-summary 2> "$W/err.txt"
[ $? -eq 1 ] || fail "existing --truth without --force must exit 1"
grep -q "already exists" "$W/err.txt" || fail "message: $(cat "$W/err.txt")"
[ "$(cat "$W/old.json")" = "keep me" ] || fail "existing --truth file was changed"
"$K" sim back-lying --duration 0.1 --truth "$W/old.json" --force --quiet-summary ||
	fail "--force exit $?"
grep -q '"scenario"' "$W/old.json" || fail "--force did not replace the file"
[ "$(stat -c %a "$W/old.json")" = 600 ] || fail "truth mode $(stat -c %a "$W/old.json")"

# A planted link is never followed, even with --force; a dangling one creates nothing.
echo "not yours" > "$W/victim"
chmod 644 "$W/victim"
ln -s "$W/victim" "$W/link.bin"
ln -s "$W/nowhere" "$W/dangling.json"
"$K" sim back-lying --duration 0.1 --packets "$W/link.bin" --force --quiet-summary 2>/dev/null
[ $? -eq 1 ] || fail "--packets through a link must exit 1"
"$K" sim back-lying --duration 0.1 --truth "$W/dangling.json" --quiet-summary 2>/dev/null
[ $? -eq 1 ] || fail "--truth through a dangling link must exit 1"
[ "$(cat "$W/victim")" = "not yours" ] || fail "the link's target was written"
[ "$(stat -c %a "$W/victim")" = 644 ] || fail "the link's target was chmod'ed"
[ -e "$W/nowhere" ] && fail "a file was created through a dangling link"

# umask 000 still gives 0600, and no temporary file is left anywhere.
(umask 000 && "$K" sim back-lying --duration 0.1 --packets "$W/u.bin" --quiet-summary) ||
	fail "umask 000 run exit $?"
[ "$(stat -c %a "$W/u.bin")" = 600 ] || fail "packets mode $(stat -c %a "$W/u.bin") under umask 000"
ls -A "$W" | grep -q '\.tmp$' && fail "temporary file left: $(ls -A "$W")"
echo "ok"
