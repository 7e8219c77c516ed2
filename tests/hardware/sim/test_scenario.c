/* Scenario files: the parser's errors, lookup by name, and every shipped
 * scenario against the ranges in docs/signal-model.md. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim_test_util.h"

/* ------------------------------------------------------------------------ */
/* Parser                                                                    */
/* ------------------------------------------------------------------------ */

static char last_log[512];
static void grab_log(void *user, enum km_log_level level, const char *module, const char *msg)
{
	(void)user;
	(void)level;
	(void)module;
	snprintf(last_log, sizeof last_log, "%s", msg);
}

static int parse(const char *text, struct km_sim_config *cfg, char *err, size_t cap)
{
	*cfg = km_sim_config_default();
	cfg->log.fn = grab_log;
	cfg->log.max_level = KM_LOG_DEBUG;
	last_log[0] = '\0';
	return km_sim_scenario_parse(text, strlen(text), "t.ini", cfg, err, cap);
}

#define EXPECT_PARSE_ERROR(text, where, key)                                                       \
	do {                                                                                       \
		struct km_sim_config c;                                                            \
		char err[256];                                                                     \
		cr_assert_eq(parse(text, &c, err, sizeof err), KM_ERR_PARSE, "%s", text);          \
		cr_assert_not_null(strstr(err, where), "'%s' lacks '%s'", err, where);             \
		const char *k_ = key;                                                              \
		if (k_)                                                                            \
			cr_assert_not_null(strstr(err, k_), "'%s' lacks '%s'", err, k_);           \
		cr_assert_str_eq(last_log, err, "the log gets the same message");                  \
	} while (0)

Test(scenario, parse_fills_the_config)
{
	const char *text = "# comment\n"
	                   "[scenario]\nname = x\ndescription = a test\nseed = 77\n"
	                   "[mat]\nrows = 40   ; inline comment\ncols=48\npitch_mm = 8\n"
	                   "[body]\nmass_kg = 80\n"
	                   "[knot]\nx_mm = 100\ny_mm = 120\nradius_mm = 20\n"
	                   "[knot]\nx_mm = 150\ny_mm = 160\n"
	                   "[tool]\ntype = lacrosse_ball\n"
	                   "[motion]\nstep = roll 3 10 20 0.2\nstep = hold 30 0.25\nstep = lift 1\n"
	                   "[tensing]\ninterval = 5 2\ninterval = 10 3 withdrawal\n"
	                   "[faults]\ndead_cells = 3\ndead_row = 4\ndead_col = 7\n"
	                   "[sensor]\nnoise_counts = 2.5\n";
	struct km_sim_config c;
	char err[256];
	cr_assert_eq(parse(text, &c, err, sizeof err), KM_OK, "%s", err);
	cr_assert_eq(err[0], '\0');
	cr_assert_eq(c.seed, 77u);
	cr_assert_eq(c.rows, 40);
	cr_assert_eq(c.cols, 48);
	cr_assert_float_eq(c.pitch_mm, 8.0f, 1e-6);
	cr_assert_float_eq(c.body_mass_kg, 80.0f, 1e-6);
	cr_assert_eq(c.knot_count, 2u);
	cr_assert_float_eq(c.knots[0].radius_mm, 20.0f, 1e-6);
	cr_assert_float_eq(c.knots[1].radius_mm, 15.0f, 1e-6, "knot default");
	cr_assert_eq(c.tool, KM_SIM_TOOL_LACROSSE_BALL);
	cr_assert_eq(c.step_count, 3u);
	cr_assert_eq(c.steps[0].move, KM_SIM_MOVE_ROLL);
	cr_assert_float_eq(c.steps[0].y_mm, 20.0f, 1e-6);
	cr_assert(isnan(c.steps[1].x_mm), "hold without a position stays");
	cr_assert_float_eq(c.steps[1].load, 0.25f, 1e-6);
	cr_assert(isnan(c.steps[2].load));
	cr_assert_eq(c.tensing_count, 2u);
	cr_assert(c.tensing[1].withdrawal);
	cr_assert_eq(c.dead_cells, 3u);
	cr_assert_eq(c.dead_rows[0], 4);
	cr_assert_eq(c.dead_cols[0], 7);
	cr_assert_float_eq(c.noise_counts, 2.5f, 1e-6);
	cr_assert_eq(c.log.fn, grab_log, "the caller's log is kept");
}

