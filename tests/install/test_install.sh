#!/bin/sh
# usage: test_install.sh BUILD_DIR PREFIX CC [SANITIZERS]
# cmake --install into PREFIX, then compile and run a program that finds
# knotmap only through the installed knotmap.pc.
set -eu
build=$1 prefix=$2 cc=$3 san=${4:-}
rm -rf "$prefix"
cmake --install "$build" --prefix "$prefix" >/dev/null
libdir=$(find "$prefix" -name knotmap.pc -path '*pkgconfig*' -exec dirname {} \; | head -n1)
[ -n "$libdir" ] || { echo "knotmap.pc was not installed" >&2; exit 1; }
export PKG_CONFIG_PATH="$libdir"
for f in bin/knotmap include/knotmap/core.h; do
  [ -e "$prefix/$f" ] || { echo "missing after install: $f" >&2; exit 1; }
done
ls "$prefix"/share/man/man1/knotmap.1 >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/hello.c" <<'C'
#include <knotmap/core.h>
#include <stdio.h>
#include <string.h>
int main(void)
{
	struct km_frame *f = NULL;
	int rc = km_frame_create(4, 3, 10.0f, KM_GEOMETRY_FLAT, &f);
	if (rc != KM_OK) {
		fprintf(stderr, "create: %s\n", km_strerror(rc));
		return 1;
	}
	f->kpa[5] = 12.5f;
	int ok = km_frame_check(f, NULL) == KM_OK && km_frame_cells(f) == 12 &&
		 strcmp(km_error_name(KM_ERR_BAD_CRC), "KM_ERR_BAD_CRC") == 0;
	printf("knotmap %s ok=%d\n", km_version_string(), ok);
	km_frame_destroy(f);
	return ok ? 0 : 1;
}
C
flags=""
[ -n "$san" ] && flags="-fsanitize=$san"
# shellcheck disable=SC2046
$cc -std=c11 -Wall -Werror $flags -o "$work/hello" "$work/hello.c" $(pkg-config --cflags --libs knotmap)
LD_LIBRARY_PATH="$(pkg-config --variable=libdir knotmap)" "$work/hello"
"$prefix/bin/knotmap" --version
