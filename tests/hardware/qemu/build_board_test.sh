#!/bin/sh
# Cross-builds the STM32F411 board image for every mat preset and checks the
# outputs: knotmap.elf/.bin/.hex exist, the vector table starts with the
# initial stack pointer (end of RAM) and a Thumb reset address in flash, and
# flash/RAM use fit the chip (the link itself also asserts stack room).
#   usage: build_board_test.sh <repo root> <work dir>
# Exit 0 pass, 1 fail, 77 skipped (no arm-none-eabi-gcc and CI is not "true").
set -u
root=$1
work=$2
if ! command -v arm-none-eabi-gcc >/dev/null 2>&1; then
  if [ "${CI:-}" = "true" ]; then
    echo "FAIL: arm-none-eabi-gcc missing (CI=true; scripts/cross.sh installs it)"
    exit 1
  fi
  echo "SKIP: arm-none-eabi-gcc missing; install with scripts/cross.sh"
  exit 77
fi
mkdir -p "$work" || exit 1
gen=""
command -v ninja >/dev/null 2>&1 && gen="-G Ninja"
for mat in mat64 mat32 roller; do
  dir="$work/$mat"
  if [ ! -f "$dir/CMakeCache.txt" ]; then
    # shellcheck disable=SC2086
    cmake -S "$root/hardware/firmware/boards/stm32f411" -B "$dir" $gen -DKM_MAT=$mat \
      --toolchain "$root/cmake/toolchain-arm-none-eabi.cmake" >"$work/$mat-configure.log" 2>&1 ||
      { cat "$work/$mat-configure.log"; echo "FAIL: configuring $mat"; exit 1; }
  fi
  cmake --build "$dir" --parallel 2 >"$work/$mat-build.log" 2>&1 ||
    { cat "$work/$mat-build.log"; echo "FAIL: building $mat"; exit 1; }
  for f in knotmap.elf knotmap.bin knotmap.hex; do
    [ -s "$dir/$f" ] || { echo "FAIL: $mat: $f missing"; exit 1; }
  done
  # Word 0: initial SP = 0x20020000 (end of 128 KiB RAM); word 1: reset
  # handler, odd (Thumb) and inside the 512 KiB flash.
  set -- $(od -A n -t x4 -N 8 "$dir/knotmap.bin")
  [ "$1" = "20020000" ] || { echo "FAIL: $mat: initial SP $1"; exit 1; }
  pc=$((0x$2))
  if [ $((pc & 1)) -ne 1 ] || [ $pc -lt $((0x08000000)) ] || [ $pc -ge $((0x08080000)) ]; then
    echo "FAIL: $mat: reset vector $2"; exit 1
  fi
  set -- $(arm-none-eabi-size "$dir/knotmap.elf" | tail -1)
  text=$1 data=$2 bss=$3
  flash=$((text + data)) ram=$((data + bss))
  [ $flash -le 524288 ] && [ $ram -le $((131072 - 4096)) ] ||
    { echo "FAIL: $mat: flash $flash B, RAM $ram B"; exit 1; }
  echo "$mat: flash $flash B of 512 KiB, RAM $ram B of 128 KiB"
done
exit 0
