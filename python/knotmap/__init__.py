"""knotmap for Python: read pressure-mat files, run knotmap's knot and hold
analysis, write recordings and exports, and run the virtual mat.

    import knotmap
    rec = knotmap.read("session.kmrec")          # or .npy, Tekscan, XSENSOR, CSV
    pipe = knotmap.Pipeline.for_recording(rec)
    out = pipe.process_many(rec.frames, time_us=rec.time_us, finish=True)
    print(out.event_names, out.events[["time_us", "x_mm", "y_mm"]])

Frames are float32 numpy arrays [frames, rows, cols] in kPa. The C library
(libknotmap) does the work; arrays come back without a copy, and the long
calls release the GIL. Errors are knotmap.Error with .name ("KM_ERR_...")
and .detail (the library's message). docs/python.md walks through it.
"""

import numpy as np

from . import _knotmap
from ._knotmap import Error

__all__ = ["Error", "Recording", "Results", "Simulation", "Pipeline", "read", "write",
           "guess_pitch", "simulate", "EVENT_NAMES", "REASON_NAMES", "__version__"]

__version__ = _knotmap.library_version

EVENT_NAMES = tuple(_knotmap.event_names)
REASON_NAMES = tuple(_knotmap.reason_names)


def _dtype(name):
    """The numpy dtype of a record the C side fills (offsets from offsetof)."""
    fields, itemsize = _knotmap.layouts[name]
    return np.dtype({"names": [f[0] for f in fields],
                     "formats": [f[1] for f in fields],
                     "offsets": [f[2] for f in fields],
                     "itemsize": itemsize})


EVENT_DTYPE = _dtype("event")
SPOT_DTYPE = _dtype("spot")
CANDIDATE_DTYPE = _dtype("candidate")
FRAME_DTYPE = _dtype("frame")
TRUTH_DTYPE = _dtype("truth")
KNOT_DTYPE = _dtype("knot")


def _records(buf, dtype):
    # frombuffer keeps a reference to buf: no copy, the memory lives as long
    # as the array does.
    return np.frombuffer(buf, dtype=dtype)


def _name(table, i):
    i = int(i)
    return table[i] if 0 <= i < len(table) else "type%d" % i


class Recording:
    """What knotmap.read() returns.

    frames     float32 [frames, rows, cols], kPa (raw counts when units == "raw")
    time_us    uint64 [frames], the file's time stamps (else index / rate)
    time_s     float64 [frames], seconds from the first frame
    sequence   uint32 [frames]
    flags      uint32 [frames], knotmap frame flags (KM_FRAME_*)
    rate_hz, pitch_mm, pitch_mm_rows, pitch_mm_cols, geometry
    units      of frames: "kPa" (converted from file_units), or "raw" counts
    mask       bool [rows, cols] of cells that exist, or None when the file
               has no sensor outline
    format, model, serial, damage (None, or a dict when the file is damaged
    and was read with partial=True, or a .kmrec cut short), rate_from,
    pitch_from, units_from ("file", "sidecar", "config" or "default"; pitch_from
    also "body": guessed from a whole body lying on the mat, see read()).
    """

    def __init__(self, d):
        self.frames = np.asarray(d["frames"])
        self.time_us = np.asarray(d["time_us"])
        self.sequence = np.asarray(d["sequence"])
        self.flags = np.asarray(d["flags"])
        self.rate_hz = d["rate_hz"]
        self.pitch_mm = d["pitch_mm"]
        # Per-axis pitch (oblong cells) and the sensor's outline as the
        # importer gives them.
        self.pitch_mm_rows = d["pitch_mm_rows"]
        self.pitch_mm_cols = d["pitch_mm_cols"]
        mask = d["mask"]
        self.mask = None if mask is None else np.asarray(mask).astype(bool)
        self.units = d["units"]
        self.file_units = d["file_units"]
        self.geometry = d["geometry"]
        self.format = d["format"]
        self.model = d["model"]
        self.serial = d["serial"]
        self.damage = d["damage"]
        self.rate_from = d["rate_from"]
        self.pitch_from = d["pitch_from"]
        self.units_from = d["units_from"]

    @property
    def rows(self):
        return self.frames.shape[1]

    @property
    def cols(self):
        return self.frames.shape[2]

    @property
    def time_s(self):
        if len(self.time_us) == 0:
            return np.zeros(0)
        return (self.time_us - self.time_us[0]).astype(np.float64) / 1e6

    def __len__(self):
        return len(self.frames)

    def __repr__(self):
        return ("<knotmap.Recording %s: %d frames of %d x %d, %.4g Hz, %.4g mm, %s>"
                % (self.format, len(self), self.rows, self.cols, self.rate_hz,
                   self.pitch_mm, self.units))