Test(scenario, errors_name_file_line_and_key)
{
	EXPECT_PARSE_ERROR("[mat]\nrows = 32\nbogus = 1\n", "t.ini:3", "bogus");
	EXPECT_PARSE_ERROR("[mat]\nrows = 3x2\n", "t.ini:2", "rows");
	EXPECT_PARSE_ERROR("[mat]\npitch_mm = 50\n", "t.ini:2", "pitch_mm");
	EXPECT_PARSE_ERROR("[mat]\nrate_hz = nan\n", "t.ini:2", "rate_hz");
	EXPECT_PARSE_ERROR("[mat]\nrows = -5\n", "t.ini:2", "rows");
	EXPECT_PARSE_ERROR("[mat]\nrows =\n", "t.ini:2", "rows");
	EXPECT_PARSE_ERROR("[body]\nmass_kg = 70\n", "missing section [mat]", NULL);
	EXPECT_PARSE_ERROR("[mat]\n\n[bogus]\n", "t.ini:3", "bogus");
	EXPECT_PARSE_ERROR("[mat]\n[mat]\n", "t.ini:2", "twice");
	EXPECT_PARSE_ERROR("rows = 5\n[mat]\n", "t.ini:1", "rows");
	EXPECT_PARSE_ERROR("[mat]\njust words\n", "t.ini:2", "just words");
	EXPECT_PARSE_ERROR("[mat]\n[knot]\nx_mm = 5\n[tool]\n", "t.ini:2", "y_mm");
	EXPECT_PARSE_ERROR("[mat]\n[motion]\nstep = jump 3\n", "t.ini:3", "jump");
	EXPECT_PARSE_ERROR("[mat]\n[motion]\nstep = hold 3 1 2 0.5 9\n", "t.ini:3", "step");
	EXPECT_PARSE_ERROR("[mat]\n[motion]\nstep = hold 3 1 2 1.5\n", "t.ini:3", "step");
	EXPECT_PARSE_ERROR("[mat]\n[tool]\ntype = hammer\n", "t.ini:3", "type");
	EXPECT_PARSE_ERROR("[mat]\n[body]\npresent = maybe\n", "t.ini:3", "present");
	EXPECT_PARSE_ERROR("[mat]\n[tensing]\ninterval = 1 2 sneeze\n", "t.ini:3", "interval");
	EXPECT_PARSE_ERROR("[mat]\ngeometry = sphere\n", "t.ini:2", "geometry");
	EXPECT_PARSE_ERROR("[mat\n", "t.ini:1", "[mat");
	EXPECT_PARSE_ERROR("[mat]\n[body]\npresent = no\n", "nothing touches", NULL);
}

Test(scenario, consistent_syntax_but_invalid_config_is_a_range_error)
{
	struct km_sim_config c;
	char err[256];
	/* a lying body on a roller is not modelled */
	cr_assert_eq(parse("[mat]\ngeometry = cylinder\n", &c, err, sizeof err), KM_ERR_RANGE);
	cr_assert_not_null(strstr(err, "t.ini"));
	cr_assert_not_null(strstr(err, "cylinder"), "%s", err);
	cr_assert_str_eq(last_log, "config: on a cylinder only the roller device (no lying body) "
	                           "is modelled");
	cr_assert_eq(km_sim_scenario_parse(NULL, 0, "x", &c, err, sizeof err), KM_ERR_INVALID_ARG);
	cr_assert_eq(km_sim_scenario_parse("", 0, "x", NULL, err, sizeof err), KM_ERR_INVALID_ARG);
	/* a NUL byte inside the text */
	cr_assert_eq(km_sim_scenario_parse("[mat]\n\0x\n", 9, "n.ini", &c, err, sizeof err),
	             KM_ERR_PARSE);
	/* err_cap 0 and NULL err are fine */
	cr_assert_eq(km_sim_scenario_parse("[x]\n", 4, "x", &c, NULL, 0), KM_ERR_PARSE);
}

Test(scenario, load_reports_unreadable_files)
{
	struct km_sim_config c = km_sim_config_default();
	char err[256];
	cr_assert_eq(km_sim_scenario_load("/nonexistent/x.ini", &c, err, sizeof err),
	             KM_ERR_NOT_FOUND);
	cr_assert_not_null(strstr(err, "/nonexistent/x.ini"));
	cr_assert_eq(km_sim_scenario_load(NULL, &c, err, sizeof err), KM_ERR_INVALID_ARG);
}

