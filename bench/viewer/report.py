#!/usr/bin/env python3
"""bench/viewer/report.py RESULTS SECONDS [DOC]: the viewer's table from
bench/viewer/run.sh's results.txt, printed, written next to it as viewer.md
and, with DOC, put in place of DOC's "## Viewer (bench/viewer" section."""
import re, sys
res, secs, doc = sys.argv[1], float(sys.argv[2]), sys.argv[3]
rows, rec, load = [], {}, {}
for line in open(res):
    f = line.split()
    if f[0] == "LOAD":
        load[f[1]] = f[2]
        load["nproc"] = f[3]
    elif f[0] == "RECORD":
        rec[f[2]] = (float(f[4]) + float(f[5])) / float(f[6]) * 100
    elif f[0] == "VIEW":
        kv = dict(re.findall(r"(\w+) ([\d.]+)", line.split(" ", 9)[-1]))
        m = re.search(r"ms_per_draw heat ([\d.]+) overlays ([\d.]+) text ([\d.]+) "
                      r"ms_per_present ([\d.]+)", line)
        cpu = (float(f[6]) + float(f[7])) / float(f[8]) * 100
        rows.append((f[1], f[2], f[3], f[4].split("=")[1], cpu, kv, m))
L = ["## Viewer (bench/viewer, issue 22)", "",
     "`knotmap view --sim S --no-sound --screenshot ... --after %g` under Xvfb, window "
     "at its default size (1024 x 640), virtual mat at 100 Hz in real time; "
     "`knotmap record --sim S --duration %g` in the same run. CPU = user + sys of the "
     "knotmap process over its wall time, %% of one core (Xvfb's own CPU not included). "
     "Stage costs: the viewer's main-thread CPU per drawn frame, ms "
     "(`knotmap -v view` prints them at exit)." % (secs, secs), "",
     "| build | scenario | renderer asked (used) | CPU % | record CPU % | draws/s | "
     "heatmap uploads | heatmap ms | overlays ms | text ms | present ms | mat frames "
     "lost |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
for b, sc, ren, used, cpu, kv, m in rows:
    wall = float(kv.get("wall_s", 0)) or 1.0
    st = ("%s | %s | %s | %s" % m.groups()) if m else "n/a | n/a | n/a | n/a"
    L.append("| %s | %s | %s (%s) | %.1f | %s | %s | %s | %s | %s |" % (
        b, sc, ren, used, cpu, "%.1f" % rec[sc] if sc in rec else "?",
        "%.0f" % (float(kv["draws"]) / wall) if "draws" in kv else "n/a",
        kv.get("heat_uploads", "n/a"), st, kv.get("mat_frames_lost", "n/a")))
goal = []
for b, sc, ren, used, cpu, kv, m in rows:
    if b == "after" and ren == "software":
        lost = kv.get("mat_frames_lost", "?")
        goal.append("%s %.1f %%, %s mat frames lost (%s; record alone %s %%)" % (
            sc, cpu, lost, "met" if cpu <= 10.0 and lost == "0" else "MISSED",
            "%.1f" % rec[sc] if sc in rec else "?"))
if goal:
    L += ["", "Goal (issue 22): the live viewer <= 10 % of one core on the software "
          "renderer at 100 Hz, no mat frames lost: " + "; ".join(goal) + "."]
L += ["", "Load average (1 min) %s at the start, %s at the end, on %s cores: CPU time is "
      "what each process used, but on a busy machine caches are shared and the "
      "\"before\" viewer, which draws as fast as it can, gets fewer turns." % (
          load.get("start", "?"), load.get("end", "?"), load.get("nproc", "?")),
      "",
      "\"before\" is the viewer as it was (issue 22's starting point, with the stage "
      "counters added), \"after\" the current one, both measured in this run. After: "
      "the viewer draws only when something changed (a new mat frame, a key, a notice), "
      "at most 30 frames/s and the display's rate, and no more often than keeps its own "
      "drawing within 4 % of one core (10-15 frames/s on the software renderer here, "
      "never below 10); the heatmap is uploaded once per drawn mat frame at its "
      "on-screen size; the background, title, colour bar and heading are one cached "
      "texture; text is rasterised once per string; a paused or ended view publishes "
      "and draws nothing. GL under Xvfb is Mesa's llvmpipe: drawn by the CPU as well, "
      "so it is no cheaper here than SDL's software renderer."]
text = "\n".join(L) + "\n"
print(text)
open(res.rsplit("/", 1)[0] + "/viewer.md", "w").write(text)
if doc:
    d = open(doc).read()
    i = d.find("## Viewer (bench/viewer")
    if i >= 0:
        j = d.find("\n## ", i + 3)
        d = d[:i] + text + ("\n" + d[j + 1:] if j >= 0 else "")
    else:
        k = d.find("\n## What is measured")
        d = d[:k + 1] + text + "\n" + d[k + 1:] if k >= 0 else d + "\n" + text
    open(doc, "w").write(d)
