#!/bin/sh
# The README's test command: installs what the tests need, builds, runs every test.
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh test
scripts/build.sh -DKM_BUILD_TESTS=ON
ctest --test-dir "${KM_BUILD_DIR:-build}" --output-on-failure --parallel "$(nproc)" "$@"
