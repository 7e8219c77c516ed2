#!/usr/bin/python3
"""The same DoG band-pass + peak detection as knotmap's plain stage, written the
natural way with OpenCV, SciPy and scikit-image, on the same frames.

Reads <out>/dsp.json (grid, scales) and the frames bench_dsp wrote
(<out>/frames_<case>.npy, float32 kPa) and knotmap's detections on them
(<out>/dets_<case>.npy: frame, row, col, scale, x_mm, y_mm, response).
Writes <out>/peers.json: seconds per frame (median of 5 passes over all
frames, time.thread_time inside Python, one thread), library calls per frame,
the per-call overhead, and agreement with knotmap (peaks matched within one
pitch; precision and recall against knotmap).

Math (knotmap/bandpass.h): R_i = g (G(s_i) - G(1.6 s_i)) * p, g = (r+1)/(r-1),
Gaussians truncated at 4 sigma, zero padding (flat), columns periodic on a
cylinder; peaks = 3x3x3 maxima over (x, y, scale) with R > 2 kPa, border
rows (and border columns of a flat mat) excluded.

usage: peers.py OUTDIR [SECONDS_PER_MEASURE]
"""
import json
import math
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
import cv2  # noqa: E402
import numpy as np  # noqa: E402
import scipy  # noqa: E402
import scipy.ndimage as ndi  # noqa: E402
import skimage  # noqa: E402
from skimage.feature import blob_dog, peak_local_max  # noqa: E402
from skimage.filters import difference_of_gaussians  # noqa: E402

cv2.setNumThreads(1)
THR = 2.0
TRUNC = 4.0


def scales(case):
    smin, smax = case["sigmas_mm"]
    n = case["n_scales"]
    p = case["pitch_mm"]
    s = [smin * (smax / smin) ** (i / (n - 1)) if n > 1 else smin for i in range(n)]
    return [x / p for x in s]


def border_mask(shape, cyl):
    n, r, c = shape
    m = np.zeros(shape, bool)
    m[:, 1:r - 1, :] = True
    if not cyl:
        m[:, :, 0] = False
        m[:, :, c - 1] = False
    return m


# ---- OpenCV ---------------------------------------------------------------
def make_cv(case):
    sig = scales(case)
    ratio = case["ratio"]
    g = (ratio + 1) / (ratio - 1)
    cyl = case["cylinder"]
    pad = int(math.ceil(TRUNC * sig[-1] * ratio)) if cyl else 0
    ks = [(2 * int(math.ceil(TRUNC * s)) + 1, 2 * int(math.ceil(TRUNC * s * ratio)) + 1)
          for s in sig]
    kern = np.ones((3, 3), np.uint8)
    mask = None

    def run(img):
        nonlocal mask
        a = img
        if cyl:  # periodic columns: wrap-pad, blur with zero rows, crop
            a = cv2.copyMakeBorder(img, 0, 0, pad, pad, cv2.BORDER_WRAP)
        layers = []
        for s, (k1, k2) in zip(sig, ks):
            b1 = cv2.GaussianBlur(a, (k1, k1), s, borderType=cv2.BORDER_CONSTANT)
            b2 = cv2.GaussianBlur(a, (k2, k2), s * ratio, borderType=cv2.BORDER_CONSTANT)
            d = cv2.subtract(b1, b2)
            if cyl:
                d = d[:, pad:-pad]
            layers.append(d * g)
        st = np.stack(layers)
        dil = []
        for d in layers:
            if cyl:
                d = cv2.copyMakeBorder(d, 0, 0, 1, 1, cv2.BORDER_WRAP)
                dil.append(cv2.dilate(d, kern)[:, 1:-1])
            else:
                dil.append(cv2.dilate(d, kern))
        mx = []
        for i in range(len(dil)):
            m = dil[i]
            if i > 0:
                m = cv2.max(m, dil[i - 1])
            if i + 1 < len(dil):
                m = cv2.max(m, dil[i + 1])
            mx.append(m)
        mx = np.stack(mx)
        if mask is None:
            mask = border_mask(st.shape, cyl)
        return np.argwhere((st >= mx) & (st > THR) & mask)

    calls = (1 if cyl else 0) + len(sig) * 3 + len(sig) * (2 if cyl else 1) + 2 * (len(sig) - 1)
    return run, calls


