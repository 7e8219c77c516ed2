"""The knotmap Python module against the knotmap command on the same files:
what `knotmap analyze --events`, `replay --frames`, `export` and `sim --truth`
print or write must be what the module returns."""
import json
import re
import threading
import zipfile

import numpy as np
import pytest

import knotmap  # no module, no tests: the suite fails at collection

SCENARIO = "tennis-ball-trapezius"

EVENT_RE = re.compile(r"^\s+(-?[\d.]+) s\s+(\S+)\s+track (\d+)\s+at \(\s*(-?[\d.]+),"
                      r"\s*(-?[\d.]+)\) mm(?:\s+(\S+))?$")
SUMMARY_RE = re.compile(r"^analysed (\d+) frames \(([\d.]+) s\)(?:, (\d+) skipped[^,]*)?,"
                        r" (\d+) events$")
FRAME_RE = re.compile(r"^frame\s+(\d+)\s+seq\s+(\d+)\s+t\s+(-?[\d.]+) s\s+flags 0x(\w+)\s+"
                      r"dropped\s+(\d+)\s+peak\s+([\d.]+)\s+mean\s+([\d.]+)\s+loaded (\d+)$")


def cli_analyze(cli, path, *opts):
    """(frames, skipped, events as (t, name, track, x, y, reason) strings)."""
    out = cli("analyze", path, "--events", *opts).stdout.splitlines()
    events, summary = [], None
    for line in out:
        m = EVENT_RE.match(line)
        if m:
            events.append(m.groups("")[:6])
        m2 = SUMMARY_RE.match(line)
        if m2:
            summary = m2
    assert summary, "no summary line in:\n" + "\n".join(out)
    frames, skipped, n_events = int(summary[1]), int(summary[3] or 0), int(summary[4])
    assert n_events == len(events)
    return frames, skipped, events


def module_analyze(rec, **config):
    """The same analysis through the module, formatted as the CLI prints it."""
    pipe = knotmap.Pipeline.for_recording(rec, **config)
    res = pipe.process_many(rec.frames, time_us=rec.time_us, sequence=rec.sequence,
                            finish=True)
    t0 = int(rec.time_us[0]) if len(rec) else 0
    events = []
    for e, name in zip(res.events, res.event_names):
        reason = knotmap.REASON_NAMES[e["reason"]] if e["reason"] else ""
        events.append(("%.3f" % ((int(e["time_us"]) - t0) / 1e6), name, str(e["track_id"]),
                       "%.1f" % e["x_mm"], "%.1f" % e["y_mm"], reason))
    return len(res.frames), res.skipped, events, res


def check_same_analysis(cli, path, rec, *opts):
    frames, skipped, cli_events = cli_analyze(cli, path, *opts)
    n, sk, events, res = module_analyze(rec)
    assert (n, sk) == (frames, skipped)
    assert events == cli_events
    return res


def check_same_frames(cli, path, rec, *opts):
    """`knotmap replay --frames` statistics equal the module's frames."""
    out = cli("replay", path, "--frames", *opts).stdout.splitlines()
    rows = [FRAME_RE.match(line).groups() for line in out if FRAME_RE.match(line)]
    assert len(rows) == len(rec) > 0
    t0 = int(rec.time_us[0])
    f = rec.frames.reshape(len(rec), -1).astype(np.float64)
    peak = np.maximum(f.max(axis=1), 0)
    # The CLI sums cell by cell in double: cumsum is sequential too.
    mean = np.cumsum(f, axis=1)[:, -1] / f.shape[1]
    loaded = (f > 1.0).sum(axis=1)
    for i, r in enumerate(rows):
        assert int(r[0]) == i and int(r[1]) == int(rec.sequence[i])
        assert r[2] == "%.3f" % ((int(rec.time_us[i]) - t0) / 1e6)
        assert int(r[3], 16) == int(rec.flags[i])
        assert r[5] == "%.2f" % peak[i]
        assert r[6] == "%.2f" % mean[i]
        assert int(r[7]) == loaded[i]


