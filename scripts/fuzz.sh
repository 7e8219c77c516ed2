#!/bin/sh
# Builds the libFuzzer targets (clang, ASan + UBSan) in build-fuzz/ and runs
# each one for SECONDS (default 30) from its generated seed corpus, one at a
# time in one process each. Fails (non-zero) on any crash, leak, timeout or
# out-of-memory; prints executions per target. See docs/reliability.md.
#   usage: scripts/fuzz.sh [SECONDS] [TARGET...]
# Environment: KM_FUZZ_DIR (build dir, default build-fuzz),
#              KM_FUZZ_ARGS (extra libFuzzer flags, e.g. "-jobs=2 -workers=2").
set -eu
cd "$(dirname "$0")/.."

secs=30
if [ $# -gt 0 ]; then
  secs=$1
  shift
fi
case $secs in
  ''|*[!0-9]*) echo "fuzz.sh: SECONDS must be a whole number, not '$secs'" >&2; exit 2 ;;
esac

scripts/deps.sh fuzz
dir=${KM_FUZZ_DIR:-build-fuzz}
cmake -S . -B "$dir" -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DKM_BUILD_FUZZ=ON -DKM_SANITIZE=address,undefined \
  -DKM_BUILD_TESTS=OFF -DKM_BUILD_VIEWER=OFF -DKM_BUILD_BENCH=OFF >/dev/null
cmake --build "$dir" --target fuzz_all --parallel 2

fz="$dir/fuzz"
if [ $# -gt 0 ]; then
  targets=$*
else
  targets=$(cat "$fz/targets.txt")
fi
[ -n "$targets" ] || { echo "fuzz.sh: no fuzz targets were built" >&2; exit 1; }

failed=""
printf '%-22s %12s %10s %8s  %s\n' target executions exec/s corpus result
for t in $targets; do
  [ -x "$fz/$t" ] || { echo "fuzz.sh: no target '$t' (see $fz/targets.txt)" >&2; exit 2; }
  work="$fz/corpus/grown/$t"
  art="$fz/artifacts/$t"
  mkdir -p "$work" "$art"
  log="$fz/$t.log"
  dict=""
  [ -f "fuzz/$t.dict" ] && dict="-dict=fuzz/$t.dict"
  # One process, one job: the machine is shared. -timeout: a single input
  # taking longer than 10 s counts as a hang.
  set +e
  # shellcheck disable=SC2086
  ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$fz/$t" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 \
      -print_final_stats=1 -artifact_prefix="$art/" $dict ${KM_FUZZ_ARGS:-} \
      "$work" "$fz/corpus/seeds/$t" >"$log" 2>&1
  rc=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  units=$(find "$work" -type f | wc -l)
  if [ $rc -eq 0 ]; then
    result=ok
  else
    result="FAILED (exit $rc)"
    failed="$failed $t"
  fi
  printf '%-22s %12s %10s %8s  %s\n' "$t" "${execs:-?}" "${eps:-?}" "$units" "$result"
  if [ $rc -ne 0 ]; then
    grep -E 'ERROR|SUMMARY|property failed|undocumented|runtime error|Test unit written' "$log" \
      | head -n 20 | sed 's/^/    /'
    echo "    full log: $log; reproduce: $fz/$t $art/<crash file>"
  fi
done

if [ -n "$failed" ]; then
  echo "fuzz.sh: FAILED:$failed" >&2
  exit 1
fi
echo "fuzz.sh: all targets ran ${secs}s without a crash, leak or timeout"
