#!/bin/sh
# The README's main-job command: installs, builds, and starts the live viewer on
# a real mat when one is plugged in, else on the virtual mat. Arguments go to
# `knotmap view` (try --help).
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh build
dir=${KM_BUILD_DIR:-build}
if [ -f "$dir/CMakeCache.txt" ]; then
  scripts/build.sh              # keep whatever scripts/test.sh configured
else
  scripts/build.sh -DKM_BUILD_TESTS=OFF   # the test packages are not needed to run
fi
exec "$dir/cli/knotmap" view "$@"