@pytest.fixture(scope="module")
def cli_recording(cli, tmp_path_factory):
    """A .kmrec the knotmap command recorded from the virtual mat."""
    path = tmp_path_factory.mktemp("rec") / "session.kmrec"
    cli("record", "--sim", SCENARIO, "--duration", "20", "--fast", "--seed", "2",
        "--no-history", "-o", path)
    return path


def test_kmrec_from_cli_reads_and_analyses_the_same(cli, cli_recording):
    rec = knotmap.read(cli_recording)
    assert rec.format == "kmrec" and rec.units == "kPa" and rec.damage is None
    assert rec.frames.dtype == np.float32 and rec.frames.shape[1:] == (64, 64) and len(rec) >= 2000
    assert rec.rate_hz == 100 and rec.pitch_mm == pytest.approx(7.5)
    res = check_same_analysis(cli, cli_recording, rec)
    # The scenario presses a ball on the trapezius: the pipeline must see it.
    assert len(res.events) > 0 and len(res.spots) > 0
    check_same_frames(cli, cli_recording, rec)


def test_arrays_are_wrapped_not_copied(cli_recording):
    rec = knotmap.read(cli_recording)
    assert not rec.frames.flags.owndata
    base = rec.frames
    while isinstance(base, np.ndarray):
        base = base.base
    # numpy holds a memoryview of the module's Buffer: the memory knotmap filled
    assert isinstance(base.obj if isinstance(base, memoryview) else base, knotmap._knotmap.Buffer)
    res = knotmap.Pipeline.for_recording(rec).process_many(rec.frames[:200])
    assert not res.frames.flags.owndata and len(res.frames) == 200


def test_process_one_by_one_equals_process_many(cli_recording):
    rec = knotmap.read(cli_recording)
    many = knotmap.Pipeline.for_recording(rec).process_many(rec.frames[:600],
                                                             time_us=rec.time_us[:600])
    one = knotmap.Pipeline.for_recording(rec)
    names, spots = [], 0
    for i in range(600):
        events, sp = one.process(rec.frames[i], time_us=int(rec.time_us[i]))
        names += [e.name for e in events]
        spots += len(sp)
        for s in sp:
            assert s.row == pytest.approx(s.y_mm / rec.pitch_mm - 0.5)
            assert s.col == pytest.approx(s.x_mm / rec.pitch_mm - 0.5)
    assert names == many.event_names and spots == len(many.spots)


def test_body_coordinates_follow_the_outline(cli_recording):
    rec = knotmap.read(cli_recording)
    res = knotmap.Pipeline.for_recording(rec).process_many(rec.frames[:400])
    fr = res.frames[res.spots["frame"]]
    found = fr["body_found"] != 0
    assert found.any(), "a lying body must be outlined"
    s = res.spots[found]
    f = fr[found]
    np.testing.assert_allclose(s["body_x_mm"], s["x_mm"] - f["midline_x_mm"], atol=1e-3)
    np.testing.assert_allclose(s["body_y"], (s["y_mm"] - f["body_top_mm"]) /
                               (f["body_bottom_mm"] - f["body_top_mm"]), atol=1e-5)
    assert np.isnan(res.spots["body_x_mm"][~found]).all()


