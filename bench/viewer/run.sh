#!/bin/sh
# The live viewer's CPU cost (issue 22), side by side with `knotmap record`
# of the same scenario in the same run.
#   usage: bench/viewer/run.sh OUT_DIR SECONDS [DOC]
# Runs `knotmap -v view --sim S --no-sound --screenshot ... --after SECONDS`
# under Xvfb for S in tennis-ball-trapezius and back-lying, on SDL's software
# renderer (SDL_RENDER_DRIVER=software, SDL_FRAMEBUFFER_ACCELERATION=0: the
# path of a machine without GL) and on GL where Xvfb offers it (Mesa's
# llvmpipe here: GL drawn by the CPU too), then `knotmap record --sim S
# --duration SECONDS`. CPU = user + sys of the knotmap process (GNU time);
# Xvfb's own CPU (the X server copying the window) is not included.
# The viewer prints its drawing costs at exit (main-thread CPU per drawn
# frame by stage: heatmap, overlays, text; per present) with -v.
# Environment:
#   KM_VIEWER_BIN      the knotmap to measure (default: built here, Release,
#                      in build-bench-viewer)
#   KM_VIEWER_BEFORE   another knotmap measured in the same run as "before"
# DOC (optional): docs/performance.md, whose "## Viewer" section is replaced.
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:?usage: bench/viewer/run.sh OUT_DIR SECONDS [DOC]}
secs=${2:?seconds}
doc=${3:-}
mkdir -p "$out/viewer"
vout="$out/viewer"

if [ -z "${KM_VIEWER_BIN:-}" ]; then
  build="$root/build-bench-viewer"
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DKM_BUILD_TESTS=OFF \
    -DKM_BUILD_VIEWER=ON -DCMAKE_C_FLAGS= >"$vout/configure.log" 2>&1 ||
    { cat "$vout/configure.log"; exit 1; }
  cmake --build "$build" --target knotmap --parallel 2 >"$vout/build.log" 2>&1 ||
    { tail -40 "$vout/build.log"; exit 1; }
  KM_VIEWER_BIN="$build/cli/knotmap"
fi
if ! command -v xvfb-run >/dev/null 2>&1 || [ ! -x /usr/bin/time ]; then
  echo "bench/viewer: needs xvfb-run (xvfb) and GNU time (time): skipped" >&2
  exit 0
fi

# Nothing of the user's is touched: recordings and state go to a scratch HOME.
export HOME="$vout/home" XDG_DATA_HOME="$vout/home/data" XDG_STATE_HOME="$vout/home/state"
mkdir -p "$XDG_DATA_HOME"
res="$vout/results.txt"
: >"$res"
echo "LOAD start $(cut -d' ' -f1 /proc/loadavg) $(nproc)" >>"$res"

# run LABEL BIN SCENARIO RENDERER
run_view() {
  log="$vout/$1-$3-$4.log"
  if [ "$4" = software ]; then fb=0; else fb=1; fi
  SDL_RENDER_DRIVER=$4 SDL_FRAMEBUFFER_ACCELERATION=$fb xvfb-run -a \
    -s "-screen 0 1280x800x24" /usr/bin/time -f "CPU %U %S %e" -o "$log.time" \
    "$2" -v view --sim "$3" --no-sound --force --screenshot "$vout/$1-$3-$4.png" --after "$secs" \
    >"$log" 2>&1 || { echo "view $1 $3 $4 failed:" >&2; tail -5 "$log" >&2; return 0; }
  r=$(sed -n 's/.*info: renderer \([a-z0-9_]*\).*/\1/p' "$log" | head -1)
  costs=$(sed -n 's/.*draw costs: //p' "$log" | head -1)
  echo "VIEW $1 $3 $4 used=${r:-?} $(cat "$log.time") ${costs:-no_costs}" >>"$res"
}
run_record() {
  log="$vout/$1-$2-record.log"
  /usr/bin/time -f "CPU %U %S %e" -o "$log.time" "$KM_VIEWER_BIN" record --sim "$2" \
    --duration "$secs" -o "$vout/$2.kmrec" --force --no-history >"$log" 2>&1 ||
    { echo "record $2 failed" >&2; return 0; }
  rm -f "$vout/$2.kmrec"
  echo "RECORD $1 $2 $(cat "$log.time")" >>"$res"
}

for sc in tennis-ball-trapezius back-lying; do
  for ren in software opengl; do
    if [ -n "${KM_VIEWER_BEFORE:-}" ]; then
      echo "== viewer before: $sc, $ren, $secs s"
      run_view before "$KM_VIEWER_BEFORE" "$sc" "$ren"
    fi
    echo "== viewer: $sc, $ren, $secs s"
    run_view after "$KM_VIEWER_BIN" "$sc" "$ren"
  done
  echo "== record: $sc, $secs s"
  run_record after "$sc"
done
echo "LOAD end $(cut -d' ' -f1 /proc/loadavg) $(nproc)" >>"$res"

/usr/bin/python3 "$root/bench/viewer/report.py" "$res" "$secs" "$doc"
