/* knotmap view: the live pressure map (the README's main job). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "session_util.h"

#ifdef KM_HAVE_VIEWER
#include "knotmap/viewer.h"
#endif

static void view_usage(FILE *out)
{
	fprintf(out, "usage: knotmap view [--sim SCENARIO | --replay FILE | --device SERIAL]\n"
	             "                    [--format F] [--rate HZ] [--pitch MM] [--units U]\n"
	             "                    [--seed N] [--speed X] [--fullscreen]\n"
	             "                    [--screenshot FILE --after S [--force]]\n"
	             "                    [--screenshot-dir DIR]\n"
	             "                    [--guided] [--no-sound] [--no-voice] [--volume V]\n\n"
	             "Shows the live pressure map: candidate tender/stiff spots, hold timers\n"
	             "(30-60 s at a tolerable pressure that eases), tensing-up warnings.\n"
	             "Uses the mat when one is plugged in, else the virtual mat (the\n"
	             "tennis-ball-trapezius demo; guided-upper-back with --guided).\n\n"
	             "  --sim SCENARIO     the virtual mat with a scenario (back-lying,\n"
	             "                     tennis-ball-trapezius, roller-device, ...)\n"
	             "  --replay FILE      play a .kmrec recording, or another mat's .npy,\n"
	             "                     Tekscan, XSENSOR or CSV file (Space, arrows, +/-, .)\n"
	             "  --device SERIAL    this mat only\n"
	             "  --calibration F    the mat's calibration file (knotmap calibrate)\n"
	             "  --seed N           virtual mat seed (default 1)\n"
	             "  --speed X          virtual mat pace, 0.25-16 (default 1 = real time)\n"
	             "  --fullscreen       start full screen (F toggles)\n"
	             "  --screenshot FILE  save a PNG after S seconds of mat time, then exit\n"
	             "  --after S          seconds for --screenshot (default 5)\n"
	             "  --force            replace an existing --screenshot FILE (never the\n"
	             "                     replayed file, never through a link)\n"
	             "  --screenshot-dir DIR  where S saves (default ~/.local/share/knotmap/\n"
	             "                     screenshots); a new file each time, mode 0600\n"
	             "  --keys KEYS        press these keys once frames arrive (demos: 'h' help,\n"
	             "                     'c' colours, '>' seek...)\n"
	             "  --guided           hands-free routine: a lying scan finds candidate spots,\n"
	             "                     then sound cues guide a ball under each for a 30-60 s\n"
	             "                     hold, with rests; prints a summary at the end (also\n"
	             "                     saved as JSON next to the recording when recording)\n"
	             "  --no-sound         no sound cues\n"
	             "  --no-voice         tones only (no spoken prompts, which need espeak-ng)\n"
	             "  --volume V         sound volume 0-1 (default 0.6)\n\n"
	             "With --replay, for other mats' files (docs/formats.md); each defaults to\n"
	             "the file's header, then a sidecar FILE.json, then 100 Hz, 10 mm, counts:\n"
	             "  --format F         npy, tekscan, xsensor, csv or kmrec (no detection)\n"
	             "  --rate HZ          frame rate\n"
	             "  --pitch MM         cell spacing\n"
	             "  --units U          kPa, mmHg, kgf/cm2, psi... or counts (see replay --help)\n"
	             "  --rows R --cols C  the grid of a plain CSV with one frame per line and\n"
	             "                     no header of cell names\n"
	             "  --sensor S         a file with several sensors (XSENSOR insoles): which\n"
	             "                     one, by number (1 = the first) or name\n"
	             "  --partial          skip the frames that do not read (each one reported)\n"
	             "                     instead of stopping at the first\n\n"
	             "Keys: H help, Space pause, Z zero, R record, S screenshot, C colours,\n"
	             "G guided routine, N skip a spot, V mute, [ ] volume,\n"
	             "X log numbness/tingling/radiating pain (stops a guided routine), Q quit.\n"
	             "Not a diagnosis. A knot lasting over a week, or numbness, tingling or\n"
	             "pain down a limb: see a healthcare professional.\n");
}

#ifdef KM_HAVE_VIEWER
static void print_summary(void *user, const char *text, const char *json)
{
	(void)user;
	(void)json;
	fputs(text, stdout);
	fflush(stdout);
}

static int run_view(int argc, char **argv)
{
	struct km_viewer_options o = km_viewer_options_default();
	int sources = 0;
	bool after_given = false;
	/* Import options, parsed as analyze / export / replay do; the first one
	 * given, for the messages. */
	struct km_cli_import_opts io;
	memset(&io, 0, sizeof io);
	const char *import_opt = NULL;
	o.screenshot_after_s = 5.0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int took = km_cli_import_option("view", argc, argv, &i, true, &io);
		if (took < 0)
			return KM_EXIT_USAGE;
		if (took > 0) {
			import_opt = import_opt ? import_opt : a;
			continue;
		}
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			view_usage(stdout);
			return KM_EXIT_OK;
		} else if (!strcmp(a, "--fullscreen")) {
			o.fullscreen = true;
			continue;
		} else if (!strcmp(a, "--guided")) {
			o.guided = true;
			continue;
		} else if (!strcmp(a, "--force")) {
			o.screenshot_force = true;
			continue;
		} else if (!strcmp(a, "--no-sound")) {
			o.sound = false;
			continue;
		} else if (!strcmp(a, "--no-voice")) {
			o.voice = false;
			continue;
		}
		static const char *const with_value[] = {"--sim",   "--replay", "--device",
		                                         "--seed",  "--speed",  "--screenshot",
		                                         "--after", "--font",   "--keys",
		                                         "--volume", "--calibration",
		                                         "--screenshot-dir"};
		bool known = false;
		for (size_t k = 0; k < sizeof with_value / sizeof with_value[0]; k++)
			known = known || !strcmp(a, with_value[k]);
		if (!known) {
			km_cli_error("view", "see 'knotmap view --help'", "unknown option '%s'", a);
			return KM_EXIT_USAGE;
		}
		if (!v) {
			km_cli_error("view", "see 'knotmap view --help'", "%s needs a value", a);
			return KM_EXIT_USAGE;
		}
		if (!strcmp(a, "--sim")) {
			o.source = KM_VIEW_SOURCE_SIM;
			o.scenario = v;
			sources++;
		} else if (!strcmp(a, "--replay")) {
			o.source = KM_VIEW_SOURCE_REPLAY;
			o.replay_path = v;
			sources++;
		} else if (!strcmp(a, "--device")) {
			o.source = KM_VIEW_SOURCE_DEVICE;
			o.serial = v;
			sources++;
		} else if (!strcmp(a, "--calibration")) {
			o.calibration_path = v;
		} else if (!strcmp(a, "--seed")) {
			long seed;
			if (km_cli_parse_long("view", a, v, 0, 2147483647L, &seed))
				return KM_EXIT_USAGE;
			o.seed = (uint64_t)seed;
		} else if (!strcmp(a, "--speed")) {
			if (km_cli_parse_double("view", a, v, 0.25, 16.0, &o.sim_speed))
				return KM_EXIT_USAGE;
		} else if (!strcmp(a, "--screenshot")) {
			o.screenshot_path = v;
		} else if (!strcmp(a, "--screenshot-dir")) {
			o.screenshot_dir = v;
		} else if (!strcmp(a, "--after")) {
			if (km_cli_parse_double("view", a, v, 0.0, 86400.0, &o.screenshot_after_s))
				return KM_EXIT_USAGE;
			after_given = true;
		} else if (!strcmp(a, "--font")) {
			o.font_path = v;
		} else if (!strcmp(a, "--keys")) {
			o.keys = v;
		} else if (!strcmp(a, "--volume")) {
			double vol;
			if (km_cli_parse_double("view", a, v, 0.0, 1.0, &vol))
				return KM_EXIT_USAGE;
			o.volume = (float)vol;
		} else {
			km_cli_error("view", "see 'knotmap view --help'", "unknown option '%s'", a);
			return KM_EXIT_USAGE;
		}
		i++;
	}
	if (sources > 1) {
		km_cli_error("view", NULL, "choose one of --sim, --replay and --device");
		return KM_EXIT_USAGE;
	}
	if (o.screenshot_force && !o.screenshot_path) {
		km_cli_error("view", NULL, "--force goes with --screenshot FILE");
		return KM_EXIT_USAGE;
	}
	if (after_given && !o.screenshot_path) {
		km_cli_error("view", NULL, "--after goes with --screenshot FILE");
		return KM_EXIT_USAGE;
	}
	if (o.sim_speed != 1.0 && o.source != KM_VIEW_SOURCE_SIM) {
		km_cli_error("view", "replays change speed with +/- while playing",
		             "--speed works with --sim only");
		return KM_EXIT_USAGE;
	}
	if (import_opt && o.source != KM_VIEW_SOURCE_REPLAY) {
		km_cli_error("view", "e.g. knotmap view --replay data.csv --rate 50 --pitch 8",
		             "%s describes a file to replay: it goes with --replay FILE",
		             import_opt);
		return KM_EXIT_USAGE;
	}
	if (o.source == KM_VIEW_SOURCE_REPLAY) {
		/* before a window opens */
		km_cli_import_guess_pitch("view", o.replay_path, &io);
		if (km_cli_check_source("view", o.replay_path, &io, NULL) != KM_OK)
			return KM_EXIT_FAILURE;
		if (io.format != KM_IMPORT_AUTO)
			o.replay_format = km_import_format_name(io.format);
		if (io.units != KM_UNITS_DEFAULT)
			o.replay_units = km_import_units_name(io.units);
		o.replay_rate_hz = io.rate_hz;
		o.replay_pitch_mm = km_cli_import_pitch(&io); /* one pitch */
		o.replay_pitch_guessed = io.pitch_guessed;
		o.replay_rows = io.rows;
		o.replay_cols = io.cols;
		o.replay_sensor = io.sensor;
		o.replay_partial = io.partial;
	}
	o.log = km_cli_log();
	o.on_summary = print_summary;
	int err = km_viewer_run(&o);
	switch (err) {
	case KM_OK:
		if (o.screenshot_path)
			printf("saved %s\n", o.screenshot_path);
		return KM_EXIT_OK;
	case KM_ERR_NO_DISPLAY:
		km_cli_error("view",
		             "run it from a desktop session (X11 or Wayland), or under "
		             "'xvfb-run -a' with --screenshot",
		             "no display: the live view needs a screen");
		return KM_EXIT_FAILURE;
	case KM_ERR_NO_DEVICE:
		km_cli_error("view", "plug the mat in, or use --sim back-lying for the virtual mat",
		             "no mat found%s%s", o.serial ? " with serial " : "",
		             o.serial ? o.serial : "");
		return KM_EXIT_NO_DEVICE;
	case KM_ERR_EXISTS:
		km_cli_error("view", "add --force to replace it, or choose another name",
		             "%s already exists", o.screenshot_path ? o.screenshot_path : "the file");
		return KM_EXIT_FAILURE;
	case KM_ERR_INVALID_ARG:
		if (o.screenshot_path && o.replay_path) {
			/* km_outfile said which input it is; the options themselves
			 * were checked above */
			km_cli_error("view", "choose another name for --screenshot",
			             "not writing the screenshot %s", o.screenshot_path);
			return KM_EXIT_USAGE;
		}
		km_cli_error("view", "see 'knotmap view --help'", "invalid options");
		return KM_EXIT_USAGE;
	case KM_ERR_NOT_FOUND:
		/* The same code for a missing font and a missing source: tell
		 * them apart here. */
		if (access(o.font_path ? o.font_path : KM_VIEW_DEFAULT_FONT, R_OK) != 0)
			km_cli_error("view", "install it with 'apt-get install fonts-dejavu-core'",
				     "font %s not found",
				     o.font_path ? o.font_path : KM_VIEW_DEFAULT_FONT);
		else if (o.calibration_path && access(o.calibration_path, R_OK) != 0)
			km_cli_error("view", "make one with 'knotmap calibrate', or leave out "
					     "--calibration for the mat's own",
				     "cannot read the calibration file %s", o.calibration_path);
		else if (o.source == KM_VIEW_SOURCE_REPLAY)
			km_cli_error("view", NULL, "cannot open the recording %s", o.replay_path);
		else if (o.source == KM_VIEW_SOURCE_SIM)
			km_cli_error("view", "see 'knotmap sim --list' for the scenarios",
				     "no scenario '%s'", o.scenario);
		else
			km_cli_error("view", NULL, "%s", km_strerror(err));
		return KM_EXIT_FAILURE;
	case KM_ERR_CALIBRATION:
	case KM_ERR_BAD_CRC:
	case KM_ERR_BAD_MAGIC:
	case KM_ERR_TRUNCATED:
		if (o.calibration_path) {
			km_cli_error("view", "make it again with 'knotmap calibrate'",
				     "the calibration file %s is not usable: %s",
				     o.calibration_path, km_strerror(err));
			return KM_EXIT_FAILURE;
		}
		km_cli_error("view", NULL, "%s", km_strerror(err));
		return KM_EXIT_FAILURE;
	default:
		km_cli_error("view", NULL, "%s", km_strerror(err));
		return KM_EXIT_FAILURE;
	}
}
#else
static int run_view(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		view_usage(stdout);
		return KM_EXIT_OK;
	}
	km_cli_error("view",
	             "rebuild with -DKM_BUILD_VIEWER=ON (needs libsdl2-dev, libsdl2-ttf-dev)",
	             "this knotmap was built without the viewer");
	return KM_EXIT_FAILURE;
}
#endif

const struct km_cli_command km_cli_cmd_view = {"view", "show the live pressure map (main job)",
                                               run_view};
