#!/bin/sh
# The README's test command: installs what the tests need, builds, runs every test.
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh test
scripts/build.sh -DKM_BUILD_TESTS=ON
ctest --test-dir "${KM_BUILD_DIR:-build}" --output-on-failure --parallel "$(nproc)" "$@"
# The Python module's pytest suite, against this build's module and command;
# fails when the module was not built (no python3-dev: see scripts/deps.sh).
PYTHONPATH="${KM_BUILD_DIR:-build}/python" KNOTMAP_CLI="${KM_BUILD_DIR:-build}/cli/knotmap" \
  /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/python
