#!/bin/sh
# Installs the .debs from scripts/deb.sh into a clean Debian 12 root made by
# debootstrap from deb.debian.org, and runs what a user would: the command,
# an analysis of the shipped example, and the Python module.
#   usage: scripts/deb-install-test.sh [DEB_DIR]     (default build-deb/deb; root)
# The debootstrap root (as a tarball), apt's package lists and the downloaded
# dependency packages are cached in <build>/debootstrap, so a rerun only
# unpacks the tarball and installs; delete that folder to start from scratch.
set -eu
cd "$(dirname "$0")/.."
dir=${KM_DEB_BUILD_DIR:-build-deb}
debs=${1:-$dir/deb}
cache=$dir/debootstrap
mirror=${KM_DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=bookworm

if ! ls "$debs"/*.deb >/dev/null 2>&1; then
  echo "deb-install-test.sh: no .deb in $debs (run scripts/deb.sh first)" >&2
  exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "deb-install-test.sh: needs root (debootstrap and chroot)" >&2
  exit 1
fi
scripts/deps.sh deb
mkdir -p "$cache"

if [ ! -f "$cache/root.tar" ]; then
  echo "== debootstrap $suite (minbase) from $mirror (cached in $cache)"
  rm -rf "$cache/root.new"
  if ! debootstrap --variant=minbase "$suite" "$cache/root.new" "$mirror" \
      >"$cache/debootstrap.log" 2>&1; then
    tail -30 "$cache/debootstrap.log" >&2
    exit 1
  fi
  tar -C "$cache/root.new" -cf "$cache/root.tar.part" .
  mv "$cache/root.tar.part" "$cache/root.tar"
  rm -rf "$cache/root.new"
fi

root=$(mktemp -d "$(pwd)/$cache/root.XXXXXX")
cleanup() { rm -rf "$root"; }
trap cleanup EXIT INT TERM
tar -C "$root" -xf "$cache/root.tar"
cp /etc/resolv.conf "$root/etc/resolv.conf"
mkdir -p "$root/tmp/debs" "$cache/lists" "$cache/archives"
cp "$debs"/*.deb "$root/tmp/debs/"
# Lists and packages from earlier runs (apt still checks they are current).
cp -r "$cache/lists/." "$root/var/lib/apt/lists/" 2>/dev/null || true
cp "$cache/archives/"*.deb "$root/var/cache/apt/archives/" 2>/dev/null || true

in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
  LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"; }

echo "== apt-get install ./*.deb (dependencies from $mirror)"
in_root apt-get update -qq
in_root sh -c 'apt-get install -y -qq --no-install-recommends /tmp/debs/*.deb' \
  >"$cache/install.log" 2>&1 || { tail -40 "$cache/install.log" >&2; exit 1; }
cp -r "$root/var/lib/apt/lists/." "$cache/lists/"
cp "$root/var/cache/apt/archives/"*.deb "$cache/archives/" 2>/dev/null || true
# shellcheck disable=SC2016 # dpkg-query's own ${field} syntax
in_root dpkg-query -W -f '${Package} ${Version} ${Status}\n' \
  libknotmap0 libknotmap-dev knotmap python3-knotmap

echo "== knotmap --version"
in_root knotmap --version
echo "== knotmap analyze /usr/share/knotmap/examples/tennis-ball-trapezius.kmrec"
in_root knotmap analyze /usr/share/knotmap/examples/tennis-ball-trapezius.kmrec |
  tee "$cache/analyze.txt"
grep -q '^analysed [1-9][0-9]* frames' "$cache/analyze.txt"
echo "== python3 -c 'import knotmap'"
in_root python3 -c 'import knotmap; print("knotmap", knotmap.__version__, knotmap.__file__)'
# The module finds the installed library, scenarios and example, and agrees
# with the command on the example's frame count.
in_root python3 -c '
import knotmap
rec = knotmap.read("/usr/share/knotmap/examples/tennis-ball-trapezius.kmrec")
res = knotmap.Pipeline.for_recording(rec).process_many(rec.frames, time_us=rec.time_us, finish=True)
sim = knotmap.simulate("tennis-ball-trapezius", 1, seed=1)
print("read %d frames, %d events; simulated %d frames" % (len(rec), len(res.events), len(sim)))
'
in_root python3 -c '
import knotmap
print(len(knotmap.read("/usr/share/knotmap/examples/tennis-ball-trapezius.kmrec")))' \
  >"$cache/py_frames.txt"
grep -q "^analysed $(cat "$cache/py_frames.txt") frames" "$cache/analyze.txt"
# libknotmap-dev: a program built against the installed headers and knotmap.pc
echo "== pkg-config --cflags --libs knotmap"
in_root pkg-config --cflags --libs knotmap
echo "deb-install-test.sh: the packages install and run in a clean Debian 12 root"
