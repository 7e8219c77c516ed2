/* `knotmap export` names a session's knots as the viewer did (issue 20): a
 * knot the viewer named by body region and side at its KNOT_FOUND ("left
 * upper back") is that in the JSON summary's "body" and "A: left upper back"
 * in its "name" (the report's legend), and a knot the viewer named by
 * letter ("spot B") stays "spot B" there. A supine virtual-mat session runs
 * through the viewer's pipeline glue into a recording, as the R key records
 * it; the knotmap command then exports the file, which holds no body model:
 * the names come from the export running the recording's frames through the
 * dsp again. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "knotmap/body.h"
#include "vt_session.h"

struct run {
	struct {
		uint32_t track_id;
		uint64_t time_us;
		char name[KM_VIEW_NAME_MAX]; /* the viewer's name at the KNOT_FOUND */
		bool lost;
	} found[64];
	size_t n_found;
	size_t markers_checked;
	/* after the legs are lifted (the second test) */
	size_t after, renamed_by_body;
};

static void on_event(struct vt_session *ss, const struct km_event *ev)
{
	struct run *r = ss->user;
	if (ev->type == KM_EVENT_KNOT_LOST)
		for (size_t i = 0; i < r->n_found; i++)
			if (r->found[i].track_id == ev->track_id)
				r->found[i].lost = true;
	if (ev->type == KM_EVENT_KNOT_FOUND && r->n_found < 64) {
		r->found[r->n_found].track_id = ev->track_id;
		r->found[r->n_found].time_us = ev->time_us;
		km__vpipe_event_name(ss->vp, ev, r->found[r->n_found].name, KM_VIEW_NAME_MAX);
		r->n_found++;
	}
}

/* A knot's marker says the name it got at its KNOT_FOUND, all its life (the
 * report's), however the body model settles. */
static void check_markers(struct vt_session *ss, const struct km_view_snapshot *s, double t_s)
{
	struct run *run = ss->user;
	(void)t_s;
	for (size_t m = 0; m < s->n_markers; m++)
		for (size_t i = 0; i < run->n_found; i++)
			if (s->markers[m].track_id == run->found[i].track_id && !run->found[i].lost) {
				cr_assert_str_eq(s->markers[m].name, run->found[i].name,
				                 "knot #%u's marker", (unsigned)s->markers[m].track_id);
				run->markers_checked++;
			}
}

