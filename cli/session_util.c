/* Helpers shared by the session commands; see session_util.h. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "session_util.h"

/* The mapping documented in docs/kmrec-format.md ("How knotmap's CLI maps"). */
void km_cli_event_to_rec(const struct km_event *ev, struct km_rec_event *out)
{
	memset(out, 0, sizeof *out);
	out->type = (uint16_t)ev->type;
	out->subtype = (uint16_t)ev->reason;
	out->track_id = ev->track_id;
	out->time_us = ev->time_us;
	out->x_mm = ev->x_mm;
	out->y_mm = ev->y_mm;
	out->n_ints = 3;
	out->ints[0] = ev->knot_id;
	out->ints[1] = ev->frame_seq;
	out->ints[2] = ev->hold_index;
	out->n_values = 6;
	out->values[0] = ev->load_kpa;
	out->values[1] = ev->load_n;
	out->values[2] = ev->held_s;
	out->values[3] = ev->dose_kpa_s;
	out->values[4] = ev->stiffness_pct;
	out->values[5] = ev->value;
}

void km_cli_rec_to_event(const struct km_rec_event *in, struct km_event *out)
{
	memset(out, 0, sizeof *out);
	out->type = (enum km_event_type)in->type;
	out->reason = (enum km_event_reason)in->subtype;
	out->track_id = in->track_id;
	out->time_us = in->time_us;
	out->x_mm = in->x_mm;
	out->y_mm = in->y_mm;
	uint32_t ints[3] = {0, 0, 0};
	float v[6] = {0, 0, 0, 0, 0, 0};
	for (unsigned i = 0; i < in->n_ints && i < 3; i++)
		ints[i] = in->ints[i];
	for (unsigned i = 0; i < in->n_values && i < 6; i++)
		v[i] = in->values[i];
	out->knot_id = ints[0];
	out->frame_seq = ints[1];
	out->hold_index = ints[2];
	out->load_kpa = v[0];
	out->load_n = v[1];
	out->held_s = v[2];
	out->dose_kpa_s = v[3];
	out->stiffness_pct = v[4];
	out->value = v[5];
}

void km_cli_describe_event(void *user, const struct km_rec_event *rec,
                           struct km_export_event_info *info)
{
	(void)user;
	struct km_event ev;
	km_cli_rec_to_event(rec, &ev);
	info->name = ev.type < KM_EVENT_TYPE_COUNT ? km_event_type_name(ev.type) : NULL;
	switch (ev.type) {
	case KM_EVENT_KNOT_FOUND:
		info->role = KM_EXPORT_ROLE_KNOT;
		break;
	case KM_EVENT_HOLD_STARTED:
		info->role = KM_EXPORT_ROLE_HOLD_START;
		break;
	case KM_EVENT_RELEASED:
		info->role = KM_EXPORT_ROLE_HOLD_OUTCOME;
		info->outcome = KM_EXPORT_OUTCOME_RELEASED;
		break;
	case KM_EVENT_STIFFENED:
		info->role = KM_EXPORT_ROLE_HOLD_OUTCOME;
		info->outcome = KM_EXPORT_OUTCOME_STIFFENED;
		break;
	case KM_EVENT_HOLD_STOPPED:
		info->role = KM_EXPORT_ROLE_HOLD_END;
		info->load_kpa = ev.load_kpa;
		info->dose_kpa_s = ev.dose_kpa_s;
		info->held_s = ev.held_s;
		break;
	default:
		break;
	}
}

static int progress_shown;

/* A bar on stderr when it is a terminal: "[#####     ]  48%". */
void km_cli_progress(void *user, uint64_t done, uint64_t total)
{
	const char *what = user ? user : "";
	if (!isatty(STDERR_FILENO) || total == 0)
		return;
	unsigned pct = (unsigned)(done * 100 / total);
	char bar[31];
	unsigned fill = pct * 30 / 100;
	for (unsigned i = 0; i < 30; i++)
		bar[i] = i < fill ? '#' : ' ';
	bar[30] = '\0';
	fprintf(stderr, "\r%s [%s] %3u%%", what, bar, pct > 100 ? 100 : pct);
	fflush(stderr);
	progress_shown = 1;
}

void km_cli_progress_end(void)
{
	if (progress_shown)
		fputc('\n', stderr);
	progress_shown = 0;
}

int km_cli_exit_code(int err)
{
	switch (err) {
	case KM_OK:
		return KM_EXIT_OK;
	case KM_ERR_NO_DEVICE:
		return KM_EXIT_NO_DEVICE;
	case KM_ERR_INTERRUPTED:
		return KM_EXIT_INTERRUPTED;
	default:
		return KM_EXIT_FAILURE;
	}
}

int km_cli_open_recording(const char *cmd, const char *path, bool verify, km_rec_reader **out)
{
	struct km_rec_reader_config c = km_rec_reader_config_default();
	c.path = path;
	c.verify_all = verify;
	c.log = km_cli_log();
	c.log.max_level = KM_LOG_ERROR < km_cli_verbosity ? km_cli_verbosity : KM_LOG_ERROR;
	int rc = km_rec_reader_create(&c, out);
	if (rc == KM_OK)
		return KM_OK;
	const char *hint = NULL;
	switch (rc) {
	case KM_ERR_NOT_FOUND:
		hint = "check the path; recordings are kept in ~/.local/share/knotmap/sessions/";
		break;
	case KM_ERR_PERMISSION:
		hint = "the file is not readable by you (recordings are created 0600)";
		break;
	case KM_ERR_BAD_MAGIC:
		hint = "this is not a knotmap recording (.kmrec)";
		break;
	case KM_ERR_BAD_VERSION:
		hint = "the recording was made by a newer knotmap: upgrade knotmap";
		break;
	case KM_ERR_BAD_CRC:
	case KM_ERR_TRUNCATED:
	case KM_ERR_MALFORMED:
		hint = "the file header is damaged; nothing in it can be trusted";
		break;
	default:
		break;
	}
	km_cli_error(cmd, hint, "cannot open '%s': %s", path, km_strerror(rc));
	return rc;
}

