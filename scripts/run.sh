#!/bin/sh
# The README's main-job command: installs, builds, and starts the live viewer on
# a real mat when one is plugged in, else on the virtual mat. Arguments go to
# `knotmap view` (try --help).
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh build
scripts/build.sh
exec "${KM_BUILD_DIR:-build}/cli/knotmap" view "$@"
