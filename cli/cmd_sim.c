/* knotmap sim: run the virtual mat from a scenario; write its ground truth
 * (JSON) and the exact USB packets it would send. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "knotmap/outfile.h"
#include "knotmap/sim.h"

#define CMD "sim"

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: knotmap sim --list\n"
	        "       knotmap sim SCENARIO [--seed N] [--duration S] [--rate HZ]\n"
	        "                   [--truth FILE.json] [--packets FILE] [--force] [--quiet-summary]\n"
	        "\n"
	        "Runs the virtual mat: a simulated person (and tool) on the pressure grid,\n"
	        "deterministic from the seed, with the sensor's imperfections.\n"
	        "\n"
	        "  SCENARIO           a name from --list (e.g. tennis-ball-trapezius) or a\n"
	        "                     path to a scenario .ini file\n"
	        "  --list             list the scenarios with their descriptions\n"
	        "  --seed N           random seed, 0..2^64-1 (default: the scenario's, else 1)\n"
	        "  --duration S       simulated seconds, 0.01..86400 (default 60)\n"
	        "  --rate HZ          frame rate, 1..1000 (default: the scenario's, else 100)\n"
	        "  --truth FILE.json  write the ground truth: scenario header, landmarks,\n"
	        "                     faulty cells and one record per frame (phase, forces,\n"
	        "                     loaded area, tool contact, tensing, breathing, knots)\n"
	        "  --packets FILE     write the bytes the USB device would send (frame packets,\n"
	        "                     back to back, protocol encoder); '-' for stdout\n"
	        "  --force            replace FILE.json / FILE when they exist\n"
	        "  --quiet-summary    no per-second summary on stdout\n"
	        "  -h, --help         this help\n"
	        "\n"
	        "Scenarios are looked up in $KNOTMAP_SCENARIO_DIR, then the source tree,\n"
	        "then the installed data directory (share/knotmap/scenarios). Their format\n"
	        "is described in the README.md there.\n"
	        "\n"
	        "Exit status: 0 ok, 1 failure (scenario or file error), 2 bad arguments.\n");
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

static int list_scenarios(void)
{
	char dir[4096];
	if (km_sim_scenario_dir(dir, sizeof dir) != KM_OK) {
		km_cli_error(CMD, "set KNOTMAP_SCENARIO_DIR", "no scenario directory found");
		return KM_EXIT_FAILURE;
	}
	DIR *d = opendir(dir);
	if (!d) {
		km_cli_error(CMD, NULL, "cannot open %s", dir);
		return KM_EXIT_FAILURE;
	}
	/* collect and sort for a stable listing */
	char list[128][256];
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL && n < 128) {
		size_t l = strlen(e->d_name);
		if (l > 4 && l < 250 && !strcmp(e->d_name + l - 4, ".ini")) {
			memcpy(list[n], e->d_name, l - 4);
			list[n][l - 4] = '\0';
			n++;
		}
	}
	closedir(d);
	qsort(list, n, sizeof list[0], cmp_name);
	printf("scenarios in %s:\n", dir);
	for (size_t i = 0; i < n; i++) {
		char path[4400], desc[256];
		int w = snprintf(path, sizeof path, "%s/%s.ini", dir, list[i]);
		if (w < 0 || (size_t)w >= sizeof path)
			continue; /* a path this long cannot be a scenario of ours */
		int rc = km_sim_scenario_describe(path, desc, sizeof desc);
		printf("  %-24s %s\n", list[i], rc == KM_OK ? desc : "(does not load)");
	}
	return KM_EXIT_OK;
}

