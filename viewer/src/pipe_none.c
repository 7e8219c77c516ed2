/* Built until dsp/include/knotmap/pipeline.h exists: no tracks, no holds;
 * the viewer still shows the live heatmap and the counters. */
#include "glue.h"

int km__vpipe_create(const struct km_frame *shape, float rate_hz, const struct km_log *log,
                     struct km__vpipe **out)
{
	(void)shape;
	(void)rate_hz;
	(void)log;
	if (out)
		*out = NULL;
	return KM_ERR_UNSUPPORTED;
}

void km__vpipe_destroy(struct km__vpipe *p)
{
	(void)p;
}

void km__vpipe_reset(struct km__vpipe *p)
{
	(void)p;
}

int km__vpipe_process(struct km__vpipe *p, const struct km_frame *f, struct km_view_snapshot *snap,
                      km__vpipe_event_fn fn, void *user)
{
	(void)p;
	(void)f;
	(void)snap;
	(void)fn;
	(void)user;
	return KM_ERR_UNSUPPORTED;
}

void km__vpipe_symptoms(struct km__vpipe *p, uint64_t t_us)
{
	(void)p;
	(void)t_us;
}

const struct km_pipeline_result *km__vpipe_result(const struct km__vpipe *p)
{
	(void)p;
	return NULL;
}

int km_guided_input_from_pipeline(const struct km_pipeline_result *res, float pitch_mm,
                                  struct km_guided_input *in)
{
	(void)res;
	(void)pitch_mm;
	(void)in;
	return KM_ERR_UNSUPPORTED;
}
