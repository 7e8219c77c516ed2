/* The generated udev rule: valid rule syntax, one uaccess rule per device in
 * km_proto_devices and nothing else (no MODE/GROUP/OWNER). */
#include <criterion/criterion.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "knotmap/protocol.h"

#define MAX_PAIRS 16

struct pair {
	char key[64]; /* e.g. ATTRS{idVendor} */
	char op[3];   /* == != = += -= := */
	char value[128];
};

/* Parses one rule line: comma-separated KEY OP "value" pairs. Returns the
 * number of pairs, or -1 on a syntax error. */
static int parse_rule(const char *s, struct pair *out, int max)
{
	int n = 0;
	for (;;) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (n >= max)
			return -1;
		struct pair *p = &out[n];
		size_t k = 0;
		while (isupper((unsigned char)*s) || *s == '_') {
			if (k + 1 >= sizeof p->key)
				return -1;
			p->key[k++] = *s++;
		}
		if (k == 0)
			return -1;
		if (*s == '{') {
			while (*s && *s != '}') {
				if (k + 1 >= sizeof p->key)
					return -1;
				p->key[k++] = *s++;
			}
			if (*s != '}')
				return -1;
			p->key[k++] = *s++;
		}
		p->key[k] = '\0';
		static const char *ops[] = {"==", "!=", "+=", "-=", ":=", "="};
		size_t oi;
		for (oi = 0; oi < sizeof ops / sizeof ops[0]; oi++)
			if (strncmp(s, ops[oi], strlen(ops[oi])) == 0)
				break;
		if (oi == sizeof ops / sizeof ops[0])
			return -1;
		strcpy(p->op, ops[oi]);
		s += strlen(ops[oi]);
		if (*s++ != '"')
			return -1;
		size_t v = 0;
		while (*s && *s != '"') {
			if (*s == '\\' || v + 1 >= sizeof p->value)
				return -1; /* the generator never needs escapes */
			p->value[v++] = *s++;
		}
		if (*s++ != '"')
			return -1;
		p->value[v] = '\0';
		n++;
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '\0' || *s == '\n')
			return n;
		if (*s++ != ',')
			return -1;
	}
}

static const char *find(const struct pair *p, int n, const char *key, const char *op)
{
	for (int i = 0; i < n; i++)
		if (strcmp(p[i].key, key) == 0 && strcmp(p[i].op, op) == 0)
			return p[i].value;
	return NULL;
}

static char *rules_path(void)
{
	static char path[4096];
	const char *env = getenv("KM_UDEV_RULES");
	if (env && *env)
		return strcpy(path, env);
	const char *bin = getenv("KM_BINARY_DIR");
	cr_assert_not_null(bin, "KM_UDEV_RULES or KM_BINARY_DIR must be set (run via ctest)");
	snprintf(path, sizeof path, "%s/hardware/udev/70-knotmap.rules", bin);
	return path;
}

Test(udev, parser_rejects_bad_syntax)
{
	struct pair p[MAX_PAIRS];
	cr_assert_eq(parse_rule("SUBSYSTEM==\"usb\", TAG+=\"uaccess\"", p, MAX_PAIRS), 2);
	cr_assert_eq(parse_rule("ATTRS{idVendor}==\"1209\"", p, MAX_PAIRS), 1);
	cr_assert_str_eq(p[0].key, "ATTRS{idVendor}");
	cr_assert_eq(parse_rule("SUBSYSTEM==\"usb\" TAG+=\"uaccess\"", p, MAX_PAIRS), -1);
	cr_assert_eq(parse_rule("SUBSYSTEM==usb", p, MAX_PAIRS), -1);
	cr_assert_eq(parse_rule("SUBSYSTEM==\"usb", p, MAX_PAIRS), -1);
	cr_assert_eq(parse_rule("SUBSYSTEM~\"usb\"", p, MAX_PAIRS), -1);
	cr_assert_eq(parse_rule("ATTRS{idVendor==\"1209\"", p, MAX_PAIRS), -1);
	cr_assert_eq(parse_rule("SUBSYSTEM==\"usb\",", p, MAX_PAIRS), -1);
}

Test(udev, generated_rule_matches_device_table)
{
	const char *path = rules_path();
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f, "cannot open %s (build target km_udev_rules)", path);
	char line[1024];
	size_t seen[64] = {0};
	cr_assert_leq(km_proto_device_count, 64);
	int rules = 0;
	while (fgets(line, sizeof line, f)) {
		cr_assert_not_null(strchr(line, '\n'),
		                   "line too long or file not newline-terminated");
		const char *s = line;
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '#' || *s == '\n')
			continue;
		struct pair p[MAX_PAIRS];
		int n = parse_rule(s, p, MAX_PAIRS);
		cr_assert_gt(n, 0, "syntax error: %s", line);
		rules++;
		for (int i = 0; i < n; i++) {
			cr_assert_neq(strcmp(p[i].key, "MODE"), 0, "no MODE: use uaccess");
			cr_assert_neq(strcmp(p[i].key, "GROUP"), 0);
			cr_assert_neq(strcmp(p[i].key, "OWNER"), 0);
		}
		cr_assert_eq(n, 4, "%s", line);
		const char *sub = find(p, n, "SUBSYSTEM", "==");
		const char *vid = find(p, n, "ATTRS{idVendor}", "==");
		const char *pid = find(p, n, "ATTRS{idProduct}", "==");
		const char *tag = find(p, n, "TAG", "+=");
		cr_assert(sub && vid && pid && tag, "%s", line);
		cr_assert_str_eq(sub, "usb");
		cr_assert_str_eq(tag, "uaccess");
		/* sysfs prints idVendor/idProduct as 4 lower-case hex digits. */
		cr_assert_eq(strlen(vid), 4);
		cr_assert_eq(strlen(pid), 4);
		for (int i = 0; i < 4; i++) {
			cr_assert(isxdigit((unsigned char)vid[i]) &&
			          !isupper((unsigned char)vid[i]));
			cr_assert(isxdigit((unsigned char)pid[i]) &&
			          !isupper((unsigned char)pid[i]));
		}
		unsigned long v = strtoul(vid, NULL, 16), d = strtoul(pid, NULL, 16);
		bool found = false;
		for (size_t i = 0; i < km_proto_device_count; i++) {
			if (km_proto_devices[i].vid == v && km_proto_devices[i].pid == d) {
				seen[i]++;
				found = true;
			}
		}
		cr_assert(found, "rule for %04lx:%04lx is not in the device table", v, d);
	}
	fclose(f);
	cr_assert_eq((size_t)rules, km_proto_device_count);
	for (size_t i = 0; i < km_proto_device_count; i++)
		cr_assert_eq(seen[i], 1, "device %04x:%04x needs exactly one rule",
		             km_proto_devices[i].vid, km_proto_devices[i].pid);
	/* The one placeholder ID is in the table. */
	cr_assert_not_null(km_proto_find_device(KM_USB_VID, KM_USB_PID));
}