/* ------------------------------------------------------------------------ */
/* Lookup                                                                    */
/* ------------------------------------------------------------------------ */

Test(scenario, find_by_name)
{
	char path[4096];
	unsetenv("KNOTMAP_SCENARIO_DIR");
	cr_assert_eq(km_sim_scenario_find("back-lying", path, sizeof path), KM_OK);
	cr_assert_not_null(strstr(path, "back-lying.ini"));
	cr_assert_eq(km_sim_scenario_find("back-lying.ini", path, sizeof path), KM_OK);
	cr_assert_eq(km_sim_scenario_find("no-such-scenario", path, sizeof path), KM_ERR_NOT_FOUND);
	cr_assert_eq(km_sim_scenario_find("", path, sizeof path), KM_ERR_INVALID_ARG);
	cr_assert_eq(km_sim_scenario_find("..", path, sizeof path), KM_ERR_INVALID_ARG);
	cr_assert_eq(km_sim_scenario_find("back-lying", path, 8), KM_ERR_OVERFLOW);
	cr_assert_eq(km_sim_scenario_find("/nonexistent/a.ini", path, sizeof path),
	             KM_ERR_NOT_FOUND);
}

Test(scenario, env_dir_overrides)
{
	char dir[] = "/tmp/km_sim_scnXXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	char file[256];
	snprintf(file, sizeof file, "%s/mine.ini", dir);
	FILE *f = fopen(file, "w");
	cr_assert_not_null(f);
	fputs("[mat]\nrows = 16\ncols = 16\n[body]\nvertex_y_mm = -300\n", f);
	fclose(f);
	setenv("KNOTMAP_SCENARIO_DIR", dir, 1);
	char path[4096], d[4096];
	cr_assert_eq(km_sim_scenario_dir(d, sizeof d), KM_OK);
	cr_assert_str_eq(d, dir);
	cr_assert_eq(km_sim_scenario_find("mine", path, sizeof path), KM_OK);
	cr_assert_str_eq(path, file);
	/* the shipped ones are still found behind it */
	cr_assert_eq(km_sim_scenario_find("back-lying", path, sizeof path), KM_OK);
	struct km_sim_config c = km_sim_config_default();
	char err[256];
	cr_assert_eq(km_sim_scenario_load(file, &c, err, sizeof err), KM_OK, "%s", err);
	cr_assert_eq(c.rows, 16);
	unsetenv("KNOTMAP_SCENARIO_DIR");
	unlink(file);
	rmdir(dir);
}

/* ------------------------------------------------------------------------ */
/* Shipped scenarios against the signal model                                */
/* ------------------------------------------------------------------------ */

static const char *const shipped[] = {"back-lying",          "tennis-ball-trapezius",
                                      "lacrosse-ball-glute", "foam-roller-thigh",
                                      "roller-device",       "tensing-up",
                                      "faulty-sensor"};

/* Runs a scenario until t_s (at rate Hz) and leaves the simulator there. */
static km_sim *run_until(const char *name, float rate, double t_s, struct km_sim_output *o,
                         struct km_sim_config *cfg_out)
{
	struct km_sim_config c;
	char err[256];
	cr_assert_eq(sim_test_load(name, &c, err, sizeof err), KM_OK, "%s: %s", name, err);
	c.rate_hz = rate;
	km_sim *sim = NULL;
	cr_assert_eq(km_sim_create(&c, &sim), KM_OK, "%s", name);
	size_t frames = (size_t)(t_s * rate) + 1;
	for (size_t f = 0; f < frames; f++)
		cr_assert_eq(km_sim_step(sim, o), KM_OK);
	if (cfg_out)
		*cfg_out = c;
	return sim;
}

