/* Every field of struct km_event survives a recording: written through core's
 * one mapping (km_event_to_record, what `record` and the viewer use), stored,
 * read back and mapped back (what `replay` uses), and exported to CSV in the
 * column order docs/kmrec-format.md gives. */
#include "session_test_util.h"

#include <criterion/criterion.h>

#include "knotmap/events.h"
#include "knotmap/export.h"
#include "knotmap/recording.h"

static char *dir;

static void setup(void)
{
	dir = km_test_mkdtemp();
	cr_assert_not_null(dir);
}

static void teardown(void)
{
	km_test_rmdir(dir);
	dir = NULL;
}

TestSuite(events, .init = setup, .fini = teardown);

/* Every field distinct, so a swap of any two shows. */
static struct km_event full_event(uint32_t k)
{
	struct km_event e;
	memset(&e, 0, sizeof e);
	e.type = KM_EVENT_HOLD_STOPPED;
	e.reason = KM_REASON_DRIFT;
	e.track_id = 1000 + k;
	e.knot_id = 2000 + k;
	e.frame_seq = 3000 + k;
	e.hold_index = 4000 + k;
	e.time_us = 5000000000ull + k;
	e.x_mm = 1.25f + (float)k;
	e.y_mm = 2.5f + (float)k;
	e.load_kpa = 3.75f + (float)k;
	e.load_n = 4.125f + (float)k;
	e.held_s = 5.5f + (float)k;
	e.dose_kpa_s = 6.625f + (float)k;
	e.stiffness_pct = -7.875f - (float)k;
	e.value = 8.0625f + (float)k;
	return e;
}

static void assert_same(const struct km_event *a, const struct km_event *b)
{
	cr_assert_eq(a->type, b->type);
	cr_assert_eq(a->reason, b->reason);
	cr_assert_eq(a->track_id, b->track_id);
	cr_assert_eq(a->knot_id, b->knot_id);
	cr_assert_eq(a->frame_seq, b->frame_seq);
	cr_assert_eq(a->hold_index, b->hold_index);
	cr_assert_eq(a->time_us, b->time_us);
	cr_assert_eq(a->x_mm, b->x_mm);
	cr_assert_eq(a->y_mm, b->y_mm);
	cr_assert_eq(a->load_kpa, b->load_kpa);
	cr_assert_eq(a->load_n, b->load_n);
	cr_assert_eq(a->held_s, b->held_s);
	cr_assert_eq(a->dose_kpa_s, b->dose_kpa_s);
	cr_assert_eq(a->stiffness_pct, b->stiffness_pct);
	cr_assert_eq(a->value, b->value);
	/* and nothing the named checks above miss (a field appended later) */
	cr_assert_eq(memcmp(a, b, sizeof *a), 0, "a field of struct km_event is not mapped");
}

Test(events, mapping_covers_every_field)
{
	/* Every byte set: a field added to struct km_event but not to the
	 * mapping comes back as 0 and fails the memcmp. */
	struct km_event e;
	memset(&e, 0x5A, sizeof e);
	e.type = KM_EVENT_STIFFNESS;
	e.reason = KM_REASON_LIMIT;
	struct km_rec_event r;
	km_event_to_record(&e, &r);
	cr_assert_leq(r.n_ints, KM_REC_EVENT_MAX_INTS);
	cr_assert_leq(r.n_values, KM_REC_EVENT_MAX_VALUES);
	struct km_event back;
	km_event_from_record(&r, &back);
	assert_same(&e, &back);
	/* the documented positions */
	e = full_event(0);
	km_event_to_record(&e, &r);
	cr_assert_eq(r.type, KM_EVENT_HOLD_STOPPED);
	cr_assert_eq(r.subtype, KM_REASON_DRIFT);
	cr_assert_eq(r.n_ints, 3);
	cr_assert_eq(r.ints[0], e.knot_id);
	cr_assert_eq(r.ints[1], e.frame_seq);
	cr_assert_eq(r.ints[2], e.hold_index);
	cr_assert_eq(r.n_values, 6);
	cr_assert_eq(r.values[0], e.load_kpa);
	cr_assert_eq(r.values[1], e.load_n);
	cr_assert_eq(r.values[2], e.held_s);
	cr_assert_eq(r.values[3], e.dose_kpa_s);
	cr_assert_eq(r.values[4], e.stiffness_pct);
	cr_assert_eq(r.values[5], e.value);
	/* a shorter record (an older writer) reads with the rest 0 */
	r.n_ints = 1;
	r.n_values = 2;
	km_event_from_record(&r, &back);
	cr_assert_eq(back.knot_id, e.knot_id);
	cr_assert_eq(back.frame_seq, 0);
	cr_assert_eq(back.load_n, e.load_n);
	cr_assert_eq(back.held_s, 0.0f);
}

