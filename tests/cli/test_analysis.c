/* `analyze --json / --csv` for scripts, analysis on raw counts (relative
 * rules only, said), and exports of imports holding the same knots and holds
 * as `analyze` (issue 17). Outputs are parsed with python3's json and csv
 * modules, not matched as text. */
#include "session_test_util.h"

#include <criterion/criterion.h>
#include <stdarg.h>

static char *dir;
static char knotmap[4096];

static void setup(void)
{
	dir = km_test_mkdtemp();
	cr_assert_not_null(dir);
	km_test_knotmap_path(knotmap, sizeof knotmap);
	km_test_home_in(dir);
	setenv("TMPDIR", dir, 1);
}

static void teardown(void)
{
	km_test_rmdir(dir);
	dir = NULL;
}

TestSuite(analysis_cli, .init = setup, .fini = teardown, .timeout = 200);

static struct km_test_run *run(const char *bin, const char *fmt, ...) KM_PRINTF(2, 3);
static struct km_test_run *run(const char *bin, const char *fmt, ...)
{
	static struct km_test_run r;
	if (access(knotmap, X_OK) != 0)
		cr_skip_test("knotmap binary not built at %s", knotmap);
	va_list ap;
	va_start(ap, fmt);
	km_test_vrun_in(&r, dir, bin, fmt, ap);
	va_end(ap);
	return &r;
}
/* An output redirected to a file keeps only stdout: "knot(\"... > F 2>F.err;
 * exit $?\")" (the runner appends 2>&1 to the line). */
#define knot(...) run(knotmap, __VA_ARGS__)
#define py(...) run("python3", __VA_ARGS__)

