"""process_many() on 64 x 64 frames against the C pipeline on the same frames.

    bench_python.py BUILD_DIR OUT_DIR [QUICK]

Both sides: a pipeline created fresh, then every frame of a 64 x 64 virtual
mat recording (tennis-ball-trapezius, seed 1), best of several repeats
(CPU time, C and Python runs taking turns). The
module's figure includes what it adds: building the frame headers, copying
events, spots and candidates into structured arrays. Writes python.txt.
"""
import os
import subprocess
import sys
import time

build, out = sys.argv[1], sys.argv[2]
quick = len(sys.argv) > 3 and sys.argv[3] == "1"
sys.path.insert(0, os.path.join(build, "python"))
import knotmap  # noqa: E402

seconds, reps = (5, 2) if quick else (20, 5)
sim = knotmap.simulate("tennis-ball-trapezius", seconds, seed=1)
assert sim.frames.shape[1:] == (64, 64)
path = os.path.join(out, "bench_python.kmrec")
knotmap.write(path, sim.frames, rate_hz=sim.rate_hz, pitch_mm=sim.pitch_mm,
              time_us=sim.time_us, overwrite=True)
rec = knotmap.read(path)

# CPU time on both sides, one C run and one Python run in turn, best of each:
# the machine is shared and its load drifts.
c_ns, best, events = float("inf"), float("inf"), 0
for _ in range(reps):
    c = subprocess.run([os.path.join(build, "bench", "python", "bench_python_c"), path, "1"],
                       capture_output=True, text=True, check=True).stdout
    c_vals = dict(line.split() for line in c.splitlines())
    c_ns = min(c_ns, float(c_vals["C_NS_PER_FRAME"]))
    p = knotmap.Pipeline.for_recording(rec)
    t0 = time.process_time_ns()
    res = p.process_many(rec.frames, time_us=rec.time_us, sequence=rec.sequence)
    best = min(best, (time.process_time_ns() - t0) / len(rec))
    events = len(res.events)
assert events == int(c_vals["EVENTS"]), "the two sides must do the same work"

ratio = best / c_ns
lines = [
    "python process_many vs C pipeline, 64x64, %d frames, best of %d" % (len(rec), reps),
    "  C  km_pipeline_process   %8.1f us/frame" % (c_ns / 1e3),
    "  Python process_many      %8.1f us/frame" % (best / 1e3),
    "  overhead                 %+7.1f %%  (goal: within 10 %%)" % ((ratio - 1) * 100),
]
print("\n".join(lines))
with open(os.path.join(out, "python.txt"), "w") as f:
    f.write("\n".join(lines) + "\n")
    f.write("PY_NS_PER_FRAME %.0f\nC_NS_PER_FRAME %.0f\n" % (best, c_ns))
