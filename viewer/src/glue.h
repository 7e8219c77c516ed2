/* Internal to the viewer: the dsp pipeline behind a small interface (what
 * the processing thread needs of it, in the view model's terms), and the
 * event words for the HUD in one place. */
#ifndef KM_VIEWER_GLUE_H
#define KM_VIEWER_GLUE_H

#include "knotmap/events.h"
#include "knotmap/snapshot.h"

struct km__vpipe;
struct km_pipeline_result;
struct km_body_model;

typedef void (*km__vpipe_event_fn)(void *user, const struct km_event *ev);

/* KM_OK, KM_ERR_INVALID_ARG, KM_ERR_NO_MEMORY, or the pipeline's error. */
int km__vpipe_create(const struct km_frame *shape, float rate_hz, const struct km_log *log,
                     struct km__vpipe **out);
/* The same for a replayed file: row_pitch_mm, col_pitch_mm its oblong cells
 * (0: the frame's pitch); sensor_mask its cells on the sensor (NULL: all;
 * copied). */
int km__vpipe_create_grid(const struct km_frame *shape, float rate_hz, float row_pitch_mm,
                          float col_pitch_mm, const uint8_t *sensor_mask,
                          const struct km_log *log, struct km__vpipe **out);
void km__vpipe_destroy(struct km__vpipe *p);
void km__vpipe_reset(struct km__vpipe *p);
/* Runs one frame; fills the snapshot's markers, hold, outline, centre,
 * tensing; calls fn for each event. */
int km__vpipe_process(struct km__vpipe *p, const struct km_frame *f, struct km_view_snapshot *snap,
                      km__vpipe_event_fn fn, void *user);
/* The last processed frame's pipeline result (events, tracks, outline), or
 * NULL when the last frame was skipped or there is no pipeline. Valid until
 * the next process / reset. */
const struct km_pipeline_result *km__vpipe_result(const struct km__vpipe *p);
/* The body model of the last processed frame (the pipeline's own object,
 * updated before its events), or NULL. */
const struct km_body_model *km__vpipe_body(const struct km__vpipe *p);
/* Whether there is a pipeline for the frames' units (false when the one for
 * raw counts could not be made). */
bool km__vpipe_running(const struct km__vpipe *p);
/* The coarser axis's pitch when the pipeline's cells are coarser than a
 * knot (spots only under a tool: km_pipeline_config_coarse_mm), else 0. */
float km__vpipe_coarse_mm(const struct km__vpipe *p);
/* The user logged numbness / tingling / radiating pain at t_us. */
void km__vpipe_symptoms(struct km__vpipe *p, uint64_t t_us);

/* The short name of an event's spot, as its marker shows it ("left upper
 * back", "spot A"); "" when it has none. Call from the event callback. */
void km__vpipe_event_name(const struct km__vpipe *p, const struct km_event *ev, char *buf,
                          size_t size);

/* Words for an event, the spot called name (NULL or "": "a spot"); 0 when
 * it is not worth a line on screen. */
int km__event_text(const struct km_event *ev, const char *name, char *buf, size_t size,
                   enum km_view_level *level);

#endif
