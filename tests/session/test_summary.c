/* The one events -> knots and holds fold (knotmap/summary.h). */
#include <criterion/criterion.h>
#include <string.h>

#include "knotmap/summary.h"

static struct km_event ev(enum km_event_type type, uint32_t track, uint64_t t_us)
{
	struct km_event e;
	memset(&e, 0, sizeof e);
	e.type = type;
	e.track_id = track;
	e.time_us = t_us;
	e.x_mm = (float)track * 10.0f;
	e.y_mm = 5.0f;
	return e;
}

/* Folds one knot event (reason NONE unless given) into s. */
static void feed(struct km_summary *s, enum km_event_type type, uint32_t track, uint64_t t_us,
                 enum km_event_reason reason)
{
	struct km_event e = ev(type, track, t_us);
	e.reason = reason;
	cr_assert_eq(km_summary_add(s, &e, NULL), KM_OK);
}

Test(summary, knots_and_holds_with_outcomes)
{
	struct km_summary s;
	km_summary_init(&s);
	const struct km_summary_hold *h = NULL;
	struct km_event e = ev(KM_EVENT_KNOT_FOUND, 1, 1000);
	e.load_kpa = 12.0f;
	cr_assert_eq(km_summary_add(&s, &e, &h), KM_OK);
	cr_assert_null(h);
	e = ev(KM_EVENT_KNOT_FOUND, 2, 2000);
	km_summary_add(&s, &e, NULL);
	e = ev(KM_EVENT_HOLD_STARTED, 1, 3000000);
	e.hold_index = 1;
	km_summary_add(&s, &e, &h);
	cr_assert_not_null(h);
	cr_assert(h->open);
	cr_assert_eq(km_summary_open_hold(&s, 1), h);
	cr_assert_null(km_summary_open_hold(&s, 2));
	e = ev(KM_EVENT_RELEASED, 1, 4000000);
	km_summary_add(&s, &e, &h);
	cr_assert_eq(h->outcome, KM_OUTCOME_RELEASED);
	e = ev(KM_EVENT_HOLD_STOPPED, 1, 9000000);
	e.reason = KM_REASON_UNLOADED;
	e.held_s = 5.5f;
	e.load_kpa = 30.0f;
	e.dose_kpa_s = 165.0f;
	e.stiffness_pct = -16.0f;
	km_summary_add(&s, &e, &h);
	cr_assert_not_null(h);
	cr_assert_not(h->open);
	cr_assert_eq(h->end_us, 9000000u);
	cr_assert_eq(h->held_s, 5.5f);
	cr_assert_eq(h->dose_kpa_s, 165.0f);
	cr_assert_eq(h->reason, KM_REASON_UNLOADED);
	/* a second hold on track 2 stiffens; its stop has no timer seconds:
	 * the wall time of the hold stands in */
	e = ev(KM_EVENT_HOLD_STARTED, 2, 10000000);
	km_summary_add(&s, &e, NULL);
	e = ev(KM_EVENT_STIFFENED, 2, 11000000);
	km_summary_add(&s, &e, NULL);
	e = ev(KM_EVENT_HOLD_STOPPED, 2, 12500000);
	km_summary_add(&s, &e, &h);
	cr_assert_eq(h->outcome, KM_OUTCOME_STIFFENED);
	cr_assert_float_eq(h->held_s, 2.5f, 1e-6f);
	/* events on a track with no open hold change nothing */
	e = ev(KM_EVENT_RELEASED, 3, 13000000);
	km_summary_add(&s, &e, &h);
	cr_assert_null(h);
	e = ev(KM_EVENT_HOLD_STOPPED, 3, 13000000);
	km_summary_add(&s, &e, &h);
	cr_assert_null(h);
	e = ev(KM_EVENT_KNOT_LOST, 2, 14000000);
	km_summary_add(&s, &e, NULL);
	e = ev((enum km_event_type)200, 2, 15000000);
	km_summary_add(&s, &e, NULL);

	cr_assert_eq(s.n_knots, 2);
	cr_assert_eq(s.knots[0].load_kpa, 12.0f);
	cr_assert_eq(s.knots[0].lost_us, 0u);
	cr_assert_eq(s.knots[1].lost_us, 14000000u);
	cr_assert_eq(s.n_holds, 2);
	cr_assert_eq(s.holds[0].outcome, KM_OUTCOME_RELEASED);
	cr_assert_eq(s.events, 12);
	cr_assert_eq(s.by_type[KM_EVENT_HOLD_STOPPED], 3);
	cr_assert_eq(s.unknown_types, 1);
	km_summary_free(&s);
	cr_assert_eq(s.n_holds, 0);
	cr_assert_eq(km_summary_add(NULL, &e, NULL), KM_ERR_INVALID_ARG);
}