def make_cv_norm(case):
    """The pipeline's band-pass (normalised convolution over loaded cells,
    knotmap/bandpass.h: G*(w p) / G*w per Gaussian, plus the 35 mm
    background) + the same NMS, the natural way in OpenCV. Timed only."""
    sig = scales(case)
    ratio = case["ratio"]
    g = (ratio + 1) / (ratio - 1)
    cyl = case["cylinder"]
    p_mm = case["pitch_mm"]
    bg = 35.0 / p_mm
    gs = [x for s in sig for x in (s, s * ratio)] + [bg]
    pad = int(math.ceil(TRUNC * bg)) if cyl else 0
    ks = [2 * int(math.ceil(TRUNC * s)) + 1 for s in gs]
    kern = np.ones((3, 3), np.uint8)
    mask = None

    def run(img):
        nonlocal mask
        w = (img > 1.0).astype(np.float32)
        wp = img * w
        if cyl:
            w = cv2.copyMakeBorder(w, 0, 0, pad, pad, cv2.BORDER_WRAP)
            wp = cv2.copyMakeBorder(wp, 0, 0, pad, pad, cv2.BORDER_WRAP)
        sm = []
        for s, k in zip(gs, ks):
            num = cv2.GaussianBlur(wp, (k, k), s, borderType=cv2.BORDER_CONSTANT)
            den = cv2.GaussianBlur(w, (k, k), s, borderType=cv2.BORDER_CONSTANT)
            m = cv2.divide(num, cv2.max(den, 1e-6))
            sm.append(m[:, pad:-pad] if cyl else m)
        wc = w[:, pad:-pad] if cyl else w
        layers = [g * (sm[2 * i] - sm[2 * i + 1]) * wc for i in range(len(sig))]
        st = np.stack(layers)
        dil = [cv2.dilate(d, kern) for d in layers]
        mx = np.stack([np.maximum.reduce(dil[max(0, i - 1):i + 2]) for i in range(len(dil))])
        if mask is None:
            mask = border_mask(st.shape, cyl)
        return np.argwhere((st >= mx) & (st > THR) & mask)

    return run, 2 * len(gs) + len(gs) + len(sig)


# ---- SciPy ----------------------------------------------------------------
def make_scipy(case):
    sig = scales(case)
    ratio = case["ratio"]
    g = (ratio + 1) / (ratio - 1)
    cyl = case["cylinder"]
    mode = ("constant", "wrap") if cyl else "constant"
    nmode = ("nearest", "constant", "wrap") if cyl else ("nearest", "constant", "constant")
    mask = None

    def run(img):
        nonlocal mask
        st = np.stack([g * (ndi.gaussian_filter(img, s, mode=mode, truncate=TRUNC) -
                            ndi.gaussian_filter(img, s * ratio, mode=mode, truncate=TRUNC))
                       for s in sig])
        mf = ndi.maximum_filter(st, size=3, mode=nmode, cval=-np.inf)
        if mask is None:
            mask = border_mask(st.shape, cyl)
        return np.argwhere((st >= mf) & (st > THR) & mask)

    return run, 2 * len(sig) + 1


# ---- scikit-image ---------------------------------------------------------
def make_skimage(case):
    sig = scales(case)
    ratio = case["ratio"]
    g = (ratio + 1) / (ratio - 1)
    cyl = case["cylinder"]
    # skimage's filters take one mode for all axes: wrap the whole image on a
    # cylinder would also wrap the rows, so pad the columns by hand instead.
    pad = int(math.ceil(TRUNC * sig[-1] * ratio)) if cyl else 0

    def run(img):
        a = np.pad(img, ((0, 0), (pad, pad)), mode="wrap") if cyl else img
        st = np.stack([g * difference_of_gaussians(a, s, s * ratio, mode="constant",
                                                   truncate=TRUNC)
                       for s in sig])
        if cyl:
            st = st[:, :, pad:-pad]
        # peak_local_max has no periodic borders: a cylinder's seam columns
        # are compared with the zero padding it adds (close enough to time).
        return peak_local_max(st, min_distance=1, threshold_abs=THR,
                              exclude_border=(0, 1, 0 if cyl else 1))

    return run, len(sig) + 1


def make_blob_dog(case):
    sig = scales(case)
    ratio = case["ratio"]
    g = (ratio + 1) / (ratio - 1)

    # blob_dog scales the DoG by 1/(ratio - 1) (skimage 0.19); knotmap by g.
    def run(img):
        b = blob_dog(img, min_sigma=sig[0], max_sigma=sig[-1], sigma_ratio=ratio,
                     threshold=THR * (1 / (ratio - 1)) / g, overlap=1.0,
                     exclude_border=1)
        return b

    return run, 1


# ---- timing and agreement -------------------------------------------------
def time_it(fn, frames, secs):
    """Median CPU seconds per frame over 5 passes (time.thread_time)."""
    clock = time.thread_time  # CPU time of this thread, like bench_dsp
    fn(frames[0])
    t0 = clock()
    for f in frames[:20]:
        fn(f)
    per = (clock() - t0) / min(20, len(frames))
    n = max(1, min(len(frames), int(secs / 5 / max(per, 1e-9))))
    res = []
    for rep in range(5):
        t0 = clock()
        for f in frames[:n]:
            fn(f)
        res.append((clock() - t0) / n)
    res.sort()
    return res[2]