Test(scenario, every_shipped_scenario_loads_and_is_listed)
{
	char dir[4096];
	cr_assert_eq(km_sim_scenario_dir(dir, sizeof dir), KM_OK);
	size_t found = 0;
	DIR *d = opendir(dir);
	cr_assert_not_null(d);
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);
		if (l > 4 && !strcmp(e->d_name + l - 4, ".ini"))
			found++;
	}
	closedir(d);
	cr_assert_geq(found, sizeof shipped / sizeof shipped[0]);
	for (size_t i = 0; i < sizeof shipped / sizeof shipped[0]; i++) {
		struct km_sim_output o;
		km_sim *sim = run_until(shipped[i], 20, 1.0, &o, NULL);
		/* the truth's sums agree with its own frame */
		double sum = 0;
		float peak = 0;
		for (size_t k = 0; k < (size_t)o.rows * o.cols; k++) {
			sum += o.kpa[k];
			peak = fmaxf(peak, o.kpa[k]);
		}
		sum *= o.pitch_mm * o.pitch_mm * 1e-3;
		cr_assert(fabs(sum - o.truth->total_force_n) <= 1e-3 * sum + 1e-3, "%s",
		          shipped[i]);
		cr_assert_float_eq(peak, o.truth->peak_kpa, 1e-3);
		char path[4096], desc[256];
		cr_assert_eq(km_sim_scenario_find(shipped[i], path, sizeof path), KM_OK);
		cr_assert_eq(km_sim_scenario_describe(path, desc, sizeof desc), KM_OK);
		cr_assert_gt(strlen(desc), 10u, "%s needs a description", shipped[i]);
		km_sim_destroy(sim);
	}
}

Test(scenario, back_lying_matches_the_body_model)
{
	struct km_sim_output o;
	struct km_sim_config c;
	km_sim *sim = run_until("back-lying", 20, 4.0, &o, &c);
	const struct km_sim_truth *t = o.truth;
	cr_assert(t->body);
	cr_assert(t->body_fraction > 0.7f && t->body_fraction < 1.0f, "%.3f", t->body_fraction);
	/* over two breaths: the mat carries the share of weight the segment model puts
	 * over it (independent estimate), and the counts say the same */
	double f_true = 0, f_counts = 0;
	int n = 0;
	for (int k = 0; k < 160; k++, n++) {
		km_sim_step(sim, &o);
		f_true += o.truth->total_force_n;
		f_counts += sim_test_force_from_counts(sim, &o);
	}
	f_true /= n;
	f_counts /= n;
	double expect = t->body_weight_n * t->body_fraction;
	cr_assert(fabs(f_true / expect - 1) < 0.08, "force %.1f N vs %.1f N", f_true, expect);
	/* creep (log time) and crosstalk read high; noise either way */
	cr_assert(f_counts > 0.95 * f_true && f_counts < 1.35 * f_true, "%.1f vs %.1f", f_counts,
	          f_true);
	/* rigid surface peaks 100-400 mmHg (13-53 kPa), sacrum up to ~104 kPa */
	cr_assert(t->peak_kpa > 13 && t->peak_kpa < 104, "peak %.1f kPa", t->peak_kpa);
	/* the peak sits on a bony prominence: sacrum, occiput or a scapula */
	size_t best = 0;
	for (size_t i = 0; i < (size_t)o.rows * o.cols; i++)
		if (o.kpa[i] > o.kpa[best])
			best = i;
	float px = ((float)(best % o.cols) + 0.5f) * o.pitch_mm;
	float py = ((float)(best / o.cols) + 0.5f) * o.pitch_mm;
	float dmin = 1e9f;
	const int bony[] = {KM_SIM_LM_SACRUM, KM_SIM_LM_OCCIPUT, KM_SIM_LM_SCAPULA_LEFT,
	                    KM_SIM_LM_SCAPULA_RIGHT};
	for (int i = 0; i < 4; i++)
		dmin = fminf(
		    dmin, hypotf(px - t->landmarks[bony[i]].x_mm, py - t->landmarks[bony[i]].y_mm));
	cr_assert_lt(dmin, 40.0f, "peak %.0f mm from the nearest bony landmark", dmin);
	cr_assert(t->loaded_area_cm2 > 1000 && t->loaded_area_cm2 < 4000, "%.0f cm2",
	          t->loaded_area_cm2);
	/* each knot under load shows above its surroundings */
	for (size_t k = 0; k < t->knot_count; k++) {
		const struct km_sim_knot_truth *kt = &t->knots[k];
		cr_assert(kt->loaded, "knot %zu", k);
		int kr = (int)(kt->y_mm / o.pitch_mm), kc = (int)(kt->x_mm / o.pitch_mm);
		double ring = 0;
		int cnt = 0;
		for (int dr = -7; dr <= 7; dr++)
			for (int dc = -7; dc <= 7; dc++) {
				double d = hypot(dr, dc) * o.pitch_mm;
				int r = kr + dr, cc = kc + dc;
				if (d < 2.5 * kt->radius_mm || d > 2.5 * kt->radius_mm + 15 ||
				    r < 0 || cc < 0 || r >= o.rows || cc >= o.cols)
					continue;
				ring += o.kpa[(size_t)r * o.cols + (size_t)cc];
				cnt++;
			}
		cr_assert_gt(cnt, 0);
		double centre = o.kpa[(size_t)kr * o.cols + (size_t)kc];
		cr_assert_gt(centre, 1.05 * ring / cnt, "knot %zu: %.2f vs ring %.2f", k, centre,
		             ring / cnt);
	}
	km_sim_destroy(sim);
}