static void json_truth_header(FILE *f, const char *name, const struct km_sim_config *cfg,
                              const struct km_sim_output *o)
{
	const struct km_sim_truth *t = o->truth;
	fprintf(f, "{\n\"scenario\": \"%s\",\n\"seed\": %llu,\n", name,
	        (unsigned long long)cfg->seed);
	fprintf(f,
	        "\"rows\": %u, \"cols\": %u, \"pitch_mm\": %.3f, \"geometry\": \"%s\", "
	        "\"rate_hz\": %.3f,\n",
	        o->rows, o->cols, (double)o->pitch_mm,
	        o->geometry == KM_GEOMETRY_CYLINDER ? "cylinder" : "flat", (double)cfg->rate_hz);
	fprintf(f,
	        "\"tool\": \"%s\", \"body\": %s, \"body_weight_n\": %.2f, "
	        "\"body_fraction\": %.4f,\n",
	        km_sim_tool_name(cfg->tool), t->body ? "true" : "false", (double)t->body_weight_n,
	        (double)t->body_fraction);
	if (t->body) {
		fprintf(f, "\"spine\": {\"x_mm\": %.1f, \"y0_mm\": %.1f, \"y1_mm\": %.1f},\n",
		        (double)t->spine_x_mm, (double)t->spine_y0_mm, (double)t->spine_y1_mm);
		fprintf(f, "\"landmarks\": {");
		for (int i = 0; i < KM_SIM_LM_COUNT; i++)
			fprintf(f, "%s\"%s\": {\"x_mm\": %.1f, \"y_mm\": %.1f, \"on_mat\": %s}",
			        i ? ", " : "", km_sim_landmark_name((enum km_sim_landmark)i),
			        (double)t->landmarks[i].x_mm, (double)t->landmarks[i].y_mm,
			        t->landmarks[i].on_mat ? "true" : "false");
		fprintf(f, "},\n");
	}
	fprintf(f, "\"faults\": [");
	size_t k = 0;
	for (size_t i = 0; i < (size_t)o->rows * o->cols; i++)
		if (t->fault_map[i])
			fprintf(f, "%s{\"row\": %zu, \"col\": %zu, \"kind\": \"%s\"}",
			        k++ ? ", " : "", i / o->cols, i % o->cols,
			        t->fault_map[i] == 1 ? "dead" : "stuck");
	fprintf(f, "],\n\"frames\": [\n");
}

static void json_truth_frame(FILE *f, const struct km_sim_output *o, bool first)
{
	const struct km_sim_truth *t = o->truth;
	fprintf(f,
	        "%s{\"seq\": %u, \"t_us\": %llu, \"phase\": \"%s\", \"step\": %u, \"load\": %.4f, "
	        "\"total_force_n\": %.3f, \"body_force_n\": %.3f, \"loaded_area_cm2\": %.2f, "
	        "\"peak_kpa\": %.3f, \"tensing\": %s, \"withdrawal\": %s, \"breath_phase\": %.4f",
	        first ? "" : ",\n", t->sequence, (unsigned long long)t->time_us,
	        km_sim_phase_name(t->phase), t->step_index, (double)t->load,
	        (double)t->total_force_n, (double)t->body_force_n, (double)t->loaded_area_cm2,
	        (double)t->peak_kpa, t->tensing ? "true" : "false",
	        t->withdrawal ? "true" : "false", (double)t->breath_phase);
	if (t->tool_contact)
		fprintf(f,
		        ", \"tool\": {\"x_mm\": %.2f, \"y_mm\": %.2f, \"force_n\": %.3f, "
		        "\"area_cm2\": %.3f, \"peak_kpa\": %.2f}",
		        (double)t->tool_x_mm, (double)t->tool_y_mm, (double)t->tool_force_n,
		        (double)t->tool_area_cm2, (double)t->tool_peak_kpa);
	fprintf(f, ", \"knots\": [");
	for (size_t k = 0; k < t->knot_count; k++) {
		const struct km_sim_knot_truth *kt = &t->knots[k];
		fprintf(f,
		        "%s{\"id\": %u, \"x_mm\": %.1f, \"y_mm\": %.1f, \"radius_mm\": %.1f, "
		        "\"depth_mm\": %.1f, \"stiffness_pct\": %.2f, \"loaded\": %s, "
		        "\"hold_s\": %.2f}",
		        k ? ", " : "", kt->id, (double)kt->x_mm, (double)kt->y_mm,
		        (double)kt->radius_mm, (double)kt->depth_mm, (double)kt->stiffness_pct,
		        kt->loaded ? "true" : "false", (double)kt->hold_s);
	}
	fprintf(f, "]}");
}