Test(summary, outcome_names)
{
	cr_assert_str_eq(km_outcome_name(KM_OUTCOME_STOPPED), "stopped");
	cr_assert_str_eq(km_outcome_name(KM_OUTCOME_RELEASED), "released");
	cr_assert_str_eq(km_outcome_name(KM_OUTCOME_STIFFENED), "stiffened");
	cr_assert_str_eq(km_outcome_name((enum km_outcome)9), "unknown");
	enum km_outcome o;
	cr_assert_eq(km_outcome_parse("stiffened", &o), KM_OK);
	cr_assert_eq(o, KM_OUTCOME_STIFFENED);
	cr_assert_eq(km_outcome_parse("gone", &o), KM_ERR_INVALID_ARG);
}

/* A hold still running when the session ends counts with its timed seconds
 * so far (17 s held must not read "longest 0 s"). */
Test(summary, open_hold_counts_its_length_so_far)
{
	struct km_summary s;
	km_summary_init(&s);
	struct km_event e = ev(KM_EVENT_HOLD_STARTED, 3, 1000000);
	km_summary_add(&s, &e, NULL);
	e = ev(KM_EVENT_HOLD_PAUSED, 3, 9000000);
	e.held_s = 8.0f;
	km_summary_add(&s, &e, NULL);
	e = ev(KM_EVENT_HOLD_RESUMED, 3, 11000000);
	e.held_s = 8.0f;
	km_summary_add(&s, &e, NULL);
	e = ev(KM_EVENT_STIFFNESS, 3, 20000000);
	e.held_s = 17.0f;
	e.dose_kpa_s = 510.0f;
	km_summary_add(&s, &e, NULL);
	/* an event of another track does not move it */
	e = ev(KM_EVENT_STIFFNESS, 4, 20500000);
	e.held_s = 99.0f;
	km_summary_add(&s, &e, NULL);
	cr_assert_eq(s.n_holds, 1u);
	cr_assert_float_eq(s.holds[0].held_s, 17.0f, 1e-6);
	km_summary_finish(&s, 21000000);
	cr_assert(s.holds[0].open, "still unfinished");
	cr_assert_eq(s.holds[0].end_us, 21000000u);
	cr_assert_float_eq(s.holds[0].held_s, 17.0f, 1e-6, "timed seconds, pauses excluded");
	cr_assert_float_eq(s.holds[0].dose_kpa_s, 510.0f, 1e-3);

	/* no timed event at all: the wall time from its start */
	e = ev(KM_EVENT_HOLD_STARTED, 5, 30000000);
	km_summary_add(&s, &e, NULL);
	km_summary_finish(&s, 36500000);
	cr_assert_float_eq(s.holds[1].held_s, 6.5f, 1e-6);
	km_summary_finish(NULL, 0);
	km_summary_free(&s);
}

/* The knots' letters come back at KNOT_LOST (the viewer's rule), and a
 * knot's label carries its body name with the letter as a tag (issue 20). */
Test(summary, knot_letters_and_labels)
{
	struct km_summary s;
	km_summary_init(&s);
	feed(&s, KM_EVENT_KNOT_FOUND, 1, 1000000, KM_REASON_NONE);
	feed(&s, KM_EVENT_KNOT_FOUND, 2, 2000000, KM_REASON_NONE);
	feed(&s, KM_EVENT_KNOT_LOST, 1, 3000000, KM_REASON_LOST);
	feed(&s, KM_EVENT_KNOT_FOUND, 3, 4000000, KM_REASON_NONE); /* A is free again */
	feed(&s, KM_EVENT_KNOT_FOUND, 4, 5000000, KM_REASON_NONE); /* A and B taken: C */
	cr_assert_eq(s.n_knots, 4u);
	int letter[4];
	km_summary_knot_letters(&s, letter);
	cr_expect_eq(letter[0], 0);
	cr_expect_eq(letter[1], 1);
	cr_expect_eq(letter[2], 0);
	cr_expect_eq(letter[3], 2);
	char buf[40];
	cr_expect_eq(km_summary_knot_label(1, "left upper back", buf, sizeof buf), 18u);
	cr_expect_str_eq(buf, "B: left upper back");
	km_summary_knot_label(1, "", buf, sizeof buf);
	cr_expect_str_eq(buf, "spot B", "no body name: the letter, as the viewer says it");
	km_summary_knot_label(2, NULL, buf, sizeof buf);
	cr_expect_str_eq(buf, "spot C");
	km_summary_knot_label(-1, "right thigh", buf, sizeof buf);
	cr_expect_str_eq(buf, "right thigh", "past Z: the body name alone");
	km_summary_knot_label(-1, NULL, buf, sizeof buf);
	cr_expect_str_eq(buf, "spot");
	char small[4];
	km_summary_knot_label(0, "left upper back", small, sizeof small);
	cr_expect_str_eq(small, "A: ", "always terminated");
	cr_expect_eq(km_summary_knot_label(0, "x", NULL, 0), 4u, "the length it needs");
	km_summary_free(&s);
}

