/*
 * The virtual mat's USB side: the info block and the frame packets, made by
 * the protocol's own encoder so they are bit-identical to the firmware's.
 */
#include <stdio.h>
#include <string.h>

#include "km_internal.h"
#include "sim_internal.h"

#include "knotmap/protocol.h"

int km_sim_info(const km_sim *s, struct km_proto_info *info)
{
	if (!s || !info)
		return KM_ERR_INVALID_ARG;
	memset(info, 0, sizeof *info);
	info->protocol_version = KM_PROTO_VERSION;
	info->rows = s->cfg.rows;
	info->cols = s->cfg.cols;
	info->pitch_um = (uint32_t)(s->cfg.pitch_mm * 1000.0f + 0.5f);
	info->geometry = (uint8_t)s->cfg.geometry;
	info->adc_bits = s->cfg.adc_bits;
	info->encodings = (uint8_t)((1u << KM_PROTO_ENC_RAW16) | (1u << KM_PROTO_ENC_DELTA) |
	                            (1u << KM_PROTO_ENC_DELTA_TEMPORAL) |
	                            (s->cfg.adc_bits <= 12 ? 1u << KM_PROTO_ENC_RAW12 : 0u));
	info->firmware_version = km_version_number();
	info->calibration_id = s->calibration_id;
	info->rate_hz = (uint16_t)(s->rate_hz + 0.5f);
	info->max_rate_hz = 1000;
	info->max_transfer = KM_PROTO_MAX_TRANSFER;
	snprintf(info->serial, sizeof info->serial, "KMSIM-%08X", (unsigned)s->cfg.serial);
	return KM_OK;
}

int km_sim_status(const km_sim *s, struct km_proto_status *st)
{
	if (!s || !st)
		return KM_ERR_INVALID_ARG;
	memset(st, 0, sizeof *st);
	st->flags = (s->running ? KM_PROTO_STATUS_RUNNING : 0u) |
	            (s->zero_left > 0 ? KM_PROTO_STATUS_ZEROING : 0u);
	st->next_sequence = s->seq_next;
	st->overruns = 0;
	st->rate_hz = (uint16_t)(s->rate_hz + 0.5f);
	st->device_time_us = s->time_us;
	return KM_OK;
}

size_t km_sim_max_packet_bytes(const km_sim *s)
{
	return s ? km_proto_max_packet_bytes(s->cfg.rows, s->cfg.cols) : 0;
}

int km_sim_pack(km_sim *s, uint8_t *buf, size_t cap, size_t *written)
{
	if (written)
		*written = 0;
	if (!s || !buf || !written)
		return KM_ERR_INVALID_ARG;
	if (!s->have_frame)
		return KM_ERR_STATE;
	struct km_proto_frame_header h;
	memset(&h, 0, sizeof h);
	h.sequence = s->sequence;
	h.timestamp_us = s->time_us;
	h.rows = s->cfg.rows;
	h.cols = s->cfg.cols;
	h.encoding = s->frame_encoding;
	uint8_t flags = 0;
	if (s->saturated)
		flags |= KM_PROTO_FLAG_SATURATED;
	/* as the firmware: a re-zero while zeroed carries both */
	if (s->zeroing_frame)
		flags |= KM_PROTO_FLAG_ZEROING;
	if (s->zeroed)
		flags |= KM_PROTO_FLAG_ZEROED;
	h.flags = flags;
	return km_proto_encode_frame(
	    &h, s->counts, h.encoding == KM_PROTO_ENC_DELTA_TEMPORAL ? s->prev_counts : NULL, buf,
	    cap, written);
}
