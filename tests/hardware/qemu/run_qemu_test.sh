#!/bin/sh
# Runs the synthetic-board program on the host and on a Cortex-M3 under qemu
# and checks that both print exactly the same packets.
#   usage: run_qemu_test.sh <synth_host> <repo root> <work dir>
# Exit 0 pass, 1 fail, 77 skipped (tools missing and CI is not "true").
set -u
host_exe=$1
root=$2
work=$3

missing=""
for tool in arm-none-eabi-gcc qemu-system-arm; do
  command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
if [ -n "$missing" ]; then
  if [ "${CI:-}" = "true" ]; then
    echo "FAIL: missing$missing (CI=true: the qemu test must run; scripts/cross.sh installs them)"
    exit 1
  fi
  echo "SKIP: missing$missing; install with scripts/cross.sh (apt: gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm)"
  exit 77
fi

mkdir -p "$work" || exit 1
gen=""
command -v ninja >/dev/null 2>&1 && gen="-G Ninja"
# Reconfigure only when the build dir is new (a Ninja/Make switch would fail).
if [ ! -f "$work/m3/CMakeCache.txt" ]; then
  # shellcheck disable=SC2086
  cmake -S "$root/tests/hardware/qemu/m3" -B "$work/m3" $gen -DCMAKE_BUILD_TYPE=Release \
    --toolchain "$root/cmake/toolchain-arm-none-eabi.cmake" >"$work/configure.log" 2>&1 ||
    { cat "$work/configure.log"; echo "FAIL: configuring the Cortex-M3 build"; exit 1; }
fi
cmake --build "$work/m3" --parallel 2 >"$work/build.log" 2>&1 ||
  { cat "$work/build.log"; echo "FAIL: building synth_m3.elf"; exit 1; }
grep -A1 'text' "$work/build.log" | tail -2

"$host_exe" >"$work/host.out"
rc=$?
[ $rc -eq 0 ] || { tail -5 "$work/host.out"; echo "FAIL: synth_host exited $rc"; exit 1; }

# Semihosting text goes to the chardev (stdout); the UART and monitor are off.
timeout 120 qemu-system-arm -M mps2-an385 -display none -monitor none -serial none \
  -chardev stdio,id=sh0 -semihosting-config enable=on,target=native,chardev=sh0 \
  -kernel "$work/m3/synth_m3.elf" </dev/null >"$work/m3.out" 2>"$work/qemu.err"
rc=$?
[ $rc -eq 0 ] || { tail -5 "$work/m3.out"; cat "$work/qemu.err";
  echo "FAIL: qemu run exited $rc (124 = timeout)"; exit 1; }

grep -q '^RESULT PASS' "$work/host.out" || { echo "FAIL: host self-checks"; exit 1; }
grep -q '^RESULT PASS' "$work/m3.out" || { echo "FAIL: Cortex-M3 self-checks"; exit 1; }
packets=$(grep -c '^PKT' "$work/m3.out")
[ "$packets" -gt 0 ] || { echo "FAIL: no packets"; exit 1; }
if ! cmp -s "$work/host.out" "$work/m3.out"; then
  diff "$work/host.out" "$work/m3.out" | head -20
  echo "FAIL: host and Cortex-M3 outputs differ"
  exit 1
fi
echo "host and Cortex-M3 (qemu mps2-an385) agree: $(wc -l <"$work/m3.out") lines, $packets packets bit-identical"
tail -1 "$work/m3.out"
exit 0