static char *slurp(const char *path)
{
	FILE *fp = fopen(path, "rb");
	cr_assert_not_null(fp, "%s", path);
	static char buf[1 << 20];
	size_t n = fread(buf, 1, sizeof buf - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	return buf;
}

/* The JSON summary's knot (track, time), its "name" and "body" ("" for
 * null); false when it is not listed. */
static bool json_knot(const char *json, uint32_t track, uint64_t time_us, char *name,
                      char *body, size_t cap)
{
	char key[96];
	snprintf(key, sizeof key, "\"track_id\": %u,", (unsigned)track);
	char at[48];
	snprintf(at, sizeof at, "\"time_us\": %llu,", (unsigned long long)time_us);
	const char *knots = strstr(json, "\"knots\": [");
	const char *end = knots ? strstr(knots, "\"holds\":") : NULL;
	cr_assert(knots && end);
	for (const char *p = knots; (p = strstr(p, key)) && p < end; p++) {
		const char *close = strchr(p, '}');
		const char *t = strstr(p, at);
		if (!t || t > close)
			continue;
		const char *nm = strstr(t, "\"name\": \"");
		cr_assert(nm && nm < close, "knot #%u has no name", (unsigned)track);
		nm += 9;
		size_t len = strcspn(nm, "\"");
		cr_assert_lt(len, cap);
		memcpy(name, nm, len);
		name[len] = '\0';
		const char *bd = strstr(t, "\"body\": ");
		cr_assert(bd && bd < close, "knot #%u has no body field", (unsigned)track);
		bd += 8;
		body[0] = '\0';
		if (*bd == '"') {
			len = strcspn(bd + 1, "\"");
			cr_assert_lt(len, cap);
			memcpy(body, bd + 1, len);
			body[len] = '\0';
		} else {
			cr_assert_eq(strncmp(bd, "null", 4), 0);
		}
		return true;
	}
	return false;
}

Test(export_names, the_export_names_knots_by_body_as_the_viewer, .timeout = 300)
{
	const char *bin = getenv("KM_KNOTMAP");
	cr_assert_not_null(bin, "KM_KNOTMAP (the knotmap command) is not set");
	char dir[] = "/tmp/km-expnames-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	char rec_path[96], json_path[96], png_path[96];
	snprintf(rec_path, sizeof rec_path, "%s/s.kmrec", dir);
	snprintf(json_path, sizeof json_path, "%s/s.json", dir);
	snprintf(png_path, sizeof png_path, "%s/s.png", dir);
	static struct run run;
	struct vt_session ss = {.scenario = "back-lying", .seconds = 25.0, .path = rec_path,
	                        .on_event = on_event, .after = check_markers, .user = &run};
	vt_session_run(&ss);
	cr_assert_geq(run.n_found, 1u, "the supine session found no spot");
	cr_assert_gt(run.markers_checked, 100u, "the knots' markers were hardly seen");

	char cmd[512];
	snprintf(cmd, sizeof cmd, "'%s' export '%s' -o '%s' > /dev/null 2>&1", bin, rec_path,
	         json_path);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
	const char *json = slurp(json_path);
	size_t by_body = 0;
	for (size_t i = 0; i < run.n_found; i++) {
		const char *viewer = run.found[i].name;
		char name[64], body[64];
		cr_assert(json_knot(json, run.found[i].track_id, run.found[i].time_us, name, body,
		                    sizeof name),
		          "the viewer's knot #%u at %llu us is not in the summary",
		          (unsigned)run.found[i].track_id, (unsigned long long)run.found[i].time_us);
		if (getenv("KM_TEST_VERBOSE"))
			printf("knot #%u: viewer '%s', export '%s' (body '%s')\n",
			       (unsigned)run.found[i].track_id, viewer, name, body);
		if (!strncmp(viewer, "spot", 4)) {
			/* named by letter on screen: by letter in the summary */
			cr_assert_str_eq(body, "", "the viewer said '%s', the export '%s'", viewer, body);
			cr_assert_str_eq(name, viewer);
			continue;
		}
		cr_assert_str_eq(body, viewer, "knot #%u: the viewer said '%s', the export '%s'",
		                 (unsigned)run.found[i].track_id, viewer, body);
		/* the letter kept as a short tag: "A: left upper back" */
		cr_assert(name[0] >= 'A' && name[0] <= 'Z' && name[1] == ':' && name[2] == ' ' &&
		              !strcmp(name + 3, viewer),
		          "the name '%s' is not the letter and '%s'", name, viewer);
		by_body++;
	}
	cr_assert_geq(by_body, 1u, "no knot named by body region: nothing compared");
	/* a side and a region, in words ("left upper back") */
	bool sided = false;
	for (size_t i = 0; i < run.n_found; i++)
		sided |= !strncmp(run.found[i].name, "left ", 5) ||
		         !strncmp(run.found[i].name, "right ", 6);
	cr_assert(sided, "no knot of the supine session was given a side");

	/* the PNG report is drawn with the same names */
	snprintf(cmd, sizeof cmd, "'%s' export '%s' -o '%s' --no-history > /dev/null 2>&1", bin,
	         rec_path, png_path);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
	cr_assert_eq(access(png_path, R_OK), 0);
	if (getenv("KM_TEST_SHOT")) { /* a copy to look at */
		snprintf(cmd, sizeof cmd, "cp '%s' '%s'", png_path, getenv("KM_TEST_SHOT"));
		cr_assert_eq(system(cmd), 0);
	}
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

/* A knot keeps its name when the body model moves under it: the supine
 * person lifts the legs off the mat (the contact's length drops from the
 * vertex-to-heels to the vertex-to-pelvis, so the regions, proportions of
 * that length, shift along the back). The marker of a knot found on the
 * "left upper back" still says so: the name the messages gave it and the
 * report and the summary print (knotmap/summary.h). */
/* The legs off the mat after 15 s: rows below the pelvis unloaded. */
static void lift_legs(struct vt_session *ss, struct km_frame *f, double t_s)
{
	(void)ss;
	if (t_s > 15.0)
		for (unsigned r = (unsigned)(1000.0f / f->pitch_mm); r < f->rows; r++)
			memset(&f->kpa[(size_t)r * f->cols], 0, f->cols * sizeof(float));
}

/* After the lift, each knot's marker keeps its name where the body model
 * would now name the spot otherwise. */
static void check_after_lift(struct vt_session *ss, const struct km_view_snapshot *s, double t)
{
	struct run *run = ss->user;
	if (t <= 15.0)
		return;
	const struct km_body_model *body = km__vpipe_body(ss->vp);
	for (size_t m = 0; m < s->n_markers; m++)
		for (size_t i = 0; i < run->n_found; i++) {
			if (s->markers[m].track_id != run->found[i].track_id || run->found[i].lost)
				continue;
			char now[KM_BODY_NAME_MAX];
			if (km_body_spot_name(body, s->markers[m].x_mm, s->markers[m].y_mm, now,
			                      sizeof now) &&
			    strcmp(now, run->found[i].name))
				run->renamed_by_body++;
			if (getenv("KM_TEST_VERBOSE") && run->after % 200 == 0)
				printf("%.1f s #%u: marker '%s', found '%s', body now '%s'\n", t,
				       (unsigned)s->markers[m].track_id, s->markers[m].name,
				       run->found[i].name, now);
			cr_assert_str_eq(s->markers[m].name, run->found[i].name,
			                 "knot #%u's marker at %.1f s", (unsigned)s->markers[m].track_id,
			                 t);
			run->after++;
		}
}

Test(export_names, a_knot_keeps_its_name_when_the_body_moves, .timeout = 300)
{
	char dir[] = "/tmp/km-expnames-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	char rec_path[96];
	snprintf(rec_path, sizeof rec_path, "%s/s.kmrec", dir);
	static struct run run;
	memset(&run, 0, sizeof run);
	struct vt_session ss = {.scenario = "back-lying", .seconds = 30.0, .path = rec_path,
	                        .on_event = on_event, .before = lift_legs,
	                        .after = check_after_lift, .user = &run};
	vt_session_run(&ss);
	cr_assert_geq(run.n_found, 1u);
	cr_assert_gt(run.after, 100u, "the knots' markers were hardly seen after the lift");
	cr_assert_gt(run.renamed_by_body, 0u,
	             "the body model placed no knot elsewhere after the lift: nothing tested");
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}