def read(path, **options):
    """Reads a pressure file: .kmrec, .npy, Tekscan ASCII, XSENSOR CSV or CSV.

    Options (all keyword-only, all optional): format ("auto", "kmrec", "npy",
    "tekscan", "xsensor", "csv"), rate_hz, pitch_mm, units ("kPa", "Pa",
    "N/m2", "MPa", "bar", "mbar", "hPa", "N/cm2", "kgf/cm2", "gf/cm2", "psi",
    "mmHg", "cmH2O", or "counts" for raw sensor counts), rows and cols (plain CSV without a header),
    sidecar (read FILE.json next to an .npy; default True), partial (return
    the frames before damage in an import instead of raising; a damaged
    .kmrec always gives the frames before the damage, with .damage set).
    When neither the options nor the file give a cell spacing and the first
    10 s hold a whole body lying along the mat, pitch_mm is the one that body
    implies (guess_pitch) and pitch_from is "body", as `knotmap analyze`
    takes it; else the 10 mm default ("default").
    Returns a Recording. Raises knotmap.Error.
    """
    rec = Recording(_knotmap.read(path, **options))
    if rec.pitch_from == "default" and len(rec):
        first = rec.frames[rec.time_s < 10.0]  # as the command: its first 10 s
        pitch = guess_pitch(first.mean(axis=0, dtype=np.float64))
        if pitch is not None:
            rec.pitch_mm = rec.pitch_mm_rows = rec.pitch_mm_cols = pitch
            rec.pitch_from = "body"
    return rec


def guess_pitch(map):
    """A cell spacing (mm) for a pressure map [rows, cols] whose file gives
    none, from a whole body lying along the mat (its rows span at least half
    the mat's and 2.5 times its median width; 1.6 m head to heels): the
    library's km_body_guess_pitch, any units. None when the map holds no such
    body (a back, a seat, an empty mat)."""
    return _knotmap.guess_pitch(np.ascontiguousarray(map, dtype=np.float32))


_EXT_FORMAT = {".kmrec": "kmrec", ".npy": "npy", ".csv": "csv", ".json": "json",
               ".png": "png", ".txt": "tekscan", ".asf": "tekscan"}


def write(path, frames, rate_hz=100.0, pitch_mm=10.0, format=None, geometry="flat",
          time_us=None, sequence=None, overwrite=False, model="python", title=None):
    """Writes frames (float32-convertible [frames, rows, cols] or [rows, cols], kPa).

    format: "kmrec" (a knotmap recording), or an export: "npy", "csv",
    "tekscan", "json" (a session summary) or "png" (a report image); default
    from the file name's extension. The file is created 0600; an existing
    file is an error (KM_ERR_EXISTS) unless overwrite=True. Returns the number
    of frames written.
    """
    path = str(path)
    if format is None:
        ext = path[path.rfind("."):].lower() if "." in path else ""
        if ext not in _EXT_FORMAT:
            raise ValueError("cannot tell the format from %r: give format=" % path)
        format = _EXT_FORMAT[ext]
    frames = np.ascontiguousarray(frames, dtype=np.float32)
    if time_us is not None:
        time_us = np.ascontiguousarray(time_us, dtype=np.uint64)
    if sequence is not None:
        sequence = np.ascontiguousarray(sequence, dtype=np.uint32)
    return _knotmap.write(path, frames, format=format, rate_hz=float(rate_hz),
                          pitch_mm=float(pitch_mm), geometry=geometry, time_us=time_us,
                          sequence=sequence, overwrite=bool(overwrite), model=model,
                          title=title)


class Event:
    """One event as a plain object (Pipeline.process gives these)."""

    __slots__ = ("name", "reason", "time_us", "frame", "track_id", "x_mm", "y_mm", "row",
                 "col", "body_x_mm", "body_y", "load_kpa", "held_s", "dose_kpa_s",
                 "stiffness_pct", "value", "hold_index")

    def __init__(self, r):
        self.name = _name(EVENT_NAMES, r["type"])
        self.reason = _name(REASON_NAMES, r["reason"])
        for k in self.__slots__[2:]:
            v = r[k]
            setattr(self, k, v.item() if hasattr(v, "item") else v)

    def __repr__(self):
        return "<Event %s track %d at (%.1f, %.1f) mm, t %d us>" % (
            self.name, self.track_id, self.x_mm, self.y_mm, self.time_us)


