/*
 * Scenario files: a small INI dialect (hardware/sim/scenarios/README.md).
 * Strict: unknown sections and keys, bad numbers and missing required parts
 * are errors that name the file, the line and the key.
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "km_internal.h"
#include "sim_internal.h"

#define MAX_SCENARIO_BYTES (1u << 20)

enum section {
	SEC_NONE = 0,
	SEC_SCENARIO,
	SEC_MAT,
	SEC_BODY,
	SEC_BREATHING,
	SEC_KNOT,
	SEC_TOOL,
	SEC_MOTION,
	SEC_TENSING,
	SEC_FAULTS,
	SEC_SENSOR,
	SEC_COUNT
};

static const char *const section_names[SEC_COUNT] = {"",          "scenario", "mat",   "body",
                                                     "breathing", "knot",     "tool",  "motion",
                                                     "tensing",   "faults",   "sensor"};

enum vtype {
	V_FLOAT, /* float at offset */
	V_U16,
	V_U32,
	V_U64,
	V_U8,
	V_BOOL,
	V_TEXT,   /* [scenario] name/description: accepted, stored elsewhere */
	V_SPECIAL /* handled by code */
};

struct key_def {
	enum section sec;
	const char *key;
	enum vtype type;
	size_t off;    /* into struct km_sim_config, or struct km_sim_knot for SEC_KNOT */
	double lo, hi; /* accepted range for numbers */
};

#define CF(f) offsetof(struct km_sim_config, f)
#define KF(f) offsetof(struct km_sim_knot, f)