Test(events, every_field_round_trips_through_a_recording)
{
	char *path = km_test_path(dir, "ev.kmrec");
	struct km_rec_writer_config c = km_rec_writer_config_default();
	c.path = path;
	c.device.rows = 4;
	c.device.cols = 3;
	c.device.pitch_mm = 10.0f;
	c.sync = false;
	km_rec_writer *w = NULL;
	cr_assert_eq(km_rec_writer_create(&c, &w), KM_OK);
	struct km_frame *f = NULL;
	cr_assert_eq(km_frame_create(4, 3, 10.0f, KM_GEOMETRY_FLAT, &f), KM_OK);
	enum { N = 5 };
	for (uint32_t k = 0; k < N; k++) {
		f->sequence = k;
		f->device_time_us = 5000000000ull + k;
		cr_assert_eq(km_rec_writer_write_frame(w, f, NULL, 0), KM_OK);
		struct km_event e = full_event(k);
		struct km_rec_event r;
		km_event_to_record(&e, &r);
		cr_assert_eq(km_rec_writer_write_event(w, &r), KM_OK);
	}
	cr_assert_eq(km_rec_writer_close(w), KM_OK);
	km_rec_writer_destroy(w);
	km_frame_destroy(f);

	struct km_rec_reader_config rc = km_rec_reader_config_default();
	rc.path = path;
	km_rec_reader *rd = NULL;
	cr_assert_eq(km_rec_reader_create(&rc, &rd), KM_OK);
	struct km_rec_item it;
	uint32_t k = 0;
	while (km_rec_reader_next(rd, &it) == KM_OK) {
		if (it.kind != KM_REC_ITEM_EVENT)
			continue;
		struct km_event want = full_event(k), got;
		struct km_rec_event wr;
		km_event_to_record(&want, &wr);
		cr_assert_eq(memcmp(&it.event, &wr, sizeof wr), 0, "record %u changed on disk", k);
		km_event_from_record(&it.event, &got);
		assert_same(&want, &got);
		k++;
	}
	cr_assert_eq(k, N);

	/* The CSV export names the ints and values by their position. */
	char *csv = km_test_path(dir, "ev.csv");
	struct km_export_config ec = km_export_config_default();
	ec.format = KM_EXPORT_CSV_EVENTS;
	ec.path = csv;
	cr_assert_eq(km_export_recording(&ec, rd), KM_OK);
	km_rec_reader_destroy(rd);
	char cmd[4096];
	snprintf(cmd, sizeof cmd,
	         "python3 -c \"import csv,sys; r=list(csv.DictReader(open(sys.argv[1])))[2];"
	         " print(r['name'], r['subtype'], r['track_id'], r['time_us'], r['int0'],"
	         " r['int1'], r['int2'], r['value0'], r['value5'])\" '%s'",
	         csv);
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p);
	char out[512] = "";
	cr_assert_not_null(fgets(out, sizeof out, p));
	cr_assert_eq(pclose(p), 0);
	/* event 2: knot 2002, frame_seq 3002, hold_index 4002 */
	cr_assert_str_eq(out, "HOLD_STOPPED 3 1002 5000000002 2002 3002 4002 5.75 10.0625\n");
	free(csv);
	free(path);
}
