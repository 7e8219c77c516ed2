#!/bin/sh
# Builds the Debian packages (libknotmap0, libknotmap-dev, knotmap,
# python3-knotmap) with CPack from a Release build in build-deb/ (or
# $KM_DEB_BUILD_DIR), with Debian's hardening flags, then checks them with
# lintian (errors fail the build). The .debs land in <build>/deb/.
#   usage: scripts/deb.sh
set -eu
cd "$(dirname "$0")/.."
dir=${KM_DEB_BUILD_DIR:-build-deb}
scripts/deps.sh deb

# dpkg-buildflags: -O2, -fstack-protector-strong, _FORTIFY_SOURCE, relro/now.
export DEB_BUILD_MAINT_OPTIONS="hardening=+all"
cflags="$(dpkg-buildflags --get CFLAGS) $(dpkg-buildflags --get CPPFLAGS)"
ldflags=$(dpkg-buildflags --get LDFLAGS)
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
  -DCMAKE_C_FLAGS="$cflags" -DCMAKE_EXE_LINKER_FLAGS="$ldflags" \
  -DCMAKE_SHARED_LINKER_FLAGS="$ldflags" -DCMAKE_MODULE_LINKER_FLAGS="$ldflags" \
  -DCMAKE_SKIP_INSTALL_RPATH=ON -DKM_BUILD_TESTS=OFF -DKM_BUILD_PYTHON=ON -DKM_PACKAGE=ON \
  >"$dir.configure.log" 2>&1 || { cat "$dir.configure.log"; exit 1; }
cmake --build "$dir" --parallel "${KM_JOBS:-2}"
rm -rf "$dir/deb"
(cd "$dir" && cpack -G DEB >cpack.log 2>&1) || { cat "$dir/cpack.log"; exit 1; }
ls "$dir"/deb/*.deb

# lintian: errors fail; warnings are printed for the record.
lintian --fail-on error "$dir"/deb/*.deb
echo "deb.sh: packages in $dir/deb (lintian: no errors)"
