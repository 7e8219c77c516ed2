#!/bin/sh
# ThreadSanitizer over the threaded code: the stream engine (sim transport,
# signal-handler stop, zero/set_rate from another thread), the frame ring, the
# viewer's triple buffer and the recorder while reading. Criterion cannot run
# under TSan (docs/toolchain-notes), so these are the plain executables of
# tests/reliability (label "tsan"); only they are built.
# Usage: scripts/tsan.sh [extra ctest args]   (build dir: $KM_TSAN_BUILD_DIR or build-tsan)
set -eu
cd "$(dirname "$0")/.."
dir=${KM_TSAN_BUILD_DIR:-build-tsan}
jobs=$(nproc 2>/dev/null || echo 2)
[ "$jobs" -gt 2 ] && jobs=2 # shared build machines: 2 cores at most

gen=""
command -v ninja >/dev/null 2>&1 && gen="-G Ninja"
[ -f "$dir/CMakeCache.txt" ] && gen=""
# shellcheck disable=SC2086
cmake -S . -B "$dir" $gen -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DKM_SANITIZE=thread -DKM_BUILD_VIEWER=ON -DKM_BUILD_TESTS=ON >/dev/null
cmake --build "$dir" --target reliability_tsan_tests --parallel "$jobs"

# halt_on_error: the first race fails the test; ctest also fails on any
# "WARNING: ThreadSanitizer" line (KM_SANITIZER_REPORT_REGEX).
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 history_size=4 ${TSAN_OPTIONS:-}"
export TSAN_OPTIONS
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
ctest --test-dir "$dir" -L '^tsan$' --output-on-failure "$@" 2>&1 | tee "$log" || status=$?
if grep -q "WARNING: ThreadSanitizer" "$log"; then
	echo "tsan.sh: ThreadSanitizer reported a problem (see above)" >&2
	status=1
fi
if ! grep -q "tests passed" "$log"; then
	echo "tsan.sh: no test ran" >&2
	status=1
fi
exit $status
