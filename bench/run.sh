#!/bin/sh
# knotmap benchmarks (issue 8): one command, one table.
# Installs what it needs, builds Release in build-bench, runs every bench on
# the same virtual-mat frames, prints the table and writes docs/performance.md.
#   usage: bench/run.sh            (about 2-3 minutes on 2 shared cores)
# Environment: KM_BENCH_QUICK=1 shortens every measurement (smoke test only).
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build-bench"
out="$build/bench-out"
py=/usr/bin/python3 # Debian's python3 (python3-opencv etc.), not a pyenv shim
t_begin=$(date +%s)

"$root/scripts/deps.sh" test bench
mkdir -p "$build"

# Release (-O3), benches only; warnings are errors here too.
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DKM_BUILD_BENCH=ON \
  -DKM_BUILD_TESTS=OFF -DKM_BUILD_VIEWER=OFF -DCMAKE_C_FLAGS= \
  >"$build/bench-configure.log" 2>&1 || { cat "$build/bench-configure.log"; exit 1; }
targets="bench_dsp bench_latency bench_session bench_sim bench_analyze knotmap"
usb=0
if command -v umockdev-wrapper >/dev/null 2>&1 && pkg-config --exists umockdev-1.0; then
  targets="$targets bench_latency_usb bench_usb_fixtures"
  usb=1
fi
# shellcheck disable=SC2086
cmake --build "$build" --target $targets --parallel 2 >"$build/bench-build.log" 2>&1 ||
  { tail -40 "$build/bench-build.log"; exit 1; }

rm -rf "$out"
mkdir -p "$out/usb" "$out/session"

# Load during the run: sample the 1-minute load average every 2 s.
(while :; do cut -d' ' -f1 /proc/loadavg >>"$out/load.txt"; sleep 2; done) &
sampler=$!
trap 'kill $sampler 2>/dev/null || true' EXIT INT TERM
load_start=$(cut -d' ' -f1 /proc/loadavg)

quick=${KM_BENCH_QUICK:-0}
if [ "$quick" = 1 ]; then secs=0.05; psecs=0.1; lat=150; simsec=2; rec=300; cgi=10; amin=1
else secs=0.25; psecs=0.5; lat=1000; simsec=20; rec=3000; cgi=100; amin=60; fi

echo "== virtual mat (bench/sim)"
"$build/bench/sim/bench_sim" "$simsec" | tee "$out/sim.txt"

echo "== knotmap dsp and floor (bench/dsp)"
"$build/bench/dsp/bench_dsp" "$out" "$secs"

echo "== peers: OpenCV, SciPy, scikit-image (bench/peers)"
OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "$py" "$root/bench/peers/peers.py" "$out" "$psecs"

echo "== latency and allocations (bench/latency)"
"$build/bench/latency/bench_latency" sim 64x64 "$lat" "$out/lat_sim_64x64.json"
"$build/bench/latency/bench_latency" sim 32x48 "$lat" "$out/lat_sim_32x48.json"
if [ "$usb" = 1 ]; then
  "$build/bench/latency/bench_usb_fixtures" "$out/usb" >/dev/null
  umockdev-wrapper "$build/bench/latency/bench_latency_usb" usb "$out/usb/mat.umockdev" \
    "$lat" "$out/lat_usb.json" || echo "libusb latency run failed (row left out)" >&2
else
  echo "umockdev not available: libusb latency skipped" >&2
fi

echo "== session: .kmrec write, exports (bench/session)"
"$build/bench/session/bench_session" "$out/session" "$rec"
cp "$out/session/session.json" "$out/session.json"

echo "== python: process_many vs the C pipeline (bench/python)"; cmake --build "$build" --target bench_python_c knotmap_python --parallel 2 >>"$build/bench-build.log" 2>&1 || { tail -40 "$build/bench-build.log"; exit 1; }; "$py" "$root/bench/python/bench_python.py" "$build" "$out" "$quick"
echo "== callgrind: pipeline 64x64 instructions per frame"
valgrind --tool=callgrind --toggle-collect=bench_pipeline_loop \
  --callgrind-out-file="$out/callgrind.64x64.out" \
  "$build/bench/dsp/bench_dsp" --callgrind 64x64 "$cgi" >"$out/callgrind.log" 2>&1
callgrind_annotate "$out/callgrind.64x64.out" >"$out/callgrind.annotate.txt" 2>/dev/null || true
"$py" - "$out" "$cgi" <<'EOF'
import re, sys
out, iters = sys.argv[1], int(sys.argv[2])
txt = open(out + "/callgrind.annotate.txt").read()
tot = int(re.search(r"([\d,]+) \(100.0%\)\s+PROGRAM TOTALS", txt).group(1).replace(",", ""))
with open(out + "/callgrind.txt", "w") as f:
    f.write("IR_PER_FRAME %d\n" % (tot // iters))
    rows = re.findall(r"^\s*([\d,]+) \(\s*([\d.]+)%\)\s+\S*?:(\S+) \[(\S+)\]", txt, re.M)
    for ir, pct, fn, obj in rows[:8]:
        name = fn if not fn.startswith("0x") else "%s(%s)" % (obj.rsplit("/", 1)[-1], fn)
        f.write("TOP %s %s%% %s\n" % (name, pct, obj))
print(open(out + "/callgrind.txt").read(), end="")
EOF

if command -v perf >/dev/null 2>&1 &&
   perf record -q -e cpu-clock -o "$out/perf.data" "$build/bench/dsp/bench_dsp" --callgrind \
     64x64 $((cgi * 40)) >/dev/null 2>"$out/perf.log"; then
  echo "== perf (cpu-clock samples): pipeline 64x64"
  {
    perf report -i "$out/perf.data" --no-children --stdio --sort dso 2>/dev/null |
      grep -E '^ +[0-9.]+%' | head -4 | sed 's/^ */DSO /'
    perf report -i "$out/perf.data" --no-children --stdio --sort symbol 2>/dev/null |
      grep -E '^ +[0-9.]+%' | head -8 | sed 's/^ */SYM /'
  } | tee "$out/perf.txt"
fi

kill $sampler 2>/dev/null || true
t_end=$(date +%s)
"$py" - "$out" "$load_start" "$((t_end - t_begin))" "$(nproc)" <<'EOF'
import json, os, statistics, sys, time
out, l0, secs, ncpu = sys.argv[1:5]
loads = [float(x) for x in open(out + "/load.txt").read().split()] or [float(l0)]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
            if l.startswith("model name")), "?")
m = {"date": time.strftime("%Y-%m-%d %H:%M", time.gmtime()), "nproc": ncpu,
     "cpu": cpu, "load_start": l0, "load_end": open("/proc/loadavg").read().split()[0],
     "load_min": min(loads), "load_max": max(loads),
     "load_mean": round(statistics.mean(loads), 2), "seconds": secs}
json.dump(m, open(out + "/machine.json", "w"))
EOF

echo
"$py" "$root/bench/report.py" "$out" "$root/docs/performance.md" "bench/run.sh"
"$root/bench/viewer/run.sh" "$out" "$simsec" "$root/docs/performance.md"
echo "== analyze of an hour (bench/analyze: .kmrec and .npy, 2 x 5.9 GB, removed after)"
"$root/bench/analyze/run.sh" "$build" "$out" "$amin" "$root/docs/performance.md"
echo
echo "written: docs/performance.md (raw results in $out)"