static const struct key_def keys[] = {
    {SEC_SCENARIO, "name", V_TEXT, 0, 0, 0},
    {SEC_SCENARIO, "description", V_TEXT, 0, 0, 0},
    {SEC_SCENARIO, "seed", V_U64, CF(seed), 0, 0},

    {SEC_MAT, "rows", V_U16, CF(rows), KM_SIM_MIN_DIM, KM_SIM_MAX_DIM},
    {SEC_MAT, "cols", V_U16, CF(cols), KM_SIM_MIN_DIM, KM_SIM_MAX_DIM},
    {SEC_MAT, "pitch_mm", V_FLOAT, CF(pitch_mm), 5, 10},
    {SEC_MAT, "geometry", V_SPECIAL, 0, 0, 0},
    {SEC_MAT, "rate_hz", V_FLOAT, CF(rate_hz), 1, 1000},
    {SEC_MAT, "serial", V_U32, CF(serial), 0, 4294967295.0},
    {SEC_MAT, "encoding", V_SPECIAL, 0, 0, 0},
    {SEC_MAT, "key_interval", V_U16, CF(key_interval), 1, 1000},
    {SEC_MAT, "start_running", V_BOOL, CF(start_running), 0, 0},

    {SEC_BODY, "present", V_BOOL, CF(body), 0, 0},
    {SEC_BODY, "mass_kg", V_FLOAT, CF(body_mass_kg), 30, 200},
    {SEC_BODY, "height_mm", V_FLOAT, CF(body_height_mm), 1000, 2200},
    {SEC_BODY, "midline_x_mm", V_FLOAT, CF(body_midline_x_mm), -2000, 3000},
    {SEC_BODY, "vertex_y_mm", V_FLOAT, CF(body_vertex_y_mm), -3000, 3000},
    {SEC_BODY, "bony_gain", V_FLOAT, CF(bony_gain), 0, 3},
    {SEC_BODY, "loaded_kpa", V_FLOAT, CF(loaded_kpa), 0, 100},

    {SEC_BREATHING, "rate_hz", V_FLOAT, CF(breath_hz), 0.05, 1},
    {SEC_BREATHING, "depth", V_FLOAT, CF(breath_depth), 0, 0.5},

    {SEC_KNOT, "x_mm", V_FLOAT, KF(x_mm), -1000, 2000},
    {SEC_KNOT, "y_mm", V_FLOAT, KF(y_mm), -1000, 2000},
    {SEC_KNOT, "radius_mm", V_FLOAT, KF(radius_mm), 3, 40},
    {SEC_KNOT, "stiffness_pct", V_FLOAT, KF(stiffness_pct), 0, 100},
    {SEC_KNOT, "depth_mm", V_FLOAT, KF(depth_mm), 0, 40},
    {SEC_KNOT, "release_pct", V_FLOAT, KF(release_pct), 0, 100},

    {SEC_TOOL, "type", V_SPECIAL, 0, 0, 0},
    {SEC_TOOL, "diameter_mm", V_FLOAT, CF(tool_diameter_mm), 10, 300},
    {SEC_TOOL, "contact_cm2", V_FLOAT, CF(tool_contact_cm2), 0.1, 500},
    {SEC_TOOL, "ref_force_n", V_FLOAT, CF(tool_ref_force_n), 1, 5000},
    {SEC_TOOL, "width_mm", V_FLOAT, CF(tool_width_mm), 10, 1000},
    {SEC_TOOL, "lift_mm", V_FLOAT, CF(tool_lift_mm), 0, 500},
    {SEC_TOOL, "mass_kg", V_FLOAT, CF(tool_mass_kg), 0, 20},

    {SEC_MOTION, "loop", V_BOOL, CF(motion_loop), 0, 0},
    {SEC_MOTION, "start_x_mm", V_FLOAT, CF(start_x_mm), -1e5, 1e5},
    {SEC_MOTION, "start_y_mm", V_FLOAT, CF(start_y_mm), -1e5, 1e5},
    {SEC_MOTION, "step", V_SPECIAL, 0, 0, 0},

    {SEC_TENSING, "interval", V_SPECIAL, 0, 0, 0},
    {SEC_TENSING, "tremor_hz", V_FLOAT, CF(tremor_hz), 1, 30},
    {SEC_TENSING, "tremor_amp", V_FLOAT, CF(tremor_amp), 0, 0.5},
    {SEC_TENSING, "burst_hz", V_FLOAT, CF(burst_hz), 0.5, 10},
    {SEC_TENSING, "burst_amp", V_FLOAT, CF(burst_amp), 0, 0.5},
    {SEC_TENSING, "withdrawal_drop", V_FLOAT, CF(withdrawal_drop), 0, 0.95},
    {SEC_TENSING, "withdrawal_s", V_FLOAT, CF(withdrawal_s), 0.05, 5},
    {SEC_TENSING, "breath", V_FLOAT, CF(tensing_breath), 0, 1},

    {SEC_FAULTS, "dead_cells", V_U32, CF(dead_cells), 0, 65536},
    {SEC_FAULTS, "stuck_cells", V_U32, CF(stuck_cells), 0, 65536},
    {SEC_FAULTS, "stuck_value", V_U16, CF(stuck_value), 0, 65535},
    {SEC_FAULTS, "dead_row", V_SPECIAL, 0, 0, 0},
    {SEC_FAULTS, "dead_col", V_SPECIAL, 0, 0, 0},

    {SEC_SENSOR, "adc_bits", V_U8, CF(adc_bits), 8, 16},
    {SEC_SENSOR, "offset_counts", V_FLOAT, CF(offset_counts), 0, 65535},
    {SEC_SENSOR, "offset_sd", V_FLOAT, CF(offset_sd), 0, 16384},
    {SEC_SENSOR, "scale", V_FLOAT, CF(scale), 0.001, 1e5},
    {SEC_SENSOR, "scale_sd", V_FLOAT, CF(scale_sd), 0, 0.5},
    {SEC_SENSOR, "exponent", V_FLOAT, CF(exponent), 0.2, 2},
    {SEC_SENSOR, "exponent_sd", V_FLOAT, CF(exponent_sd), 0, 0.2},
    {SEC_SENSOR, "noise_counts", V_FLOAT, CF(noise_counts), 0, 8192},
    {SEC_SENSOR, "drift_counts_per_min", V_FLOAT, CF(drift_counts_per_min), -1000, 1000},
    {SEC_SENSOR, "creep_pct", V_FLOAT, CF(creep_pct), 0, 100},
    {SEC_SENSOR, "creep_ref_s", V_FLOAT, CF(creep_ref_s), 1, 1e5},
    {SEC_SENSOR, "creep_tau_s", V_FLOAT, CF(creep_tau_s), 0.01, 1e4},
    {SEC_SENSOR, "hysteresis_pct", V_FLOAT, CF(hysteresis_pct), 0, 50},
    {SEC_SENSOR, "hysteresis_tau_s", V_FLOAT, CF(hysteresis_tau_s), 0.01, 1e4},
    {SEC_SENSOR, "crosstalk_pct", V_FLOAT, CF(crosstalk_pct), 0, 50},
};

