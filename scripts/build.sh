#!/bin/sh
# Configures and builds into build/ (or $KM_BUILD_DIR). Extra arguments go to cmake.
set -eu
cd "$(dirname "$0")/.."
dir=${KM_BUILD_DIR:-build}
if [ ! -f "$dir/build.ninja" ] || [ $# -gt 0 ]; then
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
fi
cmake --build "$dir" --parallel "$(nproc)"