def overheads():
    """Per-call overheads: a Python call + perf_counter pair, and the smallest
    OpenCV / SciPy calls (on a 1x1 image)."""
    def noop(x):
        return x

    tiny = np.zeros((1, 1), np.float32)
    out = {}
    for name, fn in (("python_call", lambda: noop(tiny)),
                     ("cv2_call", lambda: cv2.GaussianBlur(tiny, (1, 1), 0.5)),
                     ("scipy_call", lambda: ndi.gaussian_filter(tiny, 0.5))):
        n = 20000
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        out[name] = (time.perf_counter() - t0) / n
    n = 20000
    t0 = time.perf_counter()
    for _ in range(n):
        time.thread_time()
    out["thread_time_call"] = (time.perf_counter() - t0) / n
    return out


def agreement(case, frames, dets, fn, is_blob=False):
    p = case["pitch_mm"]
    cyl = case["cylinder"]
    w = case["cols"] * p
    tp = npeer = nkm = 0
    for i, img in enumerate(frames):
        km = dets[dets[:, 0] == i][:, 4:6]
        pk = fn(img)
        if is_blob:
            pts = np.stack([(pk[:, 1] + 0.5) * p, (pk[:, 0] + 0.5) * p], 1) if len(pk) else \
                np.zeros((0, 2))
        else:
            pts = np.stack([(pk[:, 2] + 0.5) * p, (pk[:, 1] + 0.5) * p], 1) if len(pk) else \
                np.zeros((0, 2))
        npeer += len(pts)
        nkm += len(km)
        if not len(pts) or not len(km):
            continue
        dx = np.abs(pts[:, None, 0] - km[None, :, 0])
        if cyl:
            dx = np.minimum(dx, w - dx)
        d = np.hypot(dx, pts[:, None, 1] - km[None, :, 1])
        used_p, used_k = set(), set()
        for flat in np.argsort(d, axis=None):
            a, b = np.unravel_index(flat, d.shape)
            if d[a, b] > p:
                break
            if a in used_p or b in used_k:
                continue
            used_p.add(a)
            used_k.add(b)
            tp += 1
    return {"matched": tp, "peer": npeer, "knotmap": nkm,
            "precision": tp / npeer if npeer else float("nan"),
            "recall": tp / nkm if nkm else float("nan")}


def main():
    out = sys.argv[1]
    secs = float(sys.argv[2]) if len(sys.argv) > 2 else 0.5
    with open(os.path.join(out, "dsp.json")) as f:
        dsp = json.load(f)
    res = {"versions": {"python": sys.version.split()[0], "numpy": np.__version__,
                        "opencv": cv2.__version__, "scipy": scipy.__version__,
                        "skimage": skimage.__version__},
           "cv2_threads": cv2.getNumThreads(), "overhead_s": overheads(), "cases": []}
    for case in dsp["cases"]:
        name = case["case"]
        frames = np.load(os.path.join(out, "frames_%s.npy" % name))
        dets = np.load(os.path.join(out, "dets_%s.npy" % name))
        frames = [np.ascontiguousarray(f, dtype=np.float32) for f in frames]
        row = {"case": name}
        fn, calls = make_cv_norm(case)
        row["opencv_norm"] = {"s_per_frame": time_it(fn, frames, secs), "calls_per_frame": calls}
        print("%-10s %-8s %9.0f f/s  (normalised, as the pipeline; timed only)" %
              (name, "cv-norm", 1 / row["opencv_norm"]["s_per_frame"]), flush=True)
        for peer, make in (("opencv", make_cv), ("scipy", make_scipy),
                           ("skimage", make_skimage), ("blob_dog", make_blob_dog)):
            fn, calls = make(case)
            budget = secs if peer != "blob_dog" else secs / 2
            t = time_it(fn, frames, budget)
            # agreement on a subset for the slow ones (all frames for the others)
            sub = frames if peer in ("opencv", "scipy") else frames[::5]
            subdets = dets if peer in ("opencv", "scipy") else \
                np.concatenate([dets[dets[:, 0] == i] for i in range(0, len(frames), 5)] +
                               [np.zeros((0, 7), np.float32)])
            if peer not in ("opencv", "scipy"):
                subdets = subdets.copy()
                subdets[:, 0] = subdets[:, 0] // 5
            ag = agreement(case, sub, subdets, fn, is_blob=(peer == "blob_dog"))
            row[peer] = {"s_per_frame": t, "calls_per_frame": calls, "agreement": ag}
            print("%-10s %-8s %9.0f f/s  precision %.3f recall %.3f" %
                  (name, peer, 1 / t, ag["precision"], ag["recall"]), flush=True)
        res["cases"].append(row)
    with open(os.path.join(out, "peers.json"), "w") as f:
        json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