struct parser {
	const char *name;
	int line;
	char *err;
	size_t err_cap;
	const struct km_log *log;
	struct km_sim_config *cfg;
	enum section sec;
	int sec_line;
	bool seen[SEC_COUNT];
	uint32_t knot_seen; /* bit per knot key: x_mm=1, y_mm=2 */
	char *desc;
	size_t desc_cap;
};

static int fail(struct parser *p, const char *key, const char *fmt, ...) KM_PRINTF(3, 4);

static int fail(struct parser *p, const char *key, const char *fmt, ...)
{
	char what[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	char msg[512];
	if (key)
		snprintf(msg, sizeof msg, "%s:%d: key '%s': %s", p->name, p->line, key, what);
	else
		snprintf(msg, sizeof msg, "%s:%d: %s", p->name, p->line, what);
	if (p->err && p->err_cap > 0)
		snprintf(p->err, p->err_cap, "%s", msg);
	km__log(p->log, KM_LOG_ERROR, KM_SIM_MODULE, "%s", msg);
	return KM_ERR_PARSE;
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

static int parse_double(struct parser *p, const char *key, const char *text, double lo, double hi,
                        double *out)
{
	char *end = NULL;
	errno = 0;
	double v = strtod(text, &end);
	if (*text == '\0' || end == text || *end != '\0' || errno == ERANGE || !isfinite(v))
		return fail(p, key, "'%s' is not a number", text);
	if (v < lo || v > hi)
		return fail(p, key, "%s is outside %g..%g", text, lo, hi);
	*out = v;
	return KM_OK;
}

static int parse_uint(struct parser *p, const char *key, const char *text, double lo, double hi,
                      uint64_t *out)
{
	char *end = NULL;
	errno = 0;
	if (*text == '-' || *text == '+' || *text == '\0')
		return fail(p, key, "'%s' is not a whole number", text);
	unsigned long long v = strtoull(text, &end, 10);
	if (end == text || *end != '\0' || errno == ERANGE)
		return fail(p, key, "'%s' is not a whole number", text);
	if (hi > lo && ((double)v < lo || (double)v > hi))
		return fail(p, key, "%s is outside %.0f..%.0f", text, lo, hi);
	*out = v;
	return KM_OK;
}

static int parse_bool(struct parser *p, const char *key, const char *text, bool *out)
{
	if (!strcmp(text, "yes") || !strcmp(text, "true") || !strcmp(text, "1") ||
	    !strcmp(text, "on")) {
		*out = true;
		return KM_OK;
	}
	if (!strcmp(text, "no") || !strcmp(text, "false") || !strcmp(text, "0") ||
	    !strcmp(text, "off")) {
		*out = false;
		return KM_OK;
	}
	return fail(p, key, "'%s' is not yes/no", text);
}

/* Splits on blanks and commas into at most max tokens; returns the count or
 * -1 when there are more. */
static int split(char *s, char **tok, int max)
{
	int n = 0;
	char *save = NULL;
	for (char *t = strtok_r(s, " \t,", &save); t; t = strtok_r(NULL, " \t,", &save)) {
		if (n == max)
			return -1;
		tok[n++] = t;
	}
	return n;
}

static int special(struct parser *p, const char *key, char *val)
{
	struct km_sim_config *c = p->cfg;
	if (!strcmp(key, "geometry")) {
		if (!strcmp(val, "flat"))
			c->geometry = KM_GEOMETRY_FLAT;
		else if (!strcmp(val, "cylinder"))
			c->geometry = KM_GEOMETRY_CYLINDER;
		else
			return fail(p, key, "'%s' is not flat or cylinder", val);
		return KM_OK;
	}
	if (!strcmp(key, "encoding")) {
		static const char *const enc[] = {"raw16", "raw12", "delta", "delta_temporal"};
		for (uint8_t i = 0; i < 4; i++)
			if (!strcmp(val, enc[i])) {
				c->encoding = i;
				return KM_OK;
			}
		return fail(p, key, "'%s' is not raw16, raw12, delta or delta_temporal", val);
	}
	if (!strcmp(key, "type")) {
		for (int t = KM_SIM_TOOL_NONE; t <= KM_SIM_TOOL_ROLLER_DEVICE; t++)
			if (!strcmp(val, km_sim_tool_name((enum km_sim_tool)t))) {
				c->tool = (enum km_sim_tool)t;
				/* tool defaults from docs/signal-model.md */
				switch (c->tool) {
				case KM_SIM_TOOL_TENNIS_BALL: /* 6.5-6.9 cm, ~2 cm^2 */
					c->tool_diameter_mm = 67;
					c->tool_contact_cm2 = 2.0f;
					break;
				case KM_SIM_TOOL_LACROSSE_BALL: /* 6.3-6.5 cm, solid: est. */
					c->tool_diameter_mm = 64;
					c->tool_contact_cm2 = 1.5f;
					break;
				case KM_SIM_TOOL_FOAM_ROLLER: /* 33 kPa over ~68 cm^2 */
				case KM_SIM_TOOL_ROLLER_DEVICE:
					c->tool_diameter_mm = 150;
					c->tool_contact_cm2 = 68.0f;
					c->tool_ref_force_n = 0.33f * c->body_mass_kg * 9.81f;
					c->tool_lift_mm = 0;
					break;
				default:
					break;
				}
				return KM_OK;
			}
		return fail(p, key,
		            "'%s' is not none, tennis_ball, lacrosse_ball, foam_roller or "
		            "roller_device",
		            val);
	}
	if (!strcmp(key, "step")) {
		char *tok[6];
		int n = split(val, tok, 5);
		if (n < 0)
			return fail(p, key, "too many values (MOVE DURATION_S [X_MM Y_MM] [LOAD])");
		if (n < 2)
			return fail(p, key, "expects MOVE DURATION_S [X_MM Y_MM] [LOAD]");
		if (c->step_count >= KM_SIM_MAX_STEPS)
			return fail(p, key, "more than %d steps", KM_SIM_MAX_STEPS);
		static const char *const moves[] = {"idle", "roll", "settle", "hold", "lift"};
		struct km_sim_step st = {KM_SIM_MOVE_IDLE, 0, NAN, NAN, NAN};
		bool found = false;
		for (int i = 0; i < 5; i++)
			if (!strcmp(tok[0], moves[i])) {
				st.move = (enum km_sim_move)i;
				found = true;
			}
		if (!found)
			return fail(p, key, "'%s' is not idle, roll, settle, hold or lift", tok[0]);
		double v;
		int rc;
		if ((rc = parse_double(p, key, tok[1], 0.001, 1e6, &v)) != KM_OK)
			return rc;
		st.duration_s = (float)v;
		if (n >= 4) {
			if ((rc = parse_double(p, key, tok[2], -1e5, 1e5, &v)) != KM_OK)
				return rc;
			st.x_mm = (float)v;
			if ((rc = parse_double(p, key, tok[3], -1e5, 1e5, &v)) != KM_OK)
				return rc;
			st.y_mm = (float)v;
		}
		if (n == 5 || n == 3) {
			if ((rc = parse_double(p, key, tok[n - 1], 0, 1, &v)) != KM_OK)
				return rc;
			st.load = (float)v;
		}
		c->steps[c->step_count++] = st;
		return KM_OK;
	}
	if (!strcmp(key, "interval")) {
		char *tok[4];
		int n = split(val, tok, 3);
		if (n < 2)
			return fail(p, key, "expects START_S DURATION_S [withdrawal]");
		if (c->tensing_count >= KM_SIM_MAX_TENSING)
			return fail(p, key, "more than %d intervals", KM_SIM_MAX_TENSING);
		struct km_sim_tensing tz = {0, 0, false};
		double v;
		int rc;
		if ((rc = parse_double(p, key, tok[0], 0, 1e6, &v)) != KM_OK)
			return rc;
		tz.start_s = (float)v;
		if ((rc = parse_double(p, key, tok[1], 0.1, 1e6, &v)) != KM_OK)
			return rc;
		tz.duration_s = (float)v;
		if (n == 3) {
			if (strcmp(tok[2], "withdrawal") != 0)
				return fail(p, key, "third value must be 'withdrawal', got '%s'",
				            tok[2]);
			tz.withdrawal = true;
		}
		c->tensing[c->tensing_count++] = tz;
		return KM_OK;
	}
	if (!strcmp(key, "dead_row") || !strcmp(key, "dead_col")) {
		bool row = key[5] == 'r';
		size_t *count = row ? &c->dead_row_count : &c->dead_col_count;
		if (*count >= KM_SIM_MAX_DEAD_LINES)
			return fail(p, key, "more than %d", KM_SIM_MAX_DEAD_LINES);
		uint64_t v;
		int rc = parse_uint(p, key, val, 0, KM_SIM_MAX_DIM - 1, &v);
		if (rc != KM_OK)
			return rc;
		(row ? c->dead_rows : c->dead_cols)[(*count)++] = (uint16_t)v;
		return KM_OK;
	}
	return fail(p, key, "internal: no handler");
}

static int end_section(struct parser *p)
{
	if (p->sec == SEC_KNOT && (p->knot_seen & 3u) != 3u) {
		int line = p->line;
		p->line = p->sec_line;
		int rc = fail(p, (p->knot_seen & 1u) ? "y_mm" : "x_mm",
		              "missing in this [knot] section");
		p->line = line;
		return rc;
	}
	return KM_OK;
}

static int parse_line(struct parser *p, char *line)
{
	/* comments: whole line, or after a blank */
	for (char *q = line; *q; q++)
		if ((*q == '#' || *q == ';') && (q == line || q[-1] == ' ' || q[-1] == '\t')) {
			*q = '\0';
			break;
		}
	char *s = trim(line);
	if (*s == '\0')
		return KM_OK;
	if (*s == '[') {
		char *close = strchr(s, ']');
		if (!close || close[1] != '\0')
			return fail(p, NULL, "malformed section header '%s'", s);
		*close = '\0';
		char *name = trim(s + 1);
		int rc = end_section(p);
		if (rc != KM_OK)
			return rc;
		enum section sec = SEC_NONE;
		for (int i = 1; i < SEC_COUNT; i++)
			if (!strcmp(name, section_names[i]))
				sec = (enum section)i;
		if (sec == SEC_NONE)
			return fail(p, NULL, "unknown section [%s]", name);
		if (sec != SEC_KNOT && p->seen[sec])
			return fail(p, NULL, "section [%s] appears twice", name);
		p->seen[sec] = true;
		p->sec = sec;
		p->sec_line = p->line;
		if (sec == SEC_KNOT) {
			if (p->cfg->knot_count >= KM_SIM_MAX_KNOTS)
				return fail(p, NULL, "more than %d [knot] sections",
				            KM_SIM_MAX_KNOTS);
			/* a typical knot: 1.5 cm radius, +25 %, 1 cm deep (mid-range of
			 * docs/signal-model.md's 0.7-2.5 cm and 15-40 %) */
			struct km_sim_knot k = {0, 0, 15.0f, 25.0f, 10.0f, 0.0f};
			p->cfg->knots[p->cfg->knot_count++] = k;
			p->knot_seen = 0;
		}
		return KM_OK;
	}
	char *eq = strchr(s, '=');
	if (!eq)
		return fail(p, NULL, "expected 'key = value' or '[section]', got '%s'", s);
	*eq = '\0';
	char *key = trim(s), *val = trim(eq + 1);
	if (*key == '\0')
		return fail(p, NULL, "empty key");
	if (p->sec == SEC_NONE)
		return fail(p, key, "outside any section");
	const struct key_def *d = NULL;
	for (size_t i = 0; i < KM_ARRAY_SIZE(keys); i++)
		if (keys[i].sec == p->sec && !strcmp(keys[i].key, key))
			d = &keys[i];
	if (!d)
		return fail(p, key, "unknown key in [%s]", section_names[p->sec]);
	if (*val == '\0')
		return fail(p, key, "missing value");
	uint8_t *base = (uint8_t *)p->cfg;
	if (p->sec == SEC_KNOT) {
		base = (uint8_t *)&p->cfg->knots[p->cfg->knot_count - 1];
		if (!strcmp(key, "x_mm"))
			p->knot_seen |= 1u;
		if (!strcmp(key, "y_mm"))
			p->knot_seen |= 2u;
	}
	double dv;
	uint64_t uv;
	bool bv = false;
	int rc = KM_OK;
	switch (d->type) {
	case V_FLOAT:
		if ((rc = parse_double(p, key, val, d->lo, d->hi, &dv)) == KM_OK) {
			float f = (float)dv;
			memcpy(base + d->off, &f, sizeof f);
		}
		break;
	case V_U8:
	case V_U16:
	case V_U32:
	case V_U64:
		if ((rc = parse_uint(p, key, val, d->lo, d->hi, &uv)) == KM_OK) {
			if (d->type == V_U8) {
				uint8_t v8 = (uint8_t)uv;
				memcpy(base + d->off, &v8, 1);
			} else if (d->type == V_U16) {
				uint16_t v16 = (uint16_t)uv;
				memcpy(base + d->off, &v16, 2);
			} else if (d->type == V_U32) {
				uint32_t v32 = (uint32_t)uv;
				memcpy(base + d->off, &v32, 4);
			} else {
				memcpy(base + d->off, &uv, 8);
			}
		}
		break;
	case V_BOOL:
		if ((rc = parse_bool(p, key, val, &bv)) == KM_OK)
			memcpy(base + d->off, &bv, sizeof bv);
		break;
	case V_TEXT:
		if (!strcmp(key, "description") && p->desc && p->desc_cap > 0)
			snprintf(p->desc, p->desc_cap, "%s", val);
		break;
	case V_SPECIAL:
		rc = special(p, key, val);
		break;
	}
	return rc;
}

struct check_capture {
	struct km_log orig;
	char msg[256];
};

static void capture_log(void *user, enum km_log_level level, const char *module, const char *msg)
{
	struct check_capture *c = user;
	snprintf(c->msg, sizeof c->msg, "%s", msg);
	if (c->orig.fn && level <= c->orig.max_level)
		c->orig.fn(c->orig.user, level, module, msg);
}

static int parse_text(const char *text, size_t len, const char *name, struct km_sim_config *cfg,
                      char *err, size_t err_cap, char *desc, size_t desc_cap)
{
	if (err && err_cap > 0)
		err[0] = '\0';
	if (desc && desc_cap > 0)
		desc[0] = '\0';
	if (!text || !cfg)
		return KM_ERR_INVALID_ARG;
	struct km_log log = cfg->log;
	*cfg = km_sim_config_default();
	cfg->log = log;
	struct parser p;
	memset(&p, 0, sizeof p);
	p.name = name ? name : "<scenario>";
	p.err = err;
	p.err_cap = err_cap;
	p.log = &cfg->log;
	p.cfg = cfg;
	p.desc = desc;
	p.desc_cap = desc_cap;
	char line[1024];
	size_t pos = 0;
	while (pos < len) {
		size_t end = pos;
		while (end < len && text[end] != '\n')
			end++;
		p.line++;
		size_t n = end - pos;
		if (n >= sizeof line)
			return fail(&p, NULL, "line longer than %zu characters", sizeof line - 1);
		memcpy(line, text + pos, n);
		line[n] = '\0';
		if (memchr(line, '\0', n))
			return fail(&p, NULL, "NUL byte in the file");
		int rc = parse_line(&p, line);
		if (rc != KM_OK)
			return rc;
		pos = end + 1;
	}
	int rc = end_section(&p);
	if (rc != KM_OK)
		return rc;
	if (!p.seen[SEC_MAT])
		return fail(&p, NULL, "missing section [mat]");
	if (!cfg->body && cfg->tool == KM_SIM_TOOL_NONE)
		return fail(&p, NULL, "nothing touches the mat: give a [body] or a [tool]");
	/* run the check with a log that also keeps its message for err */
	struct check_capture cap = {cfg->log, ""};
	struct km_log saved = cfg->log;
	cfg->log.fn = capture_log;
	cfg->log.user = &cap;
	cfg->log.max_level = KM_LOG_ERROR;
	rc = km_sim_config_check(cfg);
	cfg->log = saved;
	if (rc != KM_OK && err && err_cap > 0)
		snprintf(err, err_cap, "%s: %s", p.name, cap.msg[0] ? cap.msg : km_strerror(rc));
	return rc;
}

int km_sim_scenario_parse(const char *text, size_t len, const char *name, struct km_sim_config *cfg,
                          char *err, size_t err_cap)
{
	return parse_text(text, len, name, cfg, err, err_cap, NULL, 0);
}

static int read_file(const char *path, char **text, size_t *len, char *err, size_t err_cap)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		int e = errno;
		if (err && err_cap > 0)
			snprintf(err, err_cap, "%s: %s", path, strerror(e));
		return e == ENOENT ? KM_ERR_NOT_FOUND : km__error_from_errno(e);
	}
	char *buf = km__malloc(MAX_SCENARIO_BYTES + 1);
	if (!buf) {
		fclose(f);
		return KM_ERR_NO_MEMORY;
	}
	size_t n = fread(buf, 1, MAX_SCENARIO_BYTES + 1, f);
	bool bad = ferror(f) != 0;
	fclose(f);
	if (bad || n > MAX_SCENARIO_BYTES) {
		if (err && err_cap > 0)
			snprintf(err, err_cap, "%s: %s", path,
			         bad ? "read error" : "larger than 1 MiB");
		km__free(buf);
		return bad ? KM_ERR_IO : KM_ERR_RANGE;
	}
	buf[n] = '\0';
	*text = buf;
	*len = n;
	return KM_OK;
}

