/* Error table: messages and names generated from KM_ERROR_TABLE. */
#include <errno.h>

#include "km_internal.h"

struct error_entry {
	int code;
	const char *name;
	const char *message;
};

static const struct error_entry error_table[] = {
#define KM__ERROR_ENTRY(name, value, msg) {value, #name, msg},
    KM_ERROR_TABLE(KM__ERROR_ENTRY)
#undef KM__ERROR_ENTRY
};

static const struct error_entry *find_error(int code)
{
	/* Codes are dense 0..KM_ERROR_MIN, so the table index is -code; still
	 * verify in case someone appends out of order. */
	if (code <= 0 && code >= KM_ERROR_MIN) {
		size_t idx = (size_t)(-(long)code);
		if (idx < KM_ARRAY_SIZE(error_table) && error_table[idx].code == code)
			return &error_table[idx];
	}
	for (size_t i = 0; i < KM_ARRAY_SIZE(error_table); i++)
		if (error_table[i].code == code)
			return &error_table[i];
	return NULL;
}

const char *km_strerror(int code)
{
	const struct error_entry *e = find_error(code);
	return e ? e->message : "unknown error";
}

const char *km_error_name(int code)
{
	const struct error_entry *e = find_error(code);
	return e ? e->name : "KM_ERR_UNKNOWN";
}

int km__error_from_errno(int err)
{
	switch (err) {
	case 0:
		return KM_OK;
	case ENOMEM:
		return KM_ERR_NO_MEMORY;
	case ENOSPC:
	case EDQUOT:
	case EFBIG:
		return KM_ERR_NO_SPACE;
	case EACCES:
	case EPERM:
	case EROFS:
		return KM_ERR_PERMISSION;
	case ENOENT:
	case ENOTDIR:
		return KM_ERR_NOT_FOUND;
	case EEXIST:
		return KM_ERR_EXISTS;
	case EBUSY:
		return KM_ERR_BUSY;
	case ETIMEDOUT:
		return KM_ERR_TIMEOUT;
	case EINTR:
		return KM_ERR_INTERRUPTED;
	case ENODEV:
	case ENXIO:
		return KM_ERR_NO_DEVICE;
	case EINVAL:
		return KM_ERR_INVALID_ARG;
	case EPIPE:
		return KM_ERR_PIPE;
	case EISDIR:
		return KM_ERR_NOT_A_FILE;
	case ENAMETOOLONG:
		return KM_ERR_NAME_TOO_LONG;
	case ELOOP:
		return KM_ERR_LINK_LOOP;
	default:
		return KM_ERR_IO;
	}
}
