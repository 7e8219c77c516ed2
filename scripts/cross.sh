#!/bin/sh
# Firmware for the real mat: installs the ARM toolchain, qemu and dfu-util
# (Debian packages, only when missing), cross-builds the STM32F411 image,
# prints its size, and runs the qemu test that checks the firmware core gives
# bit-identical packets on a Cortex-M3 and on the host.
#   usage: scripts/cross.sh [mat64|mat32|roller]     (default: mat64)
#   env:   KM_ARM_BUILD_DIR (default build-arm), KM_CROSS_NO_INSTALL=1
# Flash afterwards (BOOT0 held high at reset; hardware/BUILD.md):
#   dfu-util -a 0 -s 0x08000000:leave -D build-arm/knotmap.bin
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
mat=${1:-mat64}
dir=${KM_ARM_BUILD_DIR:-build-arm}

# 1. Packages: dpkg-query first, apt-get update at most once.
pkgs="gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm dfu-util cmake ninja-build"
missing=""
for p in $pkgs; do
  case $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true) in
    *" installed") ;;
    *) missing="$missing $p" ;;
  esac
done
if [ -n "$missing" ]; then
  if [ "${KM_CROSS_NO_INSTALL:-0}" = 1 ]; then
    echo "cross.sh: missing:$missing (KM_CROSS_NO_INSTALL=1)" >&2
    exit 1
  fi
  if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
  echo "cross.sh: installing:$missing" >&2
  $sudo apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# 2. The board image (a separate CMake project, never part of the host build).
echo "== STM32F411 Black Pill firmware ($mat) in $dir"
cmake -S hardware/firmware/boards/stm32f411 -B "$dir" -G Ninja -DKM_MAT="$mat" \
  --toolchain "$root/cmake/toolchain-arm-none-eabi.cmake" >/dev/null
cmake --build "$dir" >"$dir/build.log" 2>&1 || { cat "$dir/build.log"; exit 1; }

echo "== size (flash = text + data, RAM = data + bss; 512 KiB flash, 128 KiB RAM)"
arm-none-eabi-size "$dir/knotmap.elf"
grep -E '^ +(FLASH|RAM):' "$dir/build.log" || true
ls -l "$dir/knotmap.bin" "$dir/knotmap.hex" "$dir/knotmap.dfu" 2>/dev/null || true

# 3. The qemu test: the synthetic-board program for the host (plain cc, no
#    host CMake build needed) and for a Cortex-M3, outputs compared.
echo "== firmware core on a Cortex-M3 (qemu mps2-an385) vs the host"
host="$dir/host"
mkdir -p "$host"
b=hardware/firmware
${CC:-cc} -std=c11 -O2 -Wall -Wextra -Werror -Wconversion -Wsign-conversion \
  -I tests/hardware/qemu -I $b/boards/common -I $b/include -I hardware/protocol/include \
  -I core/include \
  tests/hardware/qemu/main_host.c tests/hardware/qemu/synth.c \
  $b/boards/common/km_xtalk.c $b/boards/common/usb_ctrl.c $b/src/firmware.c \
  hardware/protocol/src/protocol.c core/src/bytes.c -o "$host/synth_host"
sh tests/hardware/qemu/run_qemu_test.sh "$host/synth_host" "$root" "$host/qemu-work"
echo "== cross.sh done: flash with dfu-util -a 0 -s 0x08000000:leave -D $dir/knotmap.bin"
