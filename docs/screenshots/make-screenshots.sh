#!/bin/sh
# Regenerates the viewer screenshots in this folder from the virtual mat.
# usage: docs/screenshots/make-screenshots.sh [path/to/knotmap]
# Needs xvfb (xvfb-run). Times are mat time (frame clock), so the pictures do
# not depend on how fast the machine is; --speed only shortens the wait.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
knotmap=${1:-knotmap}
shot() { # scenario seconds file [more view options]
	scenario=$1 after=$2 file=$3
	shift 3
	xvfb-run -a -s "-screen 0 1280x800x24" \
		"$knotmap" view --sim "$scenario" --seed 1 --speed 4 --screenshot "$here/$file" \
		--after "$after" --force "$@"
}
shot back-lying 25 back-lying.png
shot tennis-ball-trapezius 56 tennis-ball-hold-40s.png
shot tensing-up 24.5 tensing-up.png
shot roller-device 29 roller-device.png
shot foam-roller-thigh 30 foam-roller-thigh.png
shot guided-upper-back 21.6 guided-place-ball.png --guided --no-sound >/dev/null
shot guided-upper-back 45 guided-hold.png --guided --no-sound >/dev/null
