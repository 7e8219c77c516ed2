#!/bin/sh
# Regenerates body-chart.png and session-report.png in this folder: four
# `knotmap record` sessions of the virtual mat into a scratch history
# (back-lying, seeds 1-3, and the lying scan of guided-upper-back), their
# dates then moved to days 0, 5, 9 and 11 (the virtual mat records today; the
# 7-day rule needs sessions more than a week apart), then
# `knotmap history --chart`, `knotmap export --format png` and the viewer's
# history screen (the B key) over the same history.
# usage: docs/screenshots/make-chart-screenshots.sh [path/to/knotmap]
# Needs sqlite3 (the shell) for the dates, xvfb (xvfb-run) for the viewer.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
knotmap=${1:-knotmap}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export XDG_DATA_HOME="$tmp/data"
rec() { # scenario seed seconds
	"$knotmap" record --sim "$1" --seed "$2" --duration "$3" --fast -o "$tmp/s$2.kmrec" >/dev/null
}
rec back-lying 1 6
rec back-lying 2 6
rec guided-upper-back 3 18
rec back-lying 4 6
day=86400000000
sqlite3 "$XDG_DATA_HOME/knotmap/history.db" "
  UPDATE observations SET time_us = time_us -
    (CASE session_id WHEN 1 THEN 11 WHEN 2 THEN 6 WHEN 3 THEN 2 ELSE 0 END) * $day;
  UPDATE sessions SET start_us = start_us -
    (CASE id WHEN 1 THEN 11 WHEN 2 THEN 6 WHEN 3 THEN 2 ELSE 0 END) * $day,
    end_us = end_us - (CASE id WHEN 1 THEN 11 WHEN 2 THEN 6 WHEN 3 THEN 2 ELSE 0 END) * $day;
  UPDATE knots SET
    first_seen_us = (SELECT MIN(time_us) FROM observations o WHERE o.knot_id = knots.id),
    last_seen_us = (SELECT MAX(time_us) FROM observations o WHERE o.knot_id = knots.id);"
"$knotmap" history
"$knotmap" history --chart "$here/body-chart.png" --force
"$knotmap" export "$tmp/s4.kmrec" -o "$here/session-report.png" --force
xvfb-run -a -s "-screen 0 1280x800x24" \
	"$knotmap" view --sim back-lying --seed 1 --speed 4 --no-sound --keys b \
	--screenshot "$here/viewer-history.png" --after 2 --force