int km_sim_scenario_load(const char *path, struct km_sim_config *cfg, char *err, size_t err_cap)
{
	if (err && err_cap > 0)
		err[0] = '\0';
	if (!path || !cfg)
		return KM_ERR_INVALID_ARG;
	char *text = NULL;
	size_t len = 0;
	int rc = read_file(path, &text, &len, err, err_cap);
	if (rc != KM_OK) {
		km__log(&cfg->log, KM_LOG_ERROR, KM_SIM_MODULE, "%s: cannot read: %s", path,
		        km_strerror(rc));
		return rc;
	}
	rc = parse_text(text, len, path, cfg, err, err_cap, NULL, 0);
	km__free(text);
	return rc;
}

int km_sim_scenario_describe(const char *path, char *buf, size_t cap)
{
	if (!path || !buf || cap == 0)
		return KM_ERR_INVALID_ARG;
	buf[0] = '\0';
	char *text = NULL;
	size_t len = 0;
	int rc = read_file(path, &text, &len, NULL, 0);
	if (rc != KM_OK)
		return rc;
	struct km_sim_config cfg;
	memset(&cfg, 0, sizeof cfg);
	rc = parse_text(text, len, path, &cfg, NULL, 0, buf, cap);
	km__free(text);
	return rc;
}

static bool is_dir(const char *path)
{
	struct stat st;
	return path && *path && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool is_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int candidate_dirs(const char **dirs)
{
	int n = 0;
	dirs[n++] = getenv("KNOTMAP_SCENARIO_DIR");
#ifdef KM_SIM_SOURCE_SCENARIO_DIR
	dirs[n++] = KM_SIM_SOURCE_SCENARIO_DIR;
#endif
#ifdef KM_SIM_INSTALL_SCENARIO_DIR
	dirs[n++] = KM_SIM_INSTALL_SCENARIO_DIR;
#endif
	return n;
}

int km_sim_scenario_dir(char *path, size_t cap)
{
	if (!path || cap == 0)
		return KM_ERR_INVALID_ARG;
	const char *dirs[3];
	int n = candidate_dirs(dirs);
	for (int i = 0; i < n; i++) {
		if (!is_dir(dirs[i]))
			continue;
		if ((size_t)snprintf(path, cap, "%s", dirs[i]) >= cap)
			return KM_ERR_OVERFLOW;
		return KM_OK;
	}
	path[0] = '\0';
	return KM_ERR_NOT_FOUND;
}

int km_sim_scenario_find(const char *name, char *path, size_t cap)
{
	if (!name || !path || cap == 0 || *name == '\0')
		return KM_ERR_INVALID_ARG;
	path[0] = '\0';
	if (strchr(name, '/')) {
		if (!is_file(name))
			return KM_ERR_NOT_FOUND;
		if ((size_t)snprintf(path, cap, "%s", name) >= cap)
			return KM_ERR_OVERFLOW;
		return KM_OK;
	}
	if (strstr(name, "..") || name[0] == '.')
		return KM_ERR_INVALID_ARG;
	size_t nl = strlen(name);
	bool has_ext = nl > 4 && !strcmp(name + nl - 4, ".ini");
	const char *dirs[3];
	int n = candidate_dirs(dirs);
	char buf[4096];
	for (int i = 0; i < n; i++) {
		if (!is_dir(dirs[i]))
			continue;
		int w = snprintf(buf, sizeof buf, "%s/%s%s", dirs[i], name, has_ext ? "" : ".ini");
		if (w < 0 || (size_t)w >= sizeof buf || !is_file(buf))
			continue;
		if ((size_t)w >= cap)
			return KM_ERR_OVERFLOW;
		memcpy(path, buf, (size_t)w + 1);
		return KM_OK;
	}
	return KM_ERR_NOT_FOUND;
}