static int run_sim(int argc, char **argv)
{
	const char *scenario = NULL, *truth_path = NULL, *packets_path = NULL;
	bool have_seed = false, have_rate = false, summary = true, force = false;
	unsigned long long seed = 0;
	double duration = 60.0, rate = 100.0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *next = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return KM_EXIT_OK;
		} else if (!strcmp(a, "--list")) {
			if (argc != 2) {
				km_cli_error(CMD, "see 'knotmap sim --help'",
				             "--list takes no other arguments");
				return KM_EXIT_USAGE;
			}
			return list_scenarios();
		} else if (!strcmp(a, "--seed") || !strcmp(a, "--duration") ||
		           !strcmp(a, "--rate") || !strcmp(a, "--truth") ||
		           !strcmp(a, "--packets")) {
			if (!next) {
				km_cli_error(CMD, "see 'knotmap sim --help'", "%s needs a value",
				             a);
				return KM_EXIT_USAGE;
			}
			i++;
			if (!strcmp(a, "--seed")) {
				char *end = NULL;
				errno = 0;
				if (*next == '-' || *next == '+' || *next == '\0' ||
				    (seed = strtoull(next, &end, 10), *end != '\0') ||
				    errno == ERANGE) {
					km_cli_error(CMD, NULL,
					             "--seed expects a whole number >= 0, got '%s'",
					             next);
					return KM_EXIT_USAGE;
				}
				have_seed = true;
			} else if (!strcmp(a, "--duration")) {
				if (km_cli_parse_double(CMD, a, next, 0.01, 86400, &duration) != 0)
					return KM_EXIT_USAGE;
			} else if (!strcmp(a, "--rate")) {
				if (km_cli_parse_double(CMD, a, next, 1, 1000, &rate) != 0)
					return KM_EXIT_USAGE;
				have_rate = true;
			} else if (!strcmp(a, "--truth")) {
				truth_path = next;
			} else {
				packets_path = next;
			}
		} else if (!strcmp(a, "--quiet-summary")) {
			summary = false;
		} else if (!strcmp(a, "--force")) {
			force = true;
		} else if (a[0] == '-' && a[1] != '\0') {
			km_cli_error(CMD, "see 'knotmap sim --help'", "unknown option '%s'", a);
			return KM_EXIT_USAGE;
		} else if (!scenario) {
			scenario = a;
		} else {
			km_cli_error(CMD, "see 'knotmap sim --help'", "unexpected argument '%s'",
			             a);
			return KM_EXIT_USAGE;
		}
	}
	if (!scenario) {
		km_cli_error(CMD, "see 'knotmap sim --help' or 'knotmap sim --list'",
		             "missing SCENARIO");
		return KM_EXIT_USAGE;
	}
	char path[4096], err[512];
	int rc = km_sim_scenario_find(scenario, path, sizeof path);
	if (rc != KM_OK) {
		km_cli_error(CMD, "see 'knotmap sim --list'", "scenario '%s' not found (%s)",
		             scenario, km_strerror(rc));
		return KM_EXIT_FAILURE;
	}
	/* the loader's message comes back in err: no log while loading */
	struct km_sim_config cfg = km_sim_config_default();
	rc = km_sim_scenario_load(path, &cfg, err, sizeof err);
	if (rc != KM_OK) {
		km_cli_error(CMD, NULL, "%s", err[0] ? err : km_strerror(rc));
		return KM_EXIT_FAILURE;
	}
	cfg.log = km_cli_log();
	if (have_seed)
		cfg.seed = seed;
	if (have_rate)
		cfg.rate_hz = (float)rate;
	cfg.start_running = true;
	km_sim *sim = NULL;
	rc = km_sim_create(&cfg, &sim);
	if (rc != KM_OK) {
		km_cli_error(CMD, NULL, "cannot create the virtual mat: %s", km_strerror(rc));
		return KM_EXIT_FAILURE;
	}
	FILE *truth = NULL, *packets = NULL;
	km_outfile *truth_out = NULL, *packets_out = NULL;
	uint8_t *pkt = NULL;
	size_t pkt_cap = 0;
	int status = KM_EXIT_OK;
	/* Both outputs go through km_outfile: a temporary file made whole, then
	 * moved into place, never through a link, never over the scenario file. */
	const char *inputs[] = {path};
	struct km_outfile_config oc = km_outfile_config_default();
	oc.force = force;
	oc.inputs = inputs;
	oc.n_inputs = 1;
	oc.log = km_cli_log();
	if (truth_path) {
		oc.path = truth_path;
		if ((rc = km_outfile_open(&oc, &truth_out)) != KM_OK ||
		    !(truth = km_outfile_stream(truth_out))) {
			km_cli_error(CMD, NULL, "cannot write %s: %s", truth_path,
			             km_strerror(rc != KM_OK ? rc : KM_ERR_NO_MEMORY));
			status = KM_EXIT_FAILURE;
			goto done;
		}
	}
	if (packets_path) {
		oc.path = packets_path;
		if (!strcmp(packets_path, "-"))
			packets = stdout;
		else if ((rc = km_outfile_open(&oc, &packets_out)) != KM_OK ||
			 !(packets = km_outfile_stream(packets_out))) {
			km_cli_error(CMD, NULL, "cannot write %s: %s", packets_path,
			             km_strerror(rc != KM_OK ? rc : KM_ERR_NO_MEMORY));
			status = KM_EXIT_FAILURE;
			goto done;
		}
		pkt_cap = km_sim_max_packet_bytes(sim);
		pkt = pkt_cap ? malloc(pkt_cap) : NULL;
		if (!pkt) {
			km_cli_error(CMD, NULL, "cannot write packets to %s%s", packets_path,
			             pkt_cap ? "" : " (built without the protocol)");
			status = KM_EXIT_FAILURE;
			goto done;
		}
		if (packets == stdout)
			summary = false;
	}
	size_t frames = (size_t)(duration * cfg.rate_hz + 0.5);
	if (frames == 0)
		frames = 1;
	size_t per_s = (size_t)(cfg.rate_hz + 0.5);
	if (summary)
		printf("%s: %ux%u, %.0f Hz, seed %llu, %zu frames\n", scenario, cfg.rows, cfg.cols,
		       (double)cfg.rate_hz, (unsigned long long)cfg.seed, frames);
	uint64_t bytes = 0;
	for (size_t f = 0; f < frames; f++) {
		struct km_sim_output o;
		rc = km_sim_step(sim, &o);
		if (rc != KM_OK) {
			km_cli_error(CMD, NULL, "step failed: %s", km_strerror(rc));
			status = KM_EXIT_FAILURE;
			goto done;
		}
		if (truth) {
			if (f == 0)
				json_truth_header(truth, scenario, &cfg, &o);
			json_truth_frame(truth, &o, f == 0);
		}
		if (packets) {
			size_t w = 0;
			rc = km_sim_pack(sim, pkt, pkt_cap, &w);
			errno = 0;
			if (rc != KM_OK || fwrite(pkt, 1, w, packets) != w) {
				km_cli_error(CMD, NULL, "cannot write packets to %s: %s", packets_path,
				             rc != KM_OK ? km_strerror(rc)
				             : errno   ? strerror(errno)
				                       : "write error");
				status = KM_EXIT_FAILURE;
				goto done;
			}
			bytes += w;
		}
		if (summary && (f % per_s == 0 || f + 1 == frames)) {
			const struct km_sim_truth *t = o.truth;
			printf("t=%7.2f s %-8s force %7.1f N  area %7.1f cm2  peak %7.1f kPa",
			       t->t_s, km_sim_phase_name(t->phase), (double)t->total_force_n,
			       (double)t->loaded_area_cm2, (double)t->peak_kpa);
			if (t->tool_contact)
				printf("  tool (%.0f,%.0f) mm %.1f N", (double)t->tool_x_mm,
				       (double)t->tool_y_mm, (double)t->tool_force_n);
			if (t->tensing)
				printf("  TENSING");
			if (t->withdrawal)
				printf("  WITHDRAWAL");
			printf("\n");
		}
	}
	if (truth)
		fprintf(truth, "\n]\n}\n");
	if (summary && packets)
		printf("%llu packet bytes written to %s\n", (unsigned long long)bytes,
		       packets_path);
done:
	/* Committed only when every frame was written; otherwise the old files stay. */
	if (truth_out && status == KM_EXIT_OK && (rc = km_outfile_commit(truth_out)) != KM_OK) {
		km_cli_error(CMD, NULL, "cannot write %s: %s", truth_path, km_strerror(rc));
		status = KM_EXIT_FAILURE;
	}
	if (packets_out && status == KM_EXIT_OK &&
	    (rc = km_outfile_commit(packets_out)) != KM_OK) {
		km_cli_error(CMD, NULL, "cannot write %s: %s", packets_path, km_strerror(rc));
		status = KM_EXIT_FAILURE;
	}
	if (packets == stdout && fflush(stdout) != 0 && status == KM_EXIT_OK) {
		km_cli_error(CMD, NULL, "cannot write packets to standard output");
		status = KM_EXIT_FAILURE;
	}
	km_outfile_destroy(truth_out);
	km_outfile_destroy(packets_out);
	free(pkt);
	km_sim_destroy(sim);
	return status;
}

const struct km_cli_command km_cli_cmd_sim = {
    "sim", "run the virtual mat from a scenario (truth JSON, USB packets)", run_sim};
