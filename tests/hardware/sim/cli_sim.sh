#!/bin/sh
# knotmap sim: usage errors exit 2 naming the option; --list; truth JSON and
# packets are written, deterministic per seed.
# usage: cli_sim.sh /path/to/knotmap WORKDIR
set -u
K="$1"
W="$2"
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
echo "ok"