Test(scenario, tennis_ball_contact_is_small_and_sharp)
{
	struct km_sim_output o;
	struct km_sim_config c;
	km_sim *sim = run_until("tennis-ball-trapezius", 20, 0.5, &o, &c);
	cr_assert_eq(o.truth->phase, KM_SIM_PHASE_IDLE);
	cr_assert_not(o.truth->tool_contact);
	km_sim_destroy(sim);
	sim = run_until("tennis-ball-trapezius", 20, 20.0, &o, &c);
	const struct km_sim_truth *t = o.truth;
	cr_assert_eq(t->phase, KM_SIM_PHASE_HOLD);
	cr_assert(t->tool_contact);
	cr_assert(t->knots[0].loaded, "the hold is on the knot");
	/* ~2 cm^2 contact, peak up to ~1 MPa */
	cr_assert(t->tool_area_cm2 > 1 && t->tool_area_cm2 < 4, "%.2f cm2", t->tool_area_cm2);
	cr_assert(t->tool_peak_kpa > 200 && t->tool_peak_kpa < 1100, "%.0f kPa", t->tool_peak_kpa);
	double frac = t->tool_force_n / t->body_weight_n;
	cr_assert(fabs(frac / t->load - 1) < 0.4, "tool %.3f of body weight, load %.3f", frac,
	          t->load);
	/* the peak cell is at the contact */
	size_t best = 0;
	for (size_t i = 0; i < (size_t)o.rows * o.cols; i++)
		if (o.kpa[i] > o.kpa[best])
			best = i;
	float px = ((float)(best % o.cols) + 0.5f) * o.pitch_mm;
	float py = ((float)(best / o.cols) + 0.5f) * o.pitch_mm;
	cr_assert_lt(hypotf(px - t->tool_x_mm, py - t->tool_y_mm), o.pitch_mm * 1.5f);
	km_sim_destroy(sim);
}

Test(scenario, lacrosse_ball_holds_on_the_glute_knot)
{
	struct km_sim_output o;
	km_sim *sim = run_until("lacrosse-ball-glute", 20, 25.0, &o, NULL);
	const struct km_sim_truth *t = o.truth;
	cr_assert_eq(t->phase, KM_SIM_PHASE_HOLD);
	cr_assert(t->knots[0].loaded);
	cr_assert(t->tool_area_cm2 > 0.5f && t->tool_area_cm2 < 3.5f, "%.2f", t->tool_area_cm2);
	cr_assert_gt(t->tool_peak_kpa, 200);
	cr_assert(t->landmarks[KM_SIM_LM_SACRUM].on_mat);
	cr_assert_gt(t->knots[0].hold_s, 5.0f);
	cr_assert_lt(t->knots[0].stiffness_pct, 35.0f, "the knot releases while held");
	km_sim_destroy(sim);
}

Test(scenario, foam_roller_loads_like_baumgart)
{
	/* Baumgart 2019: mean force 32-34 % of body weight; contact 33 kPa over
	 * ~68 cm^2 on the thigh */
	struct km_sim_config c;
	char err[256];
	cr_assert_eq(sim_test_load("foam-roller-thigh", &c, err, sizeof err), KM_OK, "%s", err);
	c.rate_hz = 20;
	km_sim *sim = NULL;
	cr_assert_eq(km_sim_create(&c, &sim), KM_OK);
	struct km_sim_output o;
	int checked = 0;
	for (int f = 0; f < 20 * 50; f++) {
		km_sim_step(sim, &o);
		const struct km_sim_truth *t = o.truth;
		if (t->phase != KM_SIM_PHASE_HOLD && t->phase != KM_SIM_PHASE_APPROACH)
			continue;
		if (t->load < 0.3f)
			continue;
		double frac = t->tool_force_n / t->body_weight_n;
		cr_assert(frac > 0.25 && frac < 0.55, "t=%.2f: %.3f of body weight", t->t_s, frac);
		double area = 0, sum = 0;
		for (size_t i = 0; i < (size_t)o.rows * o.cols; i++)
			if (o.kpa[i] > 2) {
				area += o.pitch_mm * o.pitch_mm / 100;
				sum += o.kpa[i];
			}
		double mean = sum * o.pitch_mm * o.pitch_mm / 100 / area;
		cr_assert(area > 68 * 0.6 && area < 68 * 1.5, "t=%.2f: %.1f cm2", t->t_s, area);
		cr_assert(mean > 33 * 0.6 && mean < 33 * 1.5, "t=%.2f: %.1f kPa", t->t_s, mean);
		checked++;
	}
	cr_assert_gt(checked, 500);
	km_sim_destroy(sim);
}

