#!/bin/sh
# Soak test (not in CI; CI runs 20 s of it as ctest test_reliability_soak):
# the virtual mat in real time through the dsp pipeline into the recorder for
# MINUTES (default 60), RSS and library memory sampled every 30 s, recordings
# rotated and read back. Prints the table; fails on memory growth or counter
# drift (see tests/reliability/soak.c).
# Usage: scripts/soak.sh [MINUTES]   (build dir: $KM_BUILD_DIR or build)
set -eu
cd "$(dirname "$0")/.."
minutes=${1:-60}
case $minutes in
'' | *[!0-9]*)
	echo "usage: scripts/soak.sh [MINUTES]" >&2
	exit 2
	;;
esac
dir=${KM_BUILD_DIR:-build}
gen=""
command -v ninja >/dev/null 2>&1 && gen="-G Ninja"
[ -f "$dir/CMakeCache.txt" ] && gen=""
# shellcheck disable=SC2086
cmake -S . -B "$dir" $gen -DKM_BUILD_TESTS=ON >/dev/null
cmake --build "$dir" --target test_reliability_soak --parallel 2
exec "$dir/tests/reliability/test_reliability_soak" $((minutes * 60)) "${KM_SOAK_SAMPLE_S:-30}"