def test_simulate_matches_cli_truth(cli, tmp_path):
    truth = tmp_path / "truth.json"
    cli("sim", SCENARIO, "--seed", "7", "--duration", "3", "--truth", truth,
        "--quiet-summary")
    t = json.loads(truth.read_text())
    sim = knotmap.simulate(SCENARIO, 3, seed=7)
    assert (sim.rows, sim.cols, sim.seed) == (t["rows"], t["cols"], 7)
    assert len(sim) == len(t["frames"]) == 300
    assert "%.3f" % sim.pitch_mm == "%.3f" % t["pitch_mm"]
    for i, ft in enumerate(t["frames"]):
        tr = sim.truth[i]
        assert ft["seq"] == tr["sequence"] and ft["t_us"] == tr["time_us"] == sim.time_us[i]
        assert ft["phase"] == sim.PHASES[tr["phase"]]
        assert "%.3f" % ft["total_force_n"] == "%.3f" % tr["total_force_n"]
        assert "%.3f" % ft["peak_kpa"] == "%.3f" % tr["peak_kpa"]
        assert ft["tensing"] == bool(tr["tensing"])
        assert ("tool" in ft) == bool(tr["tool_contact"])
        for kj, k in zip(ft["knots"], sim.knots[i]):
            assert kj["id"] == k["id"] and "%.2f" % kj["stiffness_pct"] == "%.2f" % k[
                "stiffness_pct"]
    faults = {(f["row"], f["col"]) for f in t["faults"]}
    assert faults == set(zip(*np.nonzero(sim.fault_map)))
    # the same seed gives the same frames; another seed does not
    again = knotmap.simulate(SCENARIO, 3, seed=7)
    assert np.array_equal(again.frames, sim.frames) and np.array_equal(again.counts, sim.counts)
    assert not np.array_equal(knotmap.simulate(SCENARIO, 3, seed=8).frames, sim.frames)


def test_written_kmrec_analyses_the_same_in_cli(cli, tmp_path):
    sim = knotmap.simulate(SCENARIO, 15, seed=4)
    path = tmp_path / "sim.kmrec"
    assert knotmap.write(path, sim.frames, rate_hz=sim.rate_hz, pitch_mm=sim.pitch_mm,
                         time_us=sim.time_us) == len(sim)
    assert (path.stat().st_mode & 0o777) == 0o600
    rec = knotmap.read(path)
    assert np.array_equal(rec.frames, sim.frames) and np.array_equal(rec.time_us, sim.time_us)
    check_same_analysis(cli, path, rec)


@pytest.mark.parametrize("fmt", ["npy", "csv", "tekscan", "json", "png"])
def test_write_exports_like_the_cli(cli, cli_recording, tmp_path, fmt):
    rec = knotmap.read(cli_recording)
    n = 50
    src = tmp_path / "part.kmrec"
    knotmap.write(src, rec.frames[:n], rate_hz=rec.rate_hz, pitch_mm=rec.pitch_mm,
                  time_us=rec.time_us[:n], sequence=rec.sequence[:n])
    ours, theirs = tmp_path / ("ours." + fmt), tmp_path / ("cli." + fmt)
    knotmap.write(ours, rec.frames[:n], format=fmt, rate_hz=rec.rate_hz,
                  pitch_mm=rec.pitch_mm, time_us=rec.time_us[:n], sequence=rec.sequence[:n])
    # the CLI's report also draws the body chart of the user's history (the
    # recording fixture made one); the module writes the recording alone
    extra = ["--no-history"] if fmt == "png" else []
    cli("export", src, "--format", fmt, "-o", theirs, *extra)
    if fmt == "json":  # a summary: the same but for when each .kmrec was made
        a, b = json.loads(ours.read_text()), json.loads(theirs.read_text())
        for d in (a, b):
            del d["start_unix_us"], d["start_utc"]
        assert a == b and a["frames"]
    else:
        assert ours.read_bytes() == theirs.read_bytes()
        if fmt in ("npy", "tekscan"):  # knotmap reads these exports back
            back = knotmap.read(ours)
            np.testing.assert_allclose(back.frames, rec.frames[:n], rtol=1e-5, atol=1e-3)