static void write_text(const char *name, const char *text)
{
	char *p = km_test_path(dir, name);
	FILE *f = fopen(p, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
	free(p);
}

/* Checks an `analyze --json` output against the text output of the same
 * analysis: the same counts, knot positions, hold; the positions in cells
 * follow the cell-centre convention; first seen <= found. Prints "ok". */
static const char check_json[] =
    "import json, re, sys\n"
    "j = json.load(open(sys.argv[1]))\n"
    "t = open(sys.argv[2]).read()\n"
    "nk = int(re.search(r'candidate knots: (\\d+)', t).group(1))\n"
    "nh = int(re.search(r'holds: (\\d+)', t).group(1))\n"
    "ne = int(re.search(r'(\\d+) events', t).group(1))\n"
    "assert len(j['knots']) == nk, (len(j['knots']), nk)\n"
    "assert len(j['holds']) == nh, (len(j['holds']), nh)\n"
    "assert len(j['events']) == ne and j['events_complete'], (len(j['events']), ne)\n"
    "g = j['grid']\n"
    "txt = re.findall(r'track (\\d+)\\s+at \\(\\s*([-\\d.]+),\\s*([-\\d.]+)\\) mm  from', t)\n"
    "for k, (tid, x, y) in zip(j['knots'], txt):\n"
    "    assert k['track'] == int(tid)\n"
    "    assert abs(k['x_mm'] - float(x)) < 0.06 and abs(k['y_mm'] - float(y)) < 0.06, k\n"
    "    assert abs(k['x_mm'] - (k['col'] + 0.5) * g['col_pitch_mm']) < 1e-3, k\n"
    "    assert abs(k['y_mm'] - (k['row'] + 0.5) * g['row_pitch_mm']) < 1e-3, k\n"
    "    # on counts the tracker's extrapolation can leave the grid (a dsp matter)\n"
    "    assert 'off-grid-ok' in sys.argv or (0 <= k['col'] < g['cols'] and 0 <= k['row'] < "
    "g['rows']), k\n"
    "    assert k['first_seen_s'] <= k['found_s'] and k['last_seen_s'] >= k['first_seen_s'], k\n"
    "    assert k['peak_contrast'] > 0, k\n"
    "for h in j['holds']:\n"
    "    assert h['held_s'] > 0 and h['load'] > 0 and h['outcome'], h\n"
    "types = [e['type'] for e in j['events']]\n"
    "assert types.count('KNOT_FOUND') == nk, types\n"
    "print('ok', j['units']['pressure'], len(j['knots']), len(j['holds']))\n";

/* The knots and holds of an export JSON and an analyze JSON are the same. */
static const char check_same[] =
    "import json, sys\n"
    "e = json.load(open(sys.argv[1]))\n"
    "a = json.load(open(sys.argv[2]))\n"
    "assert len(e['knots']) == len(a['knots']) > 0, (len(e['knots']), len(a['knots']))\n"
    "assert len(e['holds']) == len(a['holds']) > 0, (len(e['holds']), len(a['holds']))\n"
    "for x, y in zip(e['knots'], a['knots']):\n"
    "    assert x['track_id'] == y['track'], (x, y)\n"
    "    assert abs(x['x_mm'] - y['x_mm']) < 1e-3 and abs(x['y_mm'] - y['y_mm']) < 1e-3, (x, y)\n"
    "    # named alike: 'A: left upper back' (the body known), else 'spot A'\n"
    "    assert x['name'] == y['name'] and x['body'] == y['body'], (x, y)\n"
    "    assert x['name'].startswith('spot') == (x['body'] is None), x\n"
    "for x, y in zip(e['holds'], a['holds']):\n"
    "    assert x['track_id'] == y['track'] and abs(x['held_s'] - y['held_s']) < 1e-3, (x, y)\n"
    "    assert x['outcome'] == y['outcome'] or not x['finished'], (x, y)\n"
    "print('same', e['units']['pressure'], a['units']['pressure'])\n";

/* A 25 s tennis-ball session with a timed hold (64 x 64, 100 Hz): short
 * enough for the sanitizer build. */
static void record(void)
{
	struct km_test_run *r = knot("record --sim tennis-ball-trapezius --duration 25 --fast "
	                             "--no-history -o t.kmrec");
	cr_assert_eq(r->status, 0, "%s", r->out);
	write_text("check_json.py", check_json);
	write_text("check_same.py", check_same);
}

Test(analysis_cli, json_lists_what_the_text_lists)
{
	record();
	struct km_test_run *r = knot("analyze t.kmrec > a.txt 2>a.txt.err; exit $?");
	cr_assert_eq(r->status, 0, "%s", r->out);
	r = knot("analyze t.kmrec --json > a.json 2>a.json.err; exit $?");
	cr_assert_eq(r->status, 0, "%s", r->out);
	r = py("check_json.py a.json a.txt");
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_assert(strstr(r->out, "ok kPa "), "%s", r->out);
	cr_assert(!strstr(r->out, "ok kPa 0 "), "the session has knots: %s", r->out);
	r = knot("analyze t.kmrec --json --csv");
	cr_assert_eq(r->status, 2, "%s", r->out);
}

Test(analysis_cli, csv_rows_are_the_json)
{
	record();
	struct km_test_run *r = knot("analyze t.kmrec --json > a.json 2>a.json.err; exit $?");
	cr_assert_eq(r->status, 0, "%s", r->out);
	r = knot("analyze t.kmrec --csv > a.csv 2>a.csv.err; exit $?");
	cr_assert_eq(r->status, 0, "%s", r->out);
	write_text("check_csv.py",
	           "import csv, json\n"
	           "j = json.load(open('a.json'))\n"
	           "rows = list(csv.DictReader(open('a.csv')))\n"
	           "k = [r for r in rows if r['kind'] == 'knot']\n"
	           "h = [r for r in rows if r['kind'] == 'hold']\n"
	           "e = [r for r in rows if r['kind'] == 'event']\n"
	           "assert len(k) == len(j['knots']) > 0 and len(h) == len(j['holds']) > 0\n"
	           "assert len(e) == len(j['events'])\n"
	           "for r, x in zip(k, j['knots']):\n"
	           "    assert int(r['track']) == x['track']\n"
	           "    assert abs(float(r['x_mm']) - x['x_mm']) < 1e-2, (r, x)\n"
	           "    assert abs(float(r['col']) - x['col']) < 1e-3, (r, x)\n"
	           "    assert abs(float(r['peak_contrast']) - x['peak_contrast']) < 1e-4\n"
	           "assert 'load_kPa' in rows[0]\n"
	           "print('ok')\n");
	r = py("check_csv.py");
	cr_assert_eq(r->status, 0, "%s", r->out);
}

/* Raw counts (a .npy without a sidecar or --units) are analysed with the
 * relative rules only, and the output says so and labels loads as counts. */
static void drop(const char *name)
{
	char *p = km_test_path(dir, name);
	cr_assert_eq(unlink(p), 0, "%s", name);
	free(p);
}

Test(analysis_cli, counts_run_relative_rules_and_say_so)
{
	record();
	struct km_test_run *r = knot("export t.kmrec -o t.npy");
	cr_assert_eq(r->status, 0, "%s", r->out);
	drop("t.npy.json"); /* a .npy that does not say its units */
	r = knot("analyze t.npy --rate 100 --pitch 10");
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_assert(strstr(r->out, "values are raw counts: relative rules only; pressures are "
	                         "not in kPa"),
	          "%s", r->out);
	cr_assert(!strstr(r->out, " kPa  dose"), "loads in counts are not kPa: %s", r->out);
	r = knot("analyze t.npy --rate 100 --pitch 10 > c.txt 2>c.txt.err; exit $?");
	cr_assert_eq(r->status, 0, "%s", r->out);
	r = knot("analyze t.npy --rate 100 --pitch 10 --json > c.json 2>c.json.err; exit $?");
	cr_assert_eq(r->status, 0, "%s", r->out);
	r = py("check_json.py c.json c.txt off-grid-ok");
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_assert(strstr(r->out, "ok counts "), "%s", r->out);
	r = py(
	    "-c \"import json; j = json.load(open('c.json')); "
	    "assert j['relative_rules_only'] is True; assert j['units']['dose'] == 'counts*s'\"");
	cr_assert_eq(r->status, 0, "%s", r->out);
}

/* Export of an import holds the analysis analyze finds (0 knots before). */
Test(analysis_cli, export_of_import_holds_the_analysis)
{
	record();
	struct km_test_run *r = knot("export t.kmrec -o t.npy");
	cr_assert_eq(r->status, 0, "%s", r->out);
	drop("t.npy.json");
	r = knot("export t.npy --rate 100 --pitch 10 --units kPa -o e.json");
	cr_assert_eq(r->status, 0, "%s", r->out);
	r = knot("analyze t.npy --rate 100 --pitch 10 --units kPa --json > a.json 2>a.json.err; "
	         "exit $?");
	cr_assert_eq(r->status, 0, "%s", r->out);
	r = py("check_same.py e.json a.json");
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_assert(strstr(r->out, "same kPa kPa"), "%s", r->out);
	/* and on counts: the same analysis, in counts */
	r = knot("export t.npy --rate 100 --pitch 10 -o ec.json");
	cr_assert_eq(r->status, 0, "%s", r->out);
	r = knot("analyze t.npy --rate 100 --pitch 10 --json > ac.json 2>ac.json.err; exit $?");
	cr_assert_eq(r->status, 0, "%s", r->out);
	r = py("check_same.py ec.json ac.json");
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_assert(strstr(r->out, "same counts counts"), "%s", r->out);
}

/* The knots' names of a supine session (issue 20): by body region and side
 * with the letter as a tag ("A: left upper back"), the same in the export's
 * JSON summary of the recording, of its import, and in `analyze` (JSON and
 * text). tests/viewer/test_export_names.c checks they are the viewer's. */
static const char check_names[] =
    "import json, sys\n"
    "a = json.load(open(sys.argv[1]))\n"
    "t = open(sys.argv[2]).read()\n"
    "ks = a['knots']\n"
    "assert len(ks) > 0\n"
    "for f in sys.argv[3:]:\n"
    "    e = json.load(open(f))['knots']\n"
    "    assert [(k['track_id'], k['name'], k['body']) for k in e] == \\\n"
    "        [(k['track'], k['name'], k['body']) for k in ks], (f, e, ks)\n"
    "sided = 0\n"
    "for k in ks:\n"
    "    assert k['name'] in t, (k['name'], t)\n"
    "    if k['body']:\n"
    "        assert k['name'][1:3] == ': ' and k['name'][3:] == k['body'], k\n"
    "        sided += k['body'].split()[0] in ('left', 'right')\n"
    "assert sided > 0, ks\n"
    "print('named', ', '.join(k['name'] for k in ks))\n";

Test(analysis_cli, knots_named_by_body_region_and_side)
{
	struct km_test_run *r = knot("record --sim back-lying --duration 12 --fast --no-history "
	                             "-o b.kmrec");
	cr_assert_eq(r->status, 0, "%s", r->out);
	write_text("check_names.py", check_names);
	r = knot("analyze b.kmrec --json > a.json 2>a.json.err; exit $?");
	cr_assert_eq(r->status, 0, "%s", r->out);
	r = knot("analyze b.kmrec > a.txt 2>a.txt.err; exit $?");
	cr_assert_eq(r->status, 0, "%s", r->out);
	r = knot("export b.kmrec -o e.json");
	cr_assert_eq(r->status, 0, "%s", r->out);
	r = knot("export b.kmrec -o b.npy");
	cr_assert_eq(r->status, 0, "%s", r->out);
	r = knot("export b.npy -o i.json");
	cr_assert_eq(r->status, 0, "%s", r->out);
	r = py("check_names.py a.json a.txt e.json i.json");
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_assert(strstr(r->out, "named "), "%s", r->out);
}

/* Round trips (issue 17): an import in counts at 50 Hz with 8 x 5 mm cells,
 * exported as CSV, NPY (+ sidecar) and Tekscan ASCII, reads back with the
 * same frames, rate, row and column pitch and units ("counts": never kPa);
 * the JSON export says counts and both pitches. */
Test(analysis_cli, exports_round_trip_rate_pitch_units)
{
	record();
	struct km_test_run *r = knot("export t.kmrec -o t.npy");
	cr_assert_eq(r->status, 0, "%s", r->out);
	drop("t.npy.json");
	const char *opts = "--rate 50 --pitch 8,5";
	r = knot("analyze t.npy %s --json > in.json 2>in.err; exit $?", opts);
	cr_assert_eq(r->status, 0, "%s", r->out);
	r = knot("replay t.npy %s --frames --count 40 > in.frames 2>&1; exit $?", opts);
	cr_assert_eq(r->status, 0, "%s", r->out);
	write_text(
	    "check_trip.py",
	    "import json, sys\n"
	    "a = json.load(open('in.json'))\n"
	    "b = json.load(open(sys.argv[1]))\n"
	    "g, h = a['grid'], b['grid']\n"
	    "assert h['rate_hz'] == 50 and h['row_pitch_mm'] == 8 and h['col_pitch_mm'] == 5, h\n"
	    "assert (g['rows'], g['cols']) == (h['rows'], h['cols'])\n"
	    "assert b['units']['pressure'] == 'counts', b['units']\n"
	    "assert b['frames'] == a['frames'] == 2501, (a['frames'], b['frames'])\n"
	    "assert abs(b['duration_s'] - a['duration_s']) < 1e-6 and a['duration_s'] == 50\n"
	    "assert len(b['knots']) == len(a['knots']) and len(b['holds']) == len(a['holds'])\n"
	    "f = [l.split('flags')[1] for l in open('in.frames') if l.startswith('frame')]\n"
	    "e = [l.split('flags')[1] for l in open(sys.argv[2]) if l.startswith('frame')]\n"
	    "assert len(f) == 40 and f == e, (f[:2], e[:2])\n"
	    "print('ok')\n");
	const char *ext[] = {"csv", "npy", "txt"};
	for (size_t i = 0; i < 3; i++) {
		r = knot("export t.npy %s -o o.%s", opts, ext[i]);
		cr_assert_eq(r->status, 0, "%s: %s", ext[i], r->out);
		r = knot("analyze o.%s --json > o.%s.an 2>o.err; exit $?", ext[i], ext[i]);
		cr_assert_eq(r->status, 0, "%s: %s", ext[i], r->out);
		r = knot("replay o.%s --frames --count 40 > o.%s.frames 2>&1; exit $?", ext[i],
		         ext[i]);
		cr_assert_eq(r->status, 0, "%s: %s", ext[i], r->out);
		r = py("check_trip.py o.%s.an o.%s.frames", ext[i], ext[i]);
		cr_assert_eq(r->status, 0, "%s: %s", ext[i], r->out);
	}
	/* what the files say of themselves */
	r = py("-c \"import json; s = json.load(open('o.npy.json')); "
	       "assert s == {'rate_hz': 50, 'pitch_mm': [8, 5], 'units': 'counts'}, s\"");
	cr_assert_eq(r->status, 0, "%s", r->out);
	r = run("grep",
	        "-c -e '^UNITS RAW' -e '^ROW_SPACING 0.8000 cm' -e '^COL_SPACING 0.5000 cm' o.txt");
	cr_assert_str_eq(r->out, "3\n");
	r = run("head", "-n 4 o.csv | cut -c1-120");
	cr_assert(strstr(r->out, "# rate_hz,50\n# row_spacing_mm,8\n# col_spacing_mm,5\nframe,") &&
	              strstr(r->out, "r0c0_counts"),
	          "%s", r->out);
	r = knot("export t.npy %s -o o.json", opts);
	cr_assert_eq(r->status, 0, "%s", r->out);
	r = py(
	    "-c \"import json; j = json.load(open('o.json')); d = j['device']; "
	    "assert j['units']['pressure'] == 'counts' and j['units']['dose'] == 'counts*s'; "
	    "assert d['row_pitch_mm'] == 8 and d['col_pitch_mm'] == 5 and d['rate_hz'] == 50, d\"");
	cr_assert_eq(r->status, 0, "%s", r->out);
	/* calibrated values stay kPa */
	r = knot("export t.kmrec -o k.txt");
	cr_assert_eq(r->status, 0, "%s", r->out);
	r = run("grep", "-c '^UNITS KPA' k.txt");
	cr_assert_str_eq(r->out, "1\n");
}

/* Below 25 Hz the tensing-up guard is off, said in the text and the JSON;
 * the analysis still runs (issue 17: never a refusal). */
Test(analysis_cli, low_rate_says_the_guard_is_off)
{
	record();
	struct km_test_run *r = knot("export t.kmrec -o t.npy");
	cr_assert_eq(r->status, 0, "%s", r->out);
	r = knot("analyze t.npy --rate 10");
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_assert(strstr(r->out, "10 Hz is below the 25 Hz the tensing-up guard needs: it is off"),
	          "%s", r->out);
	r = knot("analyze t.npy --rate 10 --json > g.json 2>g.err; exit $?");
	cr_assert_eq(r->status, 0, "%s", r->out);
	r = py("-c \"import json; j = json.load(open('g.json')); "
	       "assert j['guard_off'] is True and j['grid']['rate_hz'] == 10, j['grid']\"");
	cr_assert_eq(r->status, 0, "%s", r->out);
	r = knot("analyze t.npy --json > h.json 2>h.err; exit $?");
	cr_assert_eq(r->status, 0, "%s", r->out);
	r = py("-c \"import json; j = json.load(open('h.json')); assert j['guard_off'] is False\"");
	cr_assert_eq(r->status, 0, "%s", r->out);
}

/* Cells coarser than a knot (a 32 mm bed mat): said in the text and the
 * JSON; the analysis runs (holds under a tool are still timed). */
Test(analysis_cli, coarse_cells_say_spots_only_under_a_tool)
{
	record();
	struct km_test_run *r = knot("export t.kmrec -o t.npy");
	cr_assert_eq(r->status, 0, "%s", r->out);
	r = knot("analyze t.npy --pitch 32");
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_assert(strstr(r->out, "cells of 32 mm are coarser than a knot"), "%s", r->out);
	r = knot("analyze t.npy --pitch 32 --json > c.json 2>c.err; exit $?");
	cr_assert_eq(r->status, 0, "%s", r->out);
	r = py("-c \"import json; j = json.load(open('c.json')); "
	       "assert j['spots_only_under_a_tool'] is True, j\"");
	cr_assert_eq(r->status, 0, "%s", r->out);
	r = knot("analyze t.npy --json > f.json 2>f.err; exit $?");
	cr_assert_eq(r->status, 0, "%s", r->out);
	r = py("-c \"import json; j = json.load(open('f.json')); "
	       "assert j['spots_only_under_a_tool'] is False\"");
	cr_assert_eq(r->status, 0, "%s", r->out);
}

/* The sensor mask travels: Tekscan 'B' cells (outside the sensor) go out as
 * 'B' again, and the export of the export is the same file; an .npy export
 * carries it in its sidecar ("mask": one '0'/'1' per cell). */
Test(analysis_cli, tekscan_export_keeps_the_mask)
{
	write_text("tek.txt", "DATA_TYPE FRAME\r\nSENSOR_TYPE 5330\r\nROWS 3\r\nCOLS 4\r\n"
	                      "ROW_SPACING 0.127 centimeters\r\nCOL_SPACING 0.1 inches\r\n"
	                      "SECONDS_PER_FRAME 0.1\r\nUNITS PSI\r\nASCII_DATA @@\r\n\r\n"
	                      "B,1,2,B\r\n3,4,5,6\r\nB,7,8,B\r\n@@\r\n");
	struct km_test_run *r = knot("export tek.txt -o back.txt");
	cr_assert_eq(r->status, 0, "%s", r->out);
	r = run("grep", "-c -e '^B,[0-9.]*,[0-9.]*,B' back.txt");
	cr_assert_str_eq(r->out, "2\n");
	r = run(
	    "grep",
	    "-c -e '^UNITS KPA' -e '^ROW_SPACING 0.1270 cm' -e '^COL_SPACING 0.2540 cm' back.txt");
	cr_assert_str_eq(r->out, "3\n");
	r = knot("export back.txt -o again.txt");
	cr_assert_eq(r->status, 0, "%s", r->out);
	r = run("sh", "-c 'grep -v ^VERSION back.txt > a; grep -v ^VERSION again.txt > b; cmp a b "
	              "&& echo same'");
	cr_assert_str_eq(r->out, "same\n");
	/* and through an .npy: its sidecar carries the mask */
	r = knot("export tek.txt -o m.npy");
	cr_assert_eq(r->status, 0, "%s", r->out);
	r = py("-c \"import json; s = json.load(open('m.npy.json')); "
	       "assert s['mask'] == '011011110110', s\"");
	cr_assert_eq(r->status, 0, "%s", r->out);
	r = knot("replay m.npy");
	cr_assert(strstr(r->out, "8 of 12 cells are on the sensor"), "%s", r->out);
	r = knot("export m.npy -o m.txt");
	cr_assert_eq(r->status, 0, "%s", r->out);
	r = run("grep", "-c -e '^B,[0-9.]*,[0-9.]*,B' m.txt");
	cr_assert_str_eq(r->out, "2\n");
	/* a mask that does not fit the grid is an error that says so */
	write_text("m.npy.json", "{\"rate_hz\": 10, \"mask\": \"0110\"}\n");
	r = knot("replay m.npy");
	cr_assert_eq(r->status, 1, "%s", r->out);
	cr_assert(strstr(r->out, "the sidecar's mask has 4 cells, the grid 3x4 has 12"), "%s",
	          r->out);
}

/* The mask through a CSV: Tekscan 'B' cells go out as empty fields (what
 * pandas read_csv(comment='#') and R read.csv read as missing) with a
 * "# mask_cells,N" comment, come back as the same mask, and the CSV of the
 * CSV is the same file; a count that does not fit, or an empty cell on the
 * sensor, is an error naming the line. */
Test(analysis_cli, csv_export_keeps_the_mask)
{
	write_text("tek.txt", "DATA_TYPE MOVIE\r\nSENSOR_TYPE 5330\r\nROWS 3\r\nCOLS 4\r\n"
	                      "ROW_SPACING 5 mm\r\nCOL_SPACING 5 mm\r\n"
	                      "SECONDS_PER_FRAME 0.1\r\nUNITS KPA\r\n\r\nFrame 1\r\n"
	                      "B,1,2,B\r\n3,4,5,6\r\nB,7,8,B\r\n\r\nFrame 2\r\n"
	                      "B,9,2,B\r\n3,4,5,6\r\nB,7,8.5,B\r\n@@\r\n");
	struct km_test_run *r = knot("export tek.txt -o m.csv");
	cr_assert_eq(r->status, 0, "%s", r->out);
	r = run("grep", "-c -e '^# mask_cells,8$' -e '^[01],[0-9]*,[0-9]*,[0-9]*,[0-9]*,[0-9]*,,[0-9.]*,"
	                "[0-9.]*,,[0-9.]*,[0-9.]*,[0-9.]*,[0-9.]*,,[0-9.]*,[0-9.]*,$' m.csv");
	cr_assert_str_eq(r->out, "3\n", "the comment and two frames with 4 empty cells each");
	/* a CSV reader sees 18 fields a row, the 4 outside the sensor empty */
	r = py("-c \"import csv; rows = [x for x in csv.reader(open('m.csv')) if x[0][0] != '#']; "
	       "assert all(len(x) == 18 for x in rows), rows; "
	       "assert [i for i, v in enumerate(rows[1]) if v == ''] == [6, 9, 14, 17], rows[1]; "
	       "assert rows[2][7] == '9' and rows[2][16] == '8.5', rows[2]\"");
	cr_assert_eq(r->status, 0, "%s", r->out);
	r = knot("replay m.csv --verify");
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_assert(strstr(r->out, "8 of 12 cells are on the sensor") && strstr(r->out, "frames     2"),
	          "%s", r->out);
	r = knot("analyze m.csv");
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_assert(strstr(r->out, "\nvalues: kPa (from the file)\nmask: 8 of 12 cells are on the "
	                         "sensor (66.7 %); the rest lie outside its outline\n"),
	          "%s", r->out);
	r = knot("analyze m.csv --json > m.json; exit $?");
	cr_assert_eq(r->status, 0, "%s", r->out);
	r = py("-c \"import json; j = json.load(open('m.json')); "
	       "assert j['grid']['cells_on_sensor'] == 8, j['grid']; "
	       "assert j['units']['file'] == 'kPa' and j['units']['file_to_kpa'] == 1, j['units']\"");
	cr_assert_eq(r->status, 0, "%s", r->out);
	r = knot("export m.csv -o back.txt");
	cr_assert_eq(r->status, 0, "%s", r->out);
	r = run("grep", "-c -e '^B,[0-9.]*,[0-9.]*,B' back.txt");
	cr_assert_str_eq(r->out, "4\n", "the same B cells in both frames");
	r = knot("export m.csv -o again.csv");
	cr_assert_eq(r->status, 0, "%s", r->out);
	r = run("cmp", "m.csv again.csv");
	cr_assert_eq(r->status, 0, "the CSV of the CSV differs: %s", r->out);
	/* damage is not taken for a mask */
	r = run("sh", "-c 'sed s/mask_cells,8/mask_cells,9/ m.csv > bad.csv'");
	r = knot("replay bad.csv");
	cr_assert_eq(r->status, 1, "%s", r->out);
	cr_assert(strstr(r->out, "bad.csv:6: '# mask_cells,9' but the first frame has 8 cells"),
	          "%s", r->out);
	r = run("sh", "-c \"sed '7s/,9,/,,/' m.csv > hole.csv\"");
	r = knot("replay hole.csv --verify");
	cr_assert_eq(r->status, 1, "%s", r->out);
	cr_assert(strstr(r->out, "hole.csv:7:") && strstr(r->out, "empty cell"), "%s", r->out);
}

/* The PNG report's colour bar says what the values are: the same frames as
 * counts and as kPa give different images (the label), while the same
 * export twice gives the same bytes. Grid tall enough for the bar's label
 * (drawn when the map is >= 40 px high). */
Test(analysis_cli, png_scale_label_follows_the_units)
{
	char text[8192] = "";
	size_t n = 0;
	for (int f = 0; f < 3; f++) {
		for (int y = 0; y < 12; y++) {
			for (int x = 0; x < 12; x++)
				n += (size_t)snprintf(text + n, sizeof text - n, "%s%d",
				                      x ? "," : "", (x * 7 + y * 3 + f) % 50);
			n += (size_t)snprintf(text + n, sizeof text - n, "\n");
		}
		n += (size_t)snprintf(text + n, sizeof text - n, "\n");
	}
	write_text("m.csv", text);
	struct km_test_run *r = knot("export m.csv --units raw -o c.png");
	cr_assert_eq(r->status, 0, "%s", r->out);
	r = knot("export m.csv --units kPa -o k.png");
	cr_assert_eq(r->status, 0, "%s", r->out);
	r = knot("export m.csv --units kPa -o k2.png");
	cr_assert_eq(r->status, 0, "%s", r->out);
	r = run("sh", "-c 'cmp -s k.png k2.png && echo same; cmp -s k.png c.png || echo differ'");
	cr_assert_str_eq(r->out, "same\ndiffer\n");
}

/* Oblong cells from file to report (issue 17): a Tekscan movie with 10.28
 * mm between rows and 5.28 mm between columns, a block of B cells (off the
 * sensor) and a round knot (+5 kPa, sigma 12 mm) on a 20 kPa plateau.
 * `analyze --json` finds the one knot where it is in the file's own mm, to
 * half a cell per axis (with one pitch for both axes it was ~95 mm off in
 * x), with its cell the cell-centre convention gives; the JSON export holds
 * the same position. */
static const char gen_oblong[] =
    "import math\n"
    "R, C, py, px = 32, 64, 10.28, 5.28\n"
    "kx, ky = 32 * px + 70.0, 16 * py + 40.0\n"
    "n = 150\n"
    "out = ['DATA_TYPE MOVIE', 'SENSOR_TYPE 5330', 'ROWS %d' % R, 'COLS %d' % C,\n"
    "       'ROW_SPACING 10.28 mm', 'COL_SPACING 5.28 mm', 'SECONDS_PER_FRAME 0.02',\n"
    "       'UNITS KPa', 'START_FRAME 1', 'END_FRAME %d' % n, 'ASCII_DATA @@', '']\n"
    "for f in range(n):\n"
    "    out.append('Frame %d' % (f + 1))\n"
    "    for r in range(R):\n"
    "        row = []\n"
    "        for c in range(C):\n"
    "            if 22 <= r < 28 and 2 <= c < 13:\n"
    "                row.append('B')\n"
    "                continue\n"
    "            dx, dy = (c + 0.5) * px - kx, (r + 0.5) * py - ky\n"
    "            row.append('%.3f' % (20.0 + 5.0 * math.exp(-(dx * dx + dy * dy) / 288.0)))\n"
    "        out.append(','.join(row))\n"
    "    out.append('')\n"
    "out.append('@@')\n"
    "open('oblong.txt', 'w').write('\\r\\n'.join(out) + '\\r\\n')\n";

static const char check_oblong[] =
    "import json\n"
    "a = json.load(open('oblong.json'))\n"
    "e = json.load(open('oblong_e.json'))\n"
    "g = a['grid']\n"
    "assert abs(g['row_pitch_mm'] - 10.28) < 1e-3 and abs(g['col_pitch_mm'] - 5.28) < 1e-3, g\n"
    "assert g['cells_on_sensor'] == 32 * 64 - 6 * 11, g\n"
    "assert len(a['knots']) == 1, a['knots']\n"
    "k = a['knots'][0]\n"
    "kx, ky = 32 * 5.28 + 70.0, 16 * 10.28 + 40.0\n"
    "assert abs(k['x_mm'] - kx) < 0.5 * 5.28 and abs(k['y_mm'] - ky) < 0.5 * 10.28, k\n"
    "assert abs(k['col'] - (kx / 5.28 - 0.5)) < 0.5 and abs(k['row'] - (ky / 10.28 - 0.5)) < 0.5, k\n"
    "assert len(e['knots']) == 1, e['knots']\n"
    "x = e['knots'][0]\n"
    "assert abs(x['x_mm'] - k['x_mm']) < 1e-3 and abs(x['y_mm'] - k['y_mm']) < 1e-3, (x, k)\n"
    "print('oblong ok')\n";

Test(analysis_cli, oblong_cells_true_mm_from_file_to_export)
{
	write_text("gen_oblong.py", gen_oblong);
	write_text("check_oblong.py", check_oblong);
	struct km_test_run *r = py("gen_oblong.py");
	cr_assert_eq(r->status, 0, "%s", r->out);
	r = knot("analyze oblong.txt --json > oblong.json 2>oblong.err; exit $?");
	cr_assert_eq(r->status, 0, "%s", r->out);
	r = knot("export oblong.txt -o oblong_e.json");
	cr_assert_eq(r->status, 0, "%s", r->out);
	r = py("check_oblong.py");
	cr_assert_eq(r->status, 0, "%s", r->out);
	cr_assert(strstr(r->out, "oblong ok"), "%s", r->out);
}
