#!/bin/sh
# The viewer on a real person lying still on a real bed mat (PoPu preview,
# CC0: ../shared/data/lying/popu_preview_data.zip, licence in lying/LICENSE):
# one supine capture, its 10 snapshots cycled at the bed mat's 1 Hz for 60 s,
# counts read as mmHg (kPa = 0.1333 x counts), 32 mm pitch (docs/accuracy.md,
# "Real-body family"). Writes docs/screenshots/lying-still-popu.png.
# usage: scripts/lying-still-screenshot.sh [path/to/knotmap] [capture]
# Needs xvfb-run and Debian's python3 with numpy.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
knotmap=${1:-"$root/build/cli/knotmap"}
capture=${2:-supine1_1}
zip="$root/../shared/data/lying/popu_preview_data.zip"
out="$root/build/lying-still"
mkdir -p "$out"
/usr/bin/python3 - "$zip" "$capture" "$out" <<'PY'
import json, sys, zipfile
import numpy as np
zpath, cap, out = sys.argv[1:4]
with zipfile.ZipFile(zpath) as z:
    name = next(n for n in z.namelist() if n.endswith("tactilus_data/4/%s.json" % cap))
    snaps = json.loads(z.read(name))["snapshots"]
maps = [np.array(snaps[k]["tactilus_readings"], np.float32).reshape(64, 27)
        for k in sorted(snaps, key=int)]
frames = np.stack([maps[i % len(maps)] * 0.1333 for i in range(60)]).astype(np.float32)
np.save(out + "/lying-still.npy", frames)
json.dump({"rate_hz": 1, "pitch_mm": 32, "units": "kPa"}, open(out + "/lying-still.npy.json", "w"))
PY
xvfb-run -a -s "-screen 0 1280x800x24" \
	"$knotmap" view --replay "$out/lying-still.npy" --no-sound --screenshot \
	"$root/docs/screenshots/lying-still-popu.png" --after 50 --force
"$knotmap" analyze "$out/lying-still.npy"