class Spot:
    """One tracked spot (a candidate knot) as a plain object."""

    __slots__ = ("id", "state", "x_mm", "y_mm", "row", "col", "body_x_mm", "body_y",
                 "peak_kpa", "response_kpa", "scale_mm", "hits", "flags")

    def __init__(self, r):
        for k in self.__slots__:
            v = r[k]
            setattr(self, k, v.item() if hasattr(v, "item") else v)
        self.state = ("start", "move", "end")[self.state] if self.state < 3 else self.state

    def __repr__(self):
        return "<Spot %d (%s) at (%.1f, %.1f) mm = cell (%.2f, %.2f)>" % (
            self.id, self.state, self.x_mm, self.y_mm, self.row, self.col)


class Results:
    """What Pipeline.process_many() returns: numpy structured arrays.

    events      one row per event (EVENT_DTYPE; .names gives the type names)
    spots       one row per frame per confirmed track (SPOT_DTYPE)
    candidates  one row per frame per detection (CANDIDATE_DTYPE)
    frames      one row per frame given (FRAME_DTYPE): status is 0 or the
                knotmap error code of a frame the pipeline skipped
    Positions: x_mm/y_mm on the mat, row/col in cells (cell r's centre is
    row r), body_x_mm (from the spine midline) and body_y (0 at the top of
    the loaded body, 1 at its bottom), NaN when no body outline was found.
    """

    def __init__(self, bufs):
        self.events = _records(bufs[0], EVENT_DTYPE)
        self.spots = _records(bufs[1], SPOT_DTYPE)
        self.candidates = _records(bufs[2], CANDIDATE_DTYPE)
        self.frames = _records(bufs[3], FRAME_DTYPE)

    @property
    def event_names(self):
        return [_name(EVENT_NAMES, t) for t in self.events["type"]]

    @property
    def skipped(self):
        return int(np.count_nonzero(self.frames["status"]))

    def event_list(self):
        return [Event(r) for r in self.events]

    def __repr__(self):
        return "<knotmap.Results: %d frames, %d events, %d spot rows>" % (
            len(self.frames), len(self.events), len(self.spots))


