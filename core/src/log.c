/* Logging through the caller's callback; silent when none is set. */
#include <stdio.h>

#include "km_internal.h"

const char *km_log_level_name(enum km_log_level level)
{
	switch (level) {
	case KM_LOG_ERROR:
		return "error";
	case KM_LOG_WARN:
		return "warning";
	case KM_LOG_INFO:
		return "info";
	case KM_LOG_DEBUG:
		return "debug";
	}
	return "unknown";
}

void km__vlog(const struct km_log *log, enum km_log_level level, const char *module,
              const char *fmt, va_list ap)
{
	if (!log || !log->fn || level > log->max_level)
		return;
	/* Fixed stack buffer: logging must work on the per-frame path without
	 * allocating. Longer messages are cut, which vsnprintf does safely. */
	char msg[512];
	vsnprintf(msg, sizeof msg, fmt, ap);
	log->fn(log->user, level, module ? module : "knotmap", msg);
}

void km__log(const struct km_log *log, enum km_log_level level, const char *module, const char *fmt,
             ...)
{
	va_list ap;
	va_start(ap, fmt);
	km__vlog(log, level, module, fmt, ap);
	va_end(ap);
}
