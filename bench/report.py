#!/usr/bin/python3
"""Builds the benchmark table from the JSON/text results in OUTDIR, prints it
and writes docs/performance.md.

usage: report.py OUTDIR DOC_PATH COMMAND
"""
import json
import os
import re
import statistics
import sys


def load(out, name):
    p = os.path.join(out, name)
    if not os.path.exists(p):
        return None
    with open(p) as f:
        return json.load(f)


def fps(s):
    return "%s" % format(int(round(1.0 / s)), ",") if s and s > 0 else "-"


def us(s):
    return "%.1f" % (s * 1e6) if s and s > 0 else "-"


def ratio(a, b):
    return "%.1fx" % (a / b) if a and b else "-"


def simd_kernels():
    """The kernels dsp/ picks on this CPU (sepconv.c, detect_scan.c use the same test)."""
    try:
        flags = next(l for l in open("/proc/cpuinfo") if l.startswith("flags")).split()
    except (OSError, StopIteration):
        return "?"
    if "avx512f" in flags:
        return "AVX-512"
    if "avx2" in flags and "fma" in flags:
        return "AVX2 + FMA"
    return "portable C"


def main():
    out, doc, command = sys.argv[1], sys.argv[2], sys.argv[3]
    dsp = load(out, "dsp.json") or {"cases": []}
    peers = load(out, "peers.json") or {"cases": []}
    pc = {c["case"]: c for c in peers["cases"]}
    lats = [load(out, n) for n in ("lat_usb.json", "lat_sim_32x48.json", "lat_sim_64x64.json")]
    lats = [x for x in lats if x]
    sess = load(out, "session.json")
    machine = load(out, "machine.json") or {}
    L = []
    goals = []

    L.append("## Throughput (frames/s, one core, thread CPU time, median of 5)")
    L.append("")
    L.append("| grid | conv. path (auto) pipeline / plain | knotmap pipeline | bp+det as pipeline "
             "| bp+det plain | OpenCV normalised (as pipeline) | OpenCV | SciPy | scikit-image | skimage blob_dog "
             "| floor: FFTW r2c+c2r pair, padded grid | same, unpadded grid | floor: read frame |")
    L.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for c in dsp["cases"]:
        p = pc.get(c["case"], {})
        g = lambda k: p.get(k, {}).get("s_per_frame")  # noqa: E731
        L.append("| %s%s | %s / %s | %s | %s | %s | %s | %s | %s | %s | %s | %s (%dx%d) | %s | %s |" % (
            c["case"].replace("cyl", ""), " cylinder" if c["cylinder"] else "",
            c["method_pipeline"], c["method_plain"], fps(c["pipeline_s"]),
            fps(c["stage_pipeline_s"]), fps(c["stage_plain_s"]), fps(g("opencv_norm")),
            fps(g("opencv")),
            fps(g("scipy")), fps(g("skimage")), fps(g("blob_dog")), fps(c["fft_pair_s"]),
            c["fft_grid"][0], c["fft_grid"][1], fps(c.get("fft_pair_unpadded_s")),
            fps(c["mem_read_s"])))
    L.append("")
    L.append("Per-frame time (us): pipeline / band-pass alone (pipeline cfg) / plain band-pass "
             "forced FFT / forced DIRECT:")
    L.append("")
    L.append("| grid | pipeline | pipeline band-pass | plain bp FFT | plain bp DIRECT | "
             "auto picked the faster plain path? |")
    L.append("|---|---:|---:|---:|---:|---|")
    for c in dsp["cases"]:
        faster = "fft" if c["bp_plain_fft_s"] < c["bp_plain_direct_s"] else "direct"
        L.append("| %s | %s | %s | %s | %s | %s |" % (
            c["case"], us(c["pipeline_s"]), us(c["bp_pipeline_s"]), us(c["bp_plain_fft_s"]),
            us(c["bp_plain_direct_s"]),
            "yes" if faster == c["method_plain"] else "no (%s is faster)" % faster))
    L.append("")

    if dsp["cases"] and "variants" in dsp["cases"][0]:
        L.append("Pipeline variants that exist as config options today (frames/s; allocations "
                 "per frame of the whole process, malloc-family interposer, 100 frames after "
                 "warm-up): default (normalised band-pass, FFTW_ESTIMATE) / "
                 "`bandpass.fftw_measure = 1` / `normalized = false` / both:")
        L.append("")
        L.append("| grid | default | fftw_measure | normalized=false | normalized=false + "
                 "fftw_measure |")
        L.append("|---|---:|---:|---:|---:|")
        for c in dsp["cases"]:
            v = c["variants"]
            cell = lambda k: "%s (%g allocs)" % (fps(v[k][0]), v[k][1])  # noqa: E731
            L.append("| %s | %s | %s | %s | %s |" % (c["case"], cell("default"),
                                                     cell("fftw_measure"), cell("plain"),
                                                     cell("plain_measure")))
        L.append("")

    L.append("## Ratios (vs peers: speed-up of knotmap, >1 = knotmap faster; vs floors: "
             "knotmap time / floor time)")
    L.append("")
    L.append("| grid | pipeline vs OpenCV | bp+det as pipeline vs OpenCV normalised | "
             "plain vs OpenCV | pipeline vs SciPy | "
             "pipeline vs scikit-image | plain vs scikit-image | pipeline time / FFT pair | "
             "plain time / FFT pair | pipeline time / unpadded pair | pipeline time / frame read |")
    L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for c in dsp["cases"]:
        p = pc.get(c["case"], {})
        g = lambda k: p.get(k, {}).get("s_per_frame")  # noqa: E731
        L.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            c["case"], ratio(g("opencv"), c["pipeline_s"]),
            ratio(g("opencv_norm"), c["stage_pipeline_s"]),
            ratio(g("opencv"), c["stage_plain_s"]),
            ratio(g("scipy"), c["pipeline_s"]), ratio(g("skimage"), c["pipeline_s"]),
            ratio(g("skimage"), c["stage_plain_s"]), ratio(c["pipeline_s"], c["fft_pair_s"]),
            ratio(c["stage_plain_s"], c["fft_pair_s"]),
            ratio(c["pipeline_s"], c.get("fft_pair_unpadded_s")),
            ratio(c["pipeline_s"], c["mem_read_s"])))
    L.append("")

    L.append("## Agreement with knotmap's plain stage (same frames; peaks matched within 1 pitch)")
    L.append("")
    L.append("| grid | knotmap spots | OpenCV P / R | SciPy P / R | scikit-image P / R | "
             "blob_dog P / R |")
    L.append("|---|---:|---|---|---|---|")
    for c in dsp["cases"]:
        p = pc.get(c["case"], {})

        def pr(k):
            a = p.get(k, {}).get("agreement")
            if not a:
                return "-"
            return "%.3f / %.3f" % (a["precision"], a["recall"])
        km = p.get("opencv", {}).get("agreement", {}).get("knotmap", 0)
        L.append("| %s | %s | %s | %s | %s | %s |" % (c["case"], km, pr("opencv"), pr("scipy"),
                                                     pr("skimage"), pr("blob_dog")))
    L.append("")
    oh = peers.get("overhead_s", {})
    if oh:
        calls = {k: pc[next(iter(pc))][k]["calls_per_frame"] for k in
                 ("opencv", "scipy", "skimage")} if pc else {}
        L.append("Python per-call overhead (wall, measured): plain Python call %.2f us, "
                 "time.thread_time() %.2f us, smallest cv2.GaussianBlur %.2f us, smallest "
                 "scipy.ndimage.gaussian_filter %.2f us; library calls per frame (flat): "
                 "OpenCV %s, SciPy %s, scikit-image %s (plus numpy glue). OpenCV threads: %s." % (
                     oh.get("python_call", 0) * 1e6, oh.get("thread_time_call", 0) * 1e6,
                     oh.get("cv2_call", 0) * 1e6, oh.get("scipy_call", 0) * 1e6,
                     calls.get("opencv", "?"), calls.get("scipy", "?"),
                     calls.get("skimage", "?"), peers.get("cv2_threads")))
        L.append("Versions: %s." % ", ".join("%s %s" % kv for kv in
                                              peers.get("versions", {}).items()))
        L.append("")

    L.append("## Latency, virtual mat -> dsp result (100 Hz, real-time pacing, wall clock)")
    L.append("")
    L.append("| path | grid | frames | median us | p99 us | max us | mat->read median/p99 us "
             "| dsp median/p99 us | km allocs/frame | malloc/frame (by object) |")
    L.append("|---|---|---:|---:|---:|---:|---|---|---:|---|")
    for x in lats:
        byobj = ", ".join("%s %.2f" % kv for kv in x["malloc_by_object"].items()) or "none"
        L.append("| %s | %s | %d | %.0f | %.0f | %.0f | %.0f / %.0f | %.0f / %.0f | %.3f | "
                 "%.2f (%s) |" % (
                     "libusb under umockdev" if x["mode"] == "usb" else "sim transport",
                     x["grid"], x["frames"], x["latency_us"]["median"], x["latency_us"]["p99"],
                     x["latency_us"]["max"], x["transport_us"]["median"],
                     x["transport_us"]["p99"], x["dsp_us"]["median"], x["dsp_us"]["p99"],
                     x["km_allocs_per_frame"], x["malloc_per_frame"], byobj))
    L.append("")
    L.append("Allocations: counted over the measured frames (after start + 50 warm-up frames) "
             "with km_set_allocator hooks (library allocations, all threads) and a malloc/"
             "calloc/realloc/memalign/posix_memalign interposer in the bench binary (all "
             "threads, attributed to the caller's shared object; the bench binary holds "
             "knotmap, statically linked). libglib/libumockdev counts are the emulated "
             "device (umockdev's ioctl emulation), not the host path.")
    L.append("")

    L.append("## Other")
    L.append("")
    sim = []
    simf = os.path.join(out, "sim.txt")
    if os.path.exists(simf):
        for line in open(simf):
            m = re.match(r"(\S.*?\S)\s+(\d+)\s+(\d+)\s+([\d.]+)\s*$", line)
            if m:
                sim.append((m.group(1), int(m.group(3)), float(m.group(4))))
    if sim:
        L.append("- Virtual mat (bench/sim, CPU time): " + "; ".join(
            "%s %s frames/s = %.0fx real time" % (n, format(f, ","), x) for n, f, x in sim))
    if sess:
        L.append("- `.kmrec` write (64x64, kPa + raw, default flush policy, page cache): "
                 "%s frames/s, %.0f MB/s (%d frames, %.1f MB)" % (
                     format(int(sess["write_fps"]), ","), sess["write_mbs"], sess["frames"],
                     sess["kmrec_mb"]))
        for e in sess["exports"]:
            if e["mb"] > 0.01:
                L.append("- export %s: %.1f MB/s (%s frames/s, %.1f MB)" % (
                    e["format"], e["mbs"], format(int(e["fps"]), ","), e["mb"]))
            else:
                L.append("- export %s (summary only): %s frames/s read" % (
                    e["format"], format(int(e["fps"]), ",")))
    cg = os.path.join(out, "callgrind.txt")
    ir_frame = None
    if os.path.exists(cg):
        txt = open(cg).read()
        m = re.search(r"IR_PER_FRAME\s+(\d+)", txt)
        if m:
            ir_frame = int(m.group(1))
            L.append("- callgrind, pipeline 64x64: %s instructions per frame "
                     "(valgrind --tool=callgrind --toggle-collect=bench_pipeline_loop)" %
                     format(ir_frame, ","))
        top = re.findall(r"TOP\s+(\S+)\s+([\d.]+)%\s+(.*)", txt)
        if top:
            L.append("  - top (self): " + "; ".join("%s %s%%" % (f, p) for f, p, _ in top))
    pf = os.path.join(out, "perf.txt")
    if os.path.exists(pf):
        dso = re.findall(r"DSO\s+([\d.]+)%\s+(\S+)", open(pf).read())
        sym = re.findall(r"SYM\s+([\d.]+)%\s+\[.\]\s+(\S+)", open(pf).read())
        if dso:
            L.append("- perf (cpu-clock samples, pipeline 64x64 incl. frame set-up): by object " +
                     "; ".join("%s %s%%" % (o, p) for p, o in dso) + "; by function " +
                     "; ".join("%s %s%%" % (f, p) for p, f in sym[:6]))
    L.append("")

    # goals
    c64 = next((c for c in dsp["cases"] if c["case"] == "64x64"), None)

    def goal(name, ok, detail):
        goals.append("| %s | %s | %s |" % (name, "MET" if ok else "**MISSED**", detail))
    if c64:
        f64 = 1 / c64["pipeline_s"]
        goal("64x64 pipeline >= 20,000 frames/s (one core)", f64 >= 20000,
             "%s frames/s" % format(int(f64), ","))
    cvs = [(c["case"], pc.get(c["case"], {}).get("opencv", {}).get("s_per_frame"),
            c["pipeline_s"], c["stage_plain_s"],
            pc.get(c["case"], {}).get("opencv_norm", {}).get("s_per_frame"),
            c["stage_pipeline_s"]) for c in dsp["cases"]]
    cvs = [x for x in cvs if x[1] and x[4]]
    if cvs:
        ok_plain = all(cv > st for _, cv, _, st, _, _ in cvs)
        ok_norm = all(cn > sp for _, _, _, _, cn, sp in cvs)
        ok_pipe = all(cv > pp for _, cv, pp, _, _, _ in cvs)
        goal("faster than OpenCV at every size (like for like)", ok_plain and ok_norm,
             "plain DoG + NMS vs OpenCV plain: " +
             ", ".join("%s %.2fx" % (n, cv / st) for n, cv, _, st, _, _ in cvs) +
             "; pipeline's normalised bp + detection vs OpenCV normalised: " +
             ", ".join("%s %.2fx" % (n, cn / sp) for n, _, _, _, cn, sp in cvs) +
             "; whole pipeline (tracking, holds...) vs OpenCV plain DoG: " +
             ", ".join("%s %.2fx" % (n, cv / pp) for n, cv, pp, _, _, _ in cvs) +
             (" (%s)" % ("met" if ok_pipe else "not met")))
    sks = [(c["case"], pc.get(c["case"], {}).get("skimage", {}).get("s_per_frame"),
            c["pipeline_s"]) for c in dsp["cases"]]
    sks = [x for x in sks if x[1]]
    if sks:
        goal(">= 50x scikit-image", all(sk / pp >= 50 for _, sk, pp in sks),
             ", ".join("%s %.1fx" % (n, sk / pp) for n, sk, pp in sks))
    if dsp["cases"]:
        goal("within 3x of the bare FFT floor (r2c+c2r pair on the padded grid)",
             all(c["pipeline_s"] <= 3 * c["fft_pair_s"] for c in dsp["cases"]),
             "pipeline: " + ", ".join("%s %.1fx" % (c["case"], c["pipeline_s"] / c["fft_pair_s"])
                                      for c in dsp["cases"]) +
             "; plain stage: " + ", ".join("%s %.1fx" % (c["case"], c["stage_plain_s"] /
                                                         c["fft_pair_s"])
                                           for c in dsp["cases"]))
    if lats:
        goal("p99 latency < 1 frame period (10 ms at 100 Hz)",
             all(x["latency_us"]["p99"] < 10000 for x in lats),
             ", ".join("%s %s %.1f ms" % (x["mode"], x["grid"], x["latency_us"]["p99"] / 1000)
                       for x in lats))

        def own(x):
            return sum(v for k, v in x["malloc_by_object"].items()
                       if "fftw" in k or "bench_latency" in k)
        goal("zero allocations per frame",
             all(x["km_allocs_per_frame"] == 0 and own(x) == 0 for x in lats),
             ", ".join("%s %s: km hooks %.2f, knotmap+FFTW mallocs %.2f, libusb %.2f" % (
                 x["mode"], x["grid"], x["km_allocs_per_frame"], own(x),
                 sum(v for k, v in x["malloc_by_object"].items() if "libusb" in k))
                 for x in lats))

    head = ["# knotmap performance (issue 8)", "",
            "Generated by `bench/run.sh` (do not edit by hand; rerun it). Every row below was "
            "measured in the same run on the same virtual-mat frames.", "",
            "## Machine and run", "",
            "- command: `%s`" % command,
            "- date (UTC): %s" % machine.get("date", "?"),
            "- nproc: %s; CPU: %s" % (machine.get("nproc", "?"), machine.get("cpu", "?")),
            "- load average (1 min) during the run: start %s, min %s, mean %s, max %s, end %s "
            "(shared machine: other engineers' builds and tests ran concurrently; throughput "
            "uses thread CPU time to be fair to that, latency is wall clock)" % (
                machine.get("load_start", "?"), machine.get("load_min", "?"),
                machine.get("load_mean", "?"), machine.get("load_max", "?"),
                machine.get("load_end", "?")),
            "- build: Release (-O3), `-DKM_BUILD_BENCH=ON`, build dir `build-bench`; FFTW %s, "
            "planner FFTW_ESTIMATE (the library default); DIRECT band-pass and detection "
            "kernels: %s (chosen at run time from the CPU's flags); total bench time %s s" % (
                dsp.get("fftw_version", "?"), simd_kernels(), machine.get("seconds", "?")),
            "- memory read bandwidth (64 MiB sum, one core): %.1f GB/s" %
            dsp.get("read_bandwidth_gbs", 0), "",
            "## Goals", "", "| goal | status | measured |", "|---|---|---|"]
    text = "\n".join(head + goals + [""] + L)
    notes = os.path.join(os.path.dirname(os.path.abspath(__file__)), "performance-notes.md")
    if os.path.exists(notes):
        text += "\n" + open(notes).read()
    print(text)
    with open(doc, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
