#!/bin/sh
# Installs the Debian 12 packages knotmap needs. Idempotent: does nothing (and
# never touches the network) when everything is already installed.
#   usage: scripts/deps.sh [build|test|bench|fuzz|deb]...   (default: build)
set -eu

build_pkgs="build-essential cmake ninja-build pkg-config
  libusb-1.0-0-dev libfftw3-dev libsqlite3-dev libpng-dev libfreetype-dev
  libsdl2-dev libsdl2-ttf-dev fonts-dejavu-core python3-dev python3-numpy"
test_pkgs="libcriterion-dev umockdev libumockdev-dev xvfb xauth sqlite3 jq
  python3 python3-numpy python3-pytest usbutils clang
  gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm"
bench_pkgs="python3-opencv python3-skimage python3-scipy valgrind"
fuzz_pkgs="clang libclang-rt-14-dev"
deb_pkgs="dpkg-dev fakeroot lintian debootstrap"

want=""
[ $# -eq 0 ] && set -- build
for profile in "$@"; do
  case $profile in
    build) want="$want $build_pkgs" ;;
    test)  want="$want $build_pkgs $test_pkgs" ;;
    bench) want="$want $build_pkgs $bench_pkgs" ;;
    fuzz)  want="$want $build_pkgs $fuzz_pkgs" ;;
    deb)   want="$want $build_pkgs $deb_pkgs" ;;
    *) echo "deps.sh: unknown profile '$profile' (build, test, bench, fuzz or deb)" >&2; exit 2 ;;
  esac
done

missing=""
for p in $want; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  case $status in
    *" installed") ;;
    *) case " $missing " in *" $p "*) ;; *) missing="$missing $p" ;; esac ;;
  esac
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
echo "deps.sh: installing:$missing" >&2
$sudo apt-get update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