def test_real_lying_mat_file(cli, shared_data, tmp_path):
    """A real Tactilus sheet (PoPu, CC0) turned into .npy: module and CLI agree.
    Units and pitch are not stated in the data; kPa and 10 mm are assumptions
    made for this comparison only."""
    with zipfile.ZipFile(shared_data / "lying" / "popu_preview_data.zip") as z:
        snaps = []
        for cap in (0, 1, 2):
            name = "preview_data/tactilus_data/4/supine1_%d.json" % cap
            d = json.loads(z.read(name))
            s = d["snapshots"]
            snaps += [np.array(s[k]["tactilus_readings"], np.float32).reshape(64, 27)
                      for k in sorted(s, key=int)]
    frames = np.stack(snaps)
    path = tmp_path / "supine.npy"
    np.save(path, frames)
    (tmp_path / "supine.json").write_text(json.dumps({"rate_hz": 20, "pitch_mm": 10,
                                                      "units": "kPa"}))
    rec = knotmap.read(path)
    assert rec.rate_from == "sidecar" and rec.rate_hz == 20
    assert np.array_equal(rec.frames, frames)
    check_same_frames(cli, path, rec)
    # 20 Hz (the snapshots' clock) is below what the tensing-up guard needs: the
    # analysis still runs (the guard switches off), the same in both.
    res = check_same_analysis(cli, path, rec)
    assert "TENSING_UP" not in set(res.event_names)
    (tmp_path / "supine.json").write_text(json.dumps({"rate_hz": 25, "pitch_mm": 10,
                                                      "units": "kPa"}))
    rec = knotmap.read(path)
    res = check_same_analysis(cli, path, rec)
    assert res.frames["body_found"].any()
    # a healthy person lying still: no hold timer, no tensing-up warning
    assert not {"HOLD_STARTED", "TENSING_UP"} & set(res.event_names)


