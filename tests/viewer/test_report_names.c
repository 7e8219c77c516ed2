/* The PNG report names a session's spots as the viewer did (issue 20): the
 * viewer's letters ("spot B") follow the announced knots (first free letter
 * at KNOT_FOUND, back at KNOT_LOST), and the report applies the same rule to
 * the recorded events, in the order of the session summary (what the JSON
 * summary and `knotmap analyze` list). A virtual-mat session runs through the
 * viewer's pipeline glue into a recording, as the R key records it; the
 * report and the summary are then made from the file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../session/src/model.h"
#include "../../session/src/report.h"
#include "knotmap/export.h"
#include "vt_session.h"

struct run {
	char found[64][KM_VIEW_NAME_MAX]; /* the viewer's name at each KNOT_FOUND */
	size_t n_found;
};

static void on_event(struct vt_session *ss, const struct km_event *ev)
{
	struct run *r = ss->user;
	if (ev->type == KM_EVENT_KNOT_FOUND && r->n_found < 64)
		km__vpipe_event_name(ss->vp, ev, r->found[r->n_found++], KM_VIEW_NAME_MAX);
}

/* The knots' track ids in the JSON summary, in its order. */
static size_t json_knot_tracks(const char *path, uint32_t *ids, size_t cap)
{
	FILE *fp = fopen(path, "rb");
	cr_assert_not_null(fp);
	static char buf[1 << 20];
	size_t n = fread(buf, 1, sizeof buf - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	char *p = strstr(buf, "\"knots\": [");
	char *end = p ? strstr(p, "\"holds\":") : NULL;
	cr_assert(p && end);
	size_t k = 0;
	while ((p = strstr(p, "\"track_id\": ")) && p < end && k < cap) {
		p += 12;
		ids[k++] = (uint32_t)strtoul(p, &p, 10);
	}
	return k;
}

Test(report_names, the_report_names_the_spots_as_the_viewer_and_summary, .timeout = 240)
{
	char dir[] = "/tmp/km-repnames-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	char rec_path[96], json_path[96], png_path[96];
	snprintf(rec_path, sizeof rec_path, "%s/s.kmrec", dir);
	snprintf(json_path, sizeof json_path, "%s/s.json", dir);
	snprintf(png_path, sizeof png_path, "%s/s.png", dir);

	struct run run;
	memset(&run, 0, sizeof run);
	struct vt_session ss = {.scenario = "tennis-ball-trapezius", .seconds = 90.0,
	                        .path = rec_path, .on_event = on_event, .user = &run};
	vt_session_run(&ss);
	cr_assert_geq(run.n_found, 2u, "the session found fewer than two spots");

	/* the report's names, from the file */
	struct km_rec_reader_config rc = km_rec_reader_config_default();
	rc.path = rec_path;
	km_rec_reader *r = NULL;
	cr_assert_eq(km_rec_reader_create(&rc, &r), KM_OK);
	struct km_export_config ec = km_export_config_default();
	ec.path = png_path;
	ec.format = KM_EXPORT_PNG;
	struct km__model m;
	km__model_init(&m);
	cr_assert_eq(km__model_build(&ec, r, &m, false), KM_OK);
	cr_assert_eq(m.summary.n_knots, run.n_found, "the summary has the viewer's spots");
	int letter[64];
	km__report_spot_letters(&m.summary, letter);
	size_t lettered = 0;
	for (size_t i = 0; i < m.summary.n_knots; i++) {
		char name[16];
		km__report_spot_name(letter[i], name, sizeof name);
		if (getenv("KM_TEST_VERBOSE"))
			printf("knot %zu #%u: viewer '%s', report '%s'\n", i,
			       m.summary.knots[i].track_id, run.found[i], name);
		/* the viewer names a spot by body region when it knows the body */
		if (strncmp(run.found[i], "spot", 4))
			continue;
		cr_assert_str_eq(name, run.found[i], "spot %zu: the report says '%s', the viewer '%s'",
		                 i, name, run.found[i]);
		lettered++;
	}
	cr_assert_geq(lettered, 2u, "fewer than two spots named by letter: nothing compared");
	/* letters come back: more knots than distinct letters over a session
	 * is fine, two live knots never share one */
	for (size_t i = 0; i < m.summary.n_knots; i++)
		for (size_t j = 0; j < i; j++)
			if (letter[i] == letter[j] && letter[i] >= 0)
				cr_assert(m.summary.knots[j].lost_us &&
				              m.summary.knots[j].lost_us < m.summary.knots[i].found_us,
				          "spots %zu and %zu share a letter while both live", j, i);

	/* the JSON summary lists the same spots in the same order */
	ec.path = json_path;
	ec.format = KM_EXPORT_JSON;
	cr_assert_eq(km_export_recording(&ec, r), KM_OK);
	uint32_t ids[64];
	size_t n_ids = json_knot_tracks(json_path, ids, 64);
	cr_assert_eq(n_ids, m.summary.n_knots);
	for (size_t i = 0; i < n_ids; i++)
		cr_assert_eq(ids[i], m.summary.knots[i].track_id, "knot %zu", i);
	/* and the PNG report is drawn with them */
	ec.path = png_path;
	ec.format = KM_EXPORT_PNG;
	cr_assert_eq(km_export_recording(&ec, r), KM_OK);
	cr_assert_eq(access(png_path, R_OK), 0);
	if (getenv("KM_TEST_SHOT")) { /* a copy to look at */
		char cp[512];
		snprintf(cp, sizeof cp, "cp '%s' '%s'", png_path, getenv("KM_TEST_SHOT"));
		cr_assert_eq(system(cp), 0);
	}
	km__model_free(&m);
	km_rec_reader_destroy(r);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}