class Pipeline(_knotmap._Pipeline):
    """knotmap's dsp pipeline: band-pass, spot detection, tracking, guarding,
    stiffness and hold timers (knotmap/pipeline.h).

    Pipeline(rows, cols, pitch_mm=10, rate_hz=100, geometry="flat", **config)
    config: region_mm, average_tau_s, average_motion_mm, confirm_s,
    announce_s, max_bad_fraction, noise_k, min_response_kpa, outline_kpa,
    gate_mm, normalized, enable_guard, enable_hold, enable_stiffness,
    sensor_noise, lying_trunk_only, row_pitch_mm and col_pitch_mm (oblong
    cells; pitch_mm is then their geometric mean, as frames carry it),
    knot_max_pitch_mm (cells coarser than this keep spots only under a
    tool: flag 1 << 5 in frames["flags"]), floor_fraction (the detection
    floor as a fraction of the body's median load; 0 = min_response_kpa
    alone), outline_fraction (on counts: loaded above this fraction of
    the 99th-percentile cell), max_events (defaults: the library's),
    sensor_mask.

    sensor_mask: which cells are on the sensor, rows x cols, truthy = on
    (a numpy array of bools, integers or floats, anything else with the
    buffer protocol, or nested lists); None (default) = every cell. A cell
    off the sensor is no data: its value is ignored and it never holds a
    candidate (knotmap/pipeline.h). Copied at creation, so the array may
    change afterwards. ValueError when it is not rows x cols, TypeError
    when it is not a mask.

    Frames without time stamps get sequence = frame index and time =
    index / rate_hz.
    """

    @classmethod
    def for_recording(cls, rec, **config):
        """A pipeline set up as `knotmap analyze` sets it up for rec (with
        the file's sensor outline, rec.mask, when it has one)."""
        config.setdefault("sensor_mask", rec.mask)
        if rec.pitch_mm_rows != rec.pitch_mm_cols:  # oblong cells, as the command
            config.setdefault("row_pitch_mm", rec.pitch_mm_rows)
            config.setdefault("col_pitch_mm", rec.pitch_mm_cols)
        return cls(rec.rows, rec.cols, rec.pitch_mm, rec.rate_hz or 100.0,
                   geometry=rec.geometry, **config)

    @property
    def rows(self):
        return self._info["rows"]

    @property
    def cols(self):
        return self._info["cols"]

    @property
    def pitch_mm(self):
        return self._info["pitch_mm"]

    @property
    def rate_hz(self):
        return self._info["rate_hz"]

    @property
    def frames_processed(self):
        return self._info["frames"]

    def process(self, frame, time_us=None, sequence=None):
        """One frame [rows, cols] -> (events, spots) as lists of Event and Spot.

        Raises knotmap.Error when the pipeline refuses the frame (wrong
        shape, out of order, too many bad cells, uncalibrated, ...).
        """
        frame = np.ascontiguousarray(frame, dtype=np.float32)
        t = None if time_us is None else np.array([time_us], dtype=np.uint64)
        s = None if sequence is None else np.array([sequence], dtype=np.uint32)
        r = Results(self._process(frame, t, s, strict=True))
        return r.event_list(), [Spot(x) for x in r.spots]

    def process_many(self, frames, time_us=None, sequence=None, finish=False):
        """Frames [n, rows, cols] -> Results (structured arrays).

        Frames the pipeline refuses are skipped and counted (Results.skipped,
        frames["status"]), as `knotmap analyze` does. finish=True ends every
        live track after the last frame (KNOT_LOST, holds stopped), as the
        CLI does at the end of a file. The GIL is released meanwhile.
        """
        frames = np.ascontiguousarray(frames, dtype=np.float32)
        if frames.ndim == 2:
            frames = frames[None]
        if time_us is not None:
            time_us = np.ascontiguousarray(time_us, dtype=np.uint64)
        if sequence is not None:
            sequence = np.ascontiguousarray(sequence, dtype=np.uint32)
        return Results(self._process(frames, time_us, sequence, finish=bool(finish)))

    def finish(self):
        """Ends every live track; returns the events as Results."""
        return Results(self._finish())


class Simulation:
    """What knotmap.simulate() returns.

    frames     float32 [frames, rows, cols]: the true pressure, kPa
    counts     uint16 [frames, rows, cols]: the raw ADC counts the mat sends
    time_us    uint64 [frames]
    truth      TRUTH_DTYPE [frames]: phase, loads, tool contact, tensing...
    knots      KNOT_DTYPE [frames, knot_count]: each knot's truth per frame
    fault_map  uint8 [rows, cols]: 0 ok, 1 dead, 2 stuck
    landmarks  {name: (x_mm, y_mm, on_mat)}
    rows, cols, pitch_mm, rate_hz, geometry, scenario (path), description,
    seed, tool, body_mass_kg
    """

    PHASES = ("idle", "approach", "settle", "hold", "lift")

    def __init__(self, d):
        self.frames = np.asarray(d["frames"])
        self.counts = np.asarray(d["counts"])
        self.time_us = np.asarray(d["time_us"])
        self.truth = _records(d["truth"], TRUTH_DTYPE)
        self.knots = _records(d["knots"], KNOT_DTYPE).reshape(len(self.frames),
                                                               d["knot_count"])
        self.fault_map = np.asarray(d["fault_map"])
        self.landmarks = d["landmarks"]
        for k in ("rows", "cols", "pitch_mm", "rate_hz", "geometry", "scenario",
                  "description", "seed", "tool", "body_mass_kg"):
            setattr(self, k, d[k])

    @property
    def sequence(self):
        return self.truth["sequence"]

    def __len__(self):
        return len(self.frames)

    def __repr__(self):
        return "<knotmap.Simulation %s: %d frames of %d x %d at %.4g Hz>" % (
            self.scenario, len(self), self.rows, self.cols, self.rate_hz)


def simulate(scenario, seconds=10.0, seed=None, rate_hz=None):
    """Runs the virtual mat: a scenario name (`knotmap sim --list`) or a path
    to a scenario .ini, for `seconds` of simulated time, deterministic from
    seed (default: the scenario's). Returns a Simulation."""
    return Simulation(_knotmap.simulate(str(scenario), float(seconds), seed,
                                        float(rate_hz or 0)))