def test_real_lying_mat_without_pitch_takes_the_bodys(cli, shared_data, tmp_path):
    """The same sheet with no pitch anywhere: read() takes the one the whole
    body lying on it implies, as `knotmap analyze` does (the same analysis);
    cells that coarse find no knot on a person lying still."""
    with zipfile.ZipFile(shared_data / "lying" / "popu_preview_data.zip") as z:
        s = json.loads(z.read("preview_data/tactilus_data/4/prone3_1.json"))["snapshots"]
    maps = [np.array(s[k]["tactilus_readings"], np.float32).reshape(64, 27)
            for k in sorted(s, key=int)]
    path = tmp_path / "prone.npy"
    np.save(path, np.stack([maps[i // 25 % len(maps)] for i in range(25 * 20)]))
    (tmp_path / "prone.json").write_text(json.dumps({"rate_hz": 25}))
    rec = knotmap.read(path)
    assert rec.pitch_from == "body"
    assert 20.0 < rec.pitch_mm < 35.0
    assert rec.pitch_mm == knotmap.guess_pitch(rec.frames[:250].mean(axis=0))
    given = knotmap.read(path, pitch_mm=8)
    assert given.pitch_from == "config" and given.pitch_mm == 8
    res = check_same_analysis(cli, path, rec)
    assert not {"KNOT_FOUND", "HOLD_STARTED", "TENSING_UP"} & set(res.event_names)


def test_oblong_cells_reach_the_pipeline_as_the_command_takes_them(cli, tmp_path):
    """A sidecar's [row, col] pitch: read() hands both back and
    Pipeline.for_recording analyses with them, event for event as `analyze`."""
    sim = knotmap.simulate(SCENARIO, 4, seed=3)
    path = tmp_path / "oblong.npy"
    np.save(path, sim.frames)
    (tmp_path / "oblong.json").write_text(json.dumps(
        {"rate_hz": sim.rate_hz, "pitch_mm": [sim.pitch_mm * 1.25, sim.pitch_mm * 0.8],
         "units": "kPa"}))
    rec = knotmap.read(path)
    assert rec.pitch_mm_rows == pytest.approx(sim.pitch_mm * 1.25)
    assert rec.pitch_mm_cols == pytest.approx(sim.pitch_mm * 0.8)
    assert rec.pitch_from == "sidecar" and rec.mask is None
    res = check_same_analysis(cli, path, rec)
    assert len(res.event_names)


def test_guess_pitch_needs_a_whole_body():
    back = np.zeros((32, 32), np.float32)
    back[:, 4:28] = 3.0  # a back filling a square mat
    assert knotmap.guess_pitch(back) is None
    assert knotmap.guess_pitch(np.zeros((64, 27))) is None
    body = np.zeros((64, 27), np.float32)
    body[2:62, 10:17] = 5.0  # 60 rows, 7 wide
    assert knotmap.guess_pitch(body) == pytest.approx(1600.0 / 60)
    with pytest.raises(ValueError):
        knotmap.guess_pitch(np.zeros((2, 3, 4)))


@pytest.mark.parametrize("name", ["fscan_testL.asf", "xsensor_data.csv"])
def test_real_vendor_files_like_the_cli(cli, shared_data, name):
    """Tekscan and XSENSOR exports (pressuRe sample data, MIT): the module
    reads what the CLI reads, and fails where it fails, with its message."""
    path = shared_data / "vendor" / name
    r = cli("analyze", path, check=False)
    if r.returncode != 0:
        with pytest.raises(knotmap.Error) as e:
            knotmap.read(path)
        assert e.value.name.startswith("KM_ERR_")
        assert e.value.detail in r.stderr
        return
    rec = knotmap.read(path)
    if name == "fscan_testL.asf":
        # the sensor's outline: 955 real sensels of 60 x 21 ('B' cells off it)
        assert rec.mask is not None and rec.mask.shape == (60, 21)
        assert int(rec.mask.sum()) == 955
        assert not rec.frames[:, ~rec.mask].any()
        assert rec.pitch_mm_rows == rec.pitch_mm_cols == pytest.approx(5.08)
    check_same_frames(cli, path, rec)
    check_same_analysis(cli, path, rec)


def test_errors_carry_knotmaps_name(tmp_path):
    with pytest.raises(knotmap.Error) as e:
        knotmap.read(tmp_path / "missing.npy")
    assert e.value.name == "KM_ERR_NOT_FOUND" and e.value.code == -6
    assert "missing.npy" in str(e.value)
    bad = tmp_path / "bad.csv"
    bad.write_text("1,2,3\n4,x,6\n")
    with pytest.raises(knotmap.Error) as e:
        knotmap.read(bad)
    assert e.value.name == "KM_ERR_PARSE" and ":2:3: field 2: 'x' is not a number" in str(e.value)
    with pytest.raises(knotmap.Error) as e:
        knotmap.simulate("no-such-scenario", 1)
    assert e.value.name == "KM_ERR_NOT_FOUND"
    p = knotmap.Pipeline(16, 16, 10.0, 100.0)
    with pytest.raises(knotmap.Error) as e:
        p.process(np.zeros((8, 8), np.float32))
    assert e.value.name == "KM_ERR_SHAPE"
    p.process(np.zeros((16, 16)), time_us=1000)
    with pytest.raises(knotmap.Error) as e:
        p.process(np.zeros((16, 16)), time_us=500, sequence=0)
    assert e.value.name == "KM_ERR_BAD_SEQUENCE"
    with pytest.raises(knotmap.Error) as e:
        knotmap.Pipeline(16, 16, -1.0, 100.0)
    assert e.value.name in ("KM_ERR_INVALID_ARG", "KM_ERR_RANGE")
    with pytest.raises(TypeError):
        knotmap.Pipeline(16, 16, 10.0, 100.0, no_such_option=1)
    out = tmp_path / "x.npy"
    knotmap.write(out, np.ones((2, 4, 4)))
    with pytest.raises(knotmap.Error) as e:
        knotmap.write(out, np.ones((2, 4, 4)))
    assert e.value.name == "KM_ERR_EXISTS"
    knotmap.write(out, np.ones((3, 4, 4)), overwrite=True)
    assert np.load(out).shape == (3, 4, 4)


def test_coarse_cells_keep_spots_only_under_a_tool():
    """A bed sheet's 32 mm cells are coarser than a knot: every result says
    so (KM_PIPELINE_COARSE), unless the limit is lifted."""
    coarse = 1 << 5
    frames = np.full((20, 16, 16), 3.0, np.float32)
    res = knotmap.Pipeline(16, 16, 32.0, 1.0).process_many(frames)
    assert (res.frames["flags"] & coarse).all()
    res = knotmap.Pipeline(16, 16, 32.0, 1.0, knot_max_pitch_mm=0).process_many(frames)
    assert not (res.frames["flags"] & coarse).any()
    res = knotmap.Pipeline(16, 16, 10.0, 1.0).process_many(frames)
    assert not (res.frames["flags"] & coarse).any()


def _spot_frames(rows=32, cols=32, at=(12, 20), n=30):
    """A flat 3 kPa contact with one strong spot centred on cell `at`."""
    yy, xx = np.mgrid[0:rows, 0:cols]
    spot = 20.0 * np.exp(-((yy - at[0]) ** 2 + (xx - at[1]) ** 2) / (2 * 1.5 ** 2))
    return np.repeat((3.0 + spot).astype(np.float32)[None], n, axis=0)


def _candidate_cells(res):
    return set(zip(res.candidates["cell_row"].tolist(), res.candidates["cell_col"].tolist()))


def test_sensor_mask_keeps_candidates_off_masked_cells():
    """A cell off the sensor never holds a candidate (knotmap/pipeline.h):
    the spot found on it without a mask is not found there with one, given
    as a numpy array or as nested lists alike, and the mask is copied."""
    frames = _spot_frames()
    plain = knotmap.Pipeline(32, 32, 10.0, 25.0, enable_guard=False).process_many(frames)
    assert (12, 20) in _candidate_cells(plain)
    every = np.ones((32, 32), np.uint8)
    res = knotmap.Pipeline(32, 32, 10.0, 25.0, enable_guard=False,
                           sensor_mask=every).process_many(frames)
    assert np.array_equal(res.candidates, plain.candidates), "an all-on mask changes nothing"
    mask = np.ones((32, 32), bool)
    mask[12, 20] = False
    p = knotmap.Pipeline(32, 32, 10.0, 25.0, enable_guard=False, sensor_mask=mask)
    mask[:] = True  # the pipeline has its own copy
    res = p.process_many(frames)
    assert (12, 20) not in _candidate_cells(res)
    lists_mask = [[1] * 32 for _ in range(32)]
    lists_mask[12][20] = 0
    lists = knotmap.Pipeline(32, 32, 10.0, 25.0, enable_guard=False, sensor_mask=lists_mask)
    assert np.array_equal(lists.process_many(frames).candidates, res.candidates)
    # a strided, big-endian float view: the same mask read the same way
    fmask = np.ones((32, 64), ">f8")[:, ::2]
    fmask[12, 20] = -0.0  # false, as in Python
    f = knotmap.Pipeline(32, 32, 10.0, 25.0, enable_guard=False, sensor_mask=fmask)
    assert np.array_equal(f.process_many(frames).candidates, res.candidates)


def test_sensor_mask_errors():
    for bad in (np.ones((32, 33), bool), np.ones((33, 32), bool), np.ones(32 * 32, bool),
                [[1] * 32] * 31, [[1] * 32] * 31 + [[1] * 31]):
        with pytest.raises(ValueError, match="sensor_mask"):
            knotmap.Pipeline(32, 32, 10.0, sensor_mask=bad)
    for bad in ("on", 1, [["1"] * 32] * 32, [[None] * 32] * 32, [1] * 32,
                np.ones((32, 32), np.complex64)):
        with pytest.raises(TypeError, match="sensor_mask"):
            knotmap.Pipeline(32, 32, 10.0, sensor_mask=bad)
    with pytest.raises(knotmap.Error) as e:
        knotmap.Pipeline(32, 32, 10.0, sensor_mask=np.zeros((32, 32), bool))
    assert e.value.name == "KM_ERR_INVALID_ARG" and "sensor mask" in str(e.value)
    assert knotmap.Pipeline(32, 32, 10.0, sensor_mask=None).rows == 32


def test_process_many_skips_bad_frames_like_analyze():
    p = knotmap.Pipeline(16, 16, 10.0, 100.0)
    frames = np.ones((5, 16, 16), np.float32)
    frames[2] = np.nan  # every cell bad: refused (KM_ERR_NONFINITE), counted
    res = p.process_many(frames)
    assert res.skipped == 1 and knotmap._knotmap.error_name(res.frames["status"][2]) == \
        "KM_ERR_NONFINITE"
    assert list(res.frames["frame"]) == [0, 1, 2, 3, 4]


def test_gil_is_released_during_process_many(cli_recording):
    """While one thread is inside process_many, another runs Python code: it
    reaches the same pipeline and is told it is busy (KM_ERR_BUSY) rather than
    racing it."""
    rec = knotmap.read(cli_recording)
    p = knotmap.Pipeline.for_recording(rec)
    started, seen = threading.Event(), []
    frames = np.concatenate([rec.frames] * 2)

    def work():
        started.set()
        p.process_many(frames)

    t = threading.Thread(target=work)
    t.start()
    started.wait()
    while t.is_alive():
        try:
            p.process(np.zeros((2, 2), np.float32))  # refused, changes nothing
        except knotmap.Error as e:
            seen.append(e.name)
    t.join()
    assert "KM_ERR_BUSY" in seen


def test_units_are_converted_and_named(tmp_path):
    np.save(tmp_path / "p.npy", np.full((2, 4, 4), 7.5, np.float32))
    (tmp_path / "p.json").write_text('{"units": "mmHg", "rate_hz": 50, "pitch_mm": 8}')
    rec = knotmap.read(tmp_path / "p.npy")
    assert (rec.units, rec.file_units, rec.units_from) == ("kPa", "mmHg", "sidecar")
    assert (rec.rate_hz, rec.pitch_mm, rec.rate_from) == (50, 8, "sidecar")
    np.testing.assert_allclose(rec.frames, 7.5 * 0.133322387415, rtol=1e-6)
    raw = knotmap.read(tmp_path / "p.npy", units="counts")
    assert raw.units == "counts" and raw.units_from == "config"
    assert np.all(raw.frames == 7.5) and np.all(raw.flags & 16)  # KM_FRAME_UNCALIBRATED


def test_unknown_units_list_every_unit_the_importer_reads(tmp_path):
    np.save(tmp_path / "p.npy", np.full((2, 4, 4), 7.5, np.float32))
    with pytest.raises(knotmap.Error) as e:
        knotmap.read(tmp_path / "p.npy", units="furlongs")
    # the importer's own list (import.h), not an old copy of it
    for unit in ("kPa", "Pa", "N/m2", "MPa", "bar", "mbar", "hPa", "N/cm2", "kgf/cm2",
                 "g/cm2", "psi", "mmHg", "cmH2O", "counts"):
        assert unit in str(e.value), unit


def test_damaged_files_give_the_frames_before_the_damage_like_the_cli(cli, cli_recording,
                                                                      tmp_path):
    # a .kmrec cut short, as a crash leaves it: the frames before the cut
    cut = tmp_path / "cut.kmrec"
    data = cli_recording.read_bytes()
    cut.write_bytes(data[:len(data) * 2 // 3])
    rec = knotmap.read(cut)
    frames, skipped, events = cli_analyze(cli, cut)
    assert len(rec) == frames > 0
    assert rec.damage["error"] == "KM_ERR_TRUNCATED" and rec.damage["frame_index"] == len(rec)
    n, sk, ev, _ = module_analyze(rec)
    assert (n, sk, ev) == (frames, skipped, events)
    # an import with a bad line: an error, or the frames before it with partial=True
    bad = tmp_path / "bad.csv"
    rows = [",".join(["1.5"] * 12)] * 4 + [",".join(["2"] * 5 + ["x"] + ["2"] * 6)]
    bad.write_text("\n".join(rows) + "\n")
    with pytest.raises(knotmap.Error) as e:
        knotmap.read(bad, rows=3, cols=4)
    assert e.value.name == "KM_ERR_PARSE"
    # values without stated units are counts, which analyze refuses before
    # reading: say they are kPa so the bad line is what stops it
    r = cli("analyze", bad, "--rows", "3", "--cols", "4", "--units", "kPa", check=False)
    assert r.returncode == 1 and e.value.detail in r.stderr
    part = knotmap.read(bad, rows=3, cols=4, partial=True)
    assert len(part) == 4 and part.damage["error"] == "KM_ERR_PARSE"
    assert part.damage["line"] == 5 and np.all(part.frames == 1.5)
    frames, _, _ = cli_analyze(cli, bad, "--rows", "3", "--cols", "4", "--units", "kPa",
                               "--partial")
    assert frames == 4
