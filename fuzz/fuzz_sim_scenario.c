/*
 * Scenario files of the virtual mat (km_sim_scenario_parse), as text.
 * Input: the file's bytes, as is (seeds: the files in hardware/sim/scenarios).
 * Properties: only documented codes; km_sim_scenario_load of the same bytes
 * as a file agrees with the parse; the error message is NUL terminated,
 * names the file and is empty on success; a scenario that parses passes
 * km_sim_config_check, builds a simulator, runs two frames, and what it
 * sends is understood by the host side: its info block decodes and its
 * packets reassemble to exactly the counts it reports.
 */
#define _GNU_SOURCE /* memfd_create */
#include "fuzz_file.h"
#include "knotmap/protocol.h"
#include "knotmap/sim.h"

#define NAME "fuzz.ini"

static void run_sim(const struct km_sim_config *cfg)
{
	km_sim *sim = NULL;
	int rc = km_sim_create(cfg, &sim);
	FUZZ_CHECK(rc == KM_OK && sim != NULL);

	struct km_proto_info info;
	uint8_t blk[KM_PROTO_INFO_LEN];
	size_t w = 0;
	FUZZ_CHECK(km_sim_info(sim, &info) == KM_OK);
	FUZZ_CHECK(km_proto_info_encode(&info, blk, sizeof blk, &w) == KM_OK);
	struct km_proto_info back;
	FUZZ_CHECK(km_proto_info_decode(blk, w, &back) == KM_OK);
	FUZZ_CHECK(back.rows == cfg->rows && back.cols == cfg->cols);

	if (!km_sim_running(sim))
		FUZZ_CHECK(km_sim_control(sim, KM_SIM_CMD_START, 0) == KM_OK);

	struct km_proto_reasm_config rcfg = km_proto_reasm_config_default();
	rcfg.max_rows = KM_SIM_MAX_DIM;
	rcfg.max_cols = KM_SIM_MAX_DIM;
	km_proto_reasm *r = NULL;
	FUZZ_CHECK(km_proto_reasm_create(&rcfg, &r) == KM_OK);
	size_t cap = km_sim_max_packet_bytes(sim);
	FUZZ_CHECK(cap > 0);
	uint8_t *pk = malloc(cap);
	FUZZ_CHECK(pk != NULL);

	for (int f = 0; f < 2; f++) {
		struct km_sim_output out;
		FUZZ_CHECK(km_sim_step(sim, &out) == KM_OK);
		FUZZ_CHECK(out.rows == cfg->rows && out.cols == cfg->cols);
		size_t n = (size_t)out.rows * out.cols;
		uint32_t ceiling = (1u << cfg->adc_bits) - 1u;
		for (size_t i = 0; i < n; i++) {
			FUZZ_CHECK(out.counts[i] <= ceiling);
			FUZZ_CHECK(out.kpa[i] >= 0.0f && out.kpa[i] < 1e30f);
		}
		w = 0;
		rc = km_sim_pack(sim, pk, cap, &w);
		FUZZ_CHECK(rc == KM_OK && w > 0 && w <= cap);
		size_t off = 0;
		bool ready = false;
		while (off < w) {
			size_t used = 0;
			rc = km_proto_reasm_push_bytes(r, pk + off, w - off, &ready, &used);
			FUZZ_CHECK(rc == KM_OK && used > 0);
			off += used;
		}
		FUZZ_CHECK(ready);
		const struct km_proto_frame *fr = km_proto_reasm_frame(r);
		FUZZ_CHECK(fr != NULL && fr->header.rows == out.rows &&
		           fr->header.cols == out.cols);
		FUZZ_CHECK(fr->header.sequence == out.sequence);
		FUZZ_CHECK(memcmp(fr->counts, out.counts, n * sizeof *out.counts) == 0);
	}
	free(pk);
	km_proto_reasm_destroy(r);
	km_sim_destroy(sim);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy without a terminator: the parser must honour len. */
	char *text = (char *)fuzz_dup(data, size);
	/* Most runs with a roomy message buffer; some with a tight one. */
	size_t err_cap = (size & 7u) == 7u ? size % 24u : 512u;
	char *err = malloc(err_cap ? err_cap : 1);
	FUZZ_CHECK(err != NULL);
	if (err_cap)
		memset(err, 'x', err_cap);

	struct km_sim_config cfg = km_sim_config_default();
	int rc = km_sim_scenario_parse(text, size, NAME, &cfg, err, err_cap);
	FUZZ_CHECK_RC(rc, KM_ERR_PARSE, KM_ERR_RANGE, KM_ERR_SHAPE, KM_ERR_INVALID_ARG);
	if (err_cap) {
		FUZZ_CHECK(memchr(err, '\0', err_cap) != NULL);
		if (rc == KM_OK)
			FUZZ_CHECK(err[0] == '\0');
		else if (err_cap > sizeof NAME)
			FUZZ_CHECK(strncmp(err, NAME ":", sizeof NAME) == 0);
	}
	struct km_sim_config from_file = km_sim_config_default();
	char ferr[64];
	int lrc = km_sim_scenario_load(fuzz_file(data, size), &from_file, ferr, sizeof ferr);
	FUZZ_CHECK(lrc == rc);
	if (rc == KM_OK) {
		FUZZ_CHECK(km_sim_config_check(&cfg) == KM_OK);
		run_sim(&cfg);
	}
	free(err);
	free(text);
	return 0;
}