Test(scenario, roller_device_wraps_and_balances)
{
	struct km_sim_output o;
	struct km_sim_config c;
	km_sim *sim = run_until("roller-device", 20, 5.0, &o, &c);
	cr_assert_eq(o.geometry, KM_GEOMETRY_CYLINDER);
	const float circ = o.cols * o.pitch_mm;
	cr_assert(fabsf(circ - 3.14159265f * 150) < 2, "15 cm roller: %.1f mm around", circ);
	bool wrapped = false;
	for (int f = 0; f < 20 * 5; f++) {
		km_sim_step(sim, &o);
		const struct km_sim_truth *t = o.truth;
		cr_assert(t->tool_x_mm >= 0 && t->tool_x_mm < circ);
		if (t->tool_contact && t->tool_x_mm < 30)
			wrapped = true;
		if (t->tool_contact)
			cr_assert(fabs(t->total_force_n - (2 * t->tool_force_n + 9.81)) <
			          0.05 * t->total_force_n);
	}
	cr_assert(wrapped, "rolling more than a turn passes the seam");
	km_sim_destroy(sim);
}

Test(scenario, tensing_up_flags_and_withdrawal)
{
	struct km_sim_config c;
	char err[256];
	cr_assert_eq(sim_test_load("tensing-up", &c, err, sizeof err), KM_OK, "%s", err);
	km_sim *sim = NULL;
	cr_assert_eq(km_sim_create(&c, &sim), KM_OK);
	struct km_sim_output o;
	size_t n = (size_t)(47 * c.rate_hz);
	float *force = calloc(n, sizeof(float));
	size_t tensing_frames = 0, withdrawal_at = 0;
	for (size_t f = 0; f < n; f++) {
		km_sim_step(sim, &o);
		force[f] = o.truth->tool_force_n;
		tensing_frames += o.truth->tensing;
		if (o.truth->withdrawal && !withdrawal_at)
			withdrawal_at = f;
	}
	cr_assert_eq(tensing_frames, (size_t)(11 * c.rate_hz), "6 s + 5 s of tensing");
	cr_assert_gt(withdrawal_at, 0u);
	/* withdrawal: > 30 % drop within 1 s */
	float before = force[withdrawal_at - 1], low = before;
	for (size_t f = withdrawal_at; f < withdrawal_at + (size_t)c.rate_hz; f++)
		low = fminf(low, force[f]);
	cr_assert_lt(low, 0.7f * before, "%.1f -> %.1f N", before, low);
	free(force);
	km_sim_destroy(sim);
}

Test(scenario, faulty_sensor_cells_read_what_the_truth_says)
{
	struct km_sim_output o;
	struct km_sim_config c;
	km_sim *sim = run_until("faulty-sensor", 20, 2.0, &o, &c);
	const struct km_sim_truth *t = o.truth;
	cr_assert_geq(t->dead_count, 64u + 64u - 1u, "a dead row and a dead column");
	cr_assert_eq(t->stuck_count, 6u);
	size_t dead_loaded = 0;
	for (size_t i = 0; i < (size_t)o.rows * o.cols; i++) {
		if (t->fault_map[i] == 1) {
			cr_assert_eq(o.counts[i], 0);
			dead_loaded += o.kpa[i] > 1;
		} else if (t->fault_map[i] == 2) {
			cr_assert_eq(o.counts[i], c.stuck_value);
		}
	}
	cr_assert_gt(dead_loaded, 10u, "dead cells hide real pressure");
	km_sim_destroy(sim);
}