/* A knot lost and found again (KNOT_FOUND, reason AGAIN) is one entry,
 * open again and still dated from its first finding; its letter is the one
 * the viewer gives it on its return (the first free then: its old A went to
 * a knot found while it was gone). */
Test(summary, a_knot_back_is_one_entry)
{
	struct km_summary s;
	km_summary_init(&s);
	feed(&s, KM_EVENT_KNOT_FOUND, 7, 1000000, KM_REASON_NONE);
	feed(&s, KM_EVENT_KNOT_LOST, 7, 20000000, KM_REASON_LOST);
	cr_assert_eq(s.knots[0].lost_us, 20000000u);
	feed(&s, KM_EVENT_KNOT_FOUND, 8, 25000000, KM_REASON_NONE);
	feed(&s, KM_EVENT_KNOT_FOUND, 7, 35000000, KM_REASON_AGAIN);
	cr_assert_eq(s.n_knots, 2, "knot 7 once, knot 8");
	cr_expect_eq(s.knots[0].found_us, 1000000u);
	cr_expect_eq(s.knots[0].lost_us, 0u, "open again");
	cr_expect_eq(s.knots[0].gone_us, 20000000u);
	cr_expect_eq(s.knots[0].back_us, 35000000u);
	int letter[2];
	km_summary_knot_letters(&s, letter);
	cr_expect_eq(letter[1], 0, "knot 8 took the A knot 7 gave back");
	cr_expect_eq(letter[0], 1, "knot 7 came back to B");
	cr_assert_eq(s.n_gaps, 1u);
	cr_expect_eq(s.gaps[0].knot, 0u);
	km_summary_free(&s);
	/* without the return: knot 7 keeps A, lost before knot 8 took it */
	km_summary_init(&s);
	feed(&s, KM_EVENT_KNOT_FOUND, 7, 1000000, KM_REASON_NONE);
	feed(&s, KM_EVENT_KNOT_LOST, 7, 20000000, KM_REASON_LOST);
	feed(&s, KM_EVENT_KNOT_FOUND, 8, 25000000, KM_REASON_NONE);
	km_summary_knot_letters(&s, letter);
	cr_expect_eq(letter[0], 0);
	cr_expect_eq(letter[1], 0);
	km_summary_free(&s);
}

/* A knot lost and back twice: both returns replay, as the viewer gives the
 * letters (comments below). Keeping only the last gap, knot 1 held A through
 * its first absence: knot 2 got B, knot 4 C and knot 1 B at the end. */
Test(summary, every_return_of_a_knot_replays_its_letters)
{
	struct km_summary s;
	km_summary_init(&s);
	feed(&s, KM_EVENT_KNOT_FOUND, 1, 1000000, KM_REASON_NONE);  /* 1: A */
	feed(&s, KM_EVENT_KNOT_LOST, 1, 2000000, KM_REASON_LOST);   /* A free */
	feed(&s, KM_EVENT_KNOT_FOUND, 2, 3000000, KM_REASON_NONE);  /* 2: A */
	feed(&s, KM_EVENT_KNOT_FOUND, 4, 3500000, KM_REASON_NONE);  /* 4: B */
	feed(&s, KM_EVENT_KNOT_FOUND, 1, 4000000, KM_REASON_AGAIN); /* 1: C */
	feed(&s, KM_EVENT_KNOT_LOST, 2, 5000000, KM_REASON_LOST);   /* A free */
	feed(&s, KM_EVENT_KNOT_LOST, 1, 6000000, KM_REASON_LOST);   /* C free */
	feed(&s, KM_EVENT_KNOT_FOUND, 3, 7000000, KM_REASON_NONE);  /* 3: A */
	feed(&s, KM_EVENT_KNOT_FOUND, 1, 8000000, KM_REASON_AGAIN); /* 1: C */
	cr_assert_eq(s.n_knots, 4u, "knots 1, 2, 4, 3");
	cr_assert_eq(s.n_gaps, 2u);
	cr_expect_eq(s.knots[0].gone_us, 6000000u, "the last gap");
	cr_expect_eq(s.knots[0].back_us, 8000000u);
	int letter[4];
	km_summary_knot_letters(&s, letter);
	cr_expect_eq(letter[1], 0, "knot 2: A");
	cr_expect_eq(letter[2], 1, "knot 4: B");
	cr_expect_eq(letter[3], 0, "knot 3: A, free again");
	cr_expect_eq(letter[0], 2, "knot 1: C at each return (B is knot 4's): %d", letter[0]);
	km_summary_free(&s);
}
