/* The error table: complete, distinct, stable. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "km_internal.h"

Test(error, every_code_has_distinct_message_and_name)
{
	for (int a = 0; a >= KM_ERROR_MIN; a--) {
		cr_assert_str_neq(km_strerror(a), "unknown error", "code %d has no message", a);
		cr_assert_str_neq(km_error_name(a), "KM_ERR_UNKNOWN", "code %d has no name", a);
		for (int b = a - 1; b >= KM_ERROR_MIN; b--) {
			cr_assert_str_neq(km_strerror(a), km_strerror(b),
			                  "codes %d and %d share a message", a, b);
			cr_assert_str_neq(km_error_name(a), km_error_name(b));
		}
	}
}

Test(error, table_is_dense_and_min_is_last)
{
	/* KM_ERROR_MIN must be the most negative entry: one past it is unknown. */
	cr_assert_str_eq(km_strerror(KM_ERROR_MIN - 1), "unknown error");
	cr_assert_str_eq(km_error_name(KM_ERROR_MIN - 1), "KM_ERR_UNKNOWN");
	cr_assert_str_eq(km_strerror(1), "unknown error");
	cr_assert_str_eq(km_strerror(-100000), "unknown error");
	cr_assert_str_eq(km_strerror(2147483647), "unknown error");
}

Test(error, names_match_enum_values)
{
	cr_assert_str_eq(km_error_name(KM_OK), "KM_OK");
	cr_assert_str_eq(km_error_name(KM_ERR_BAD_CRC), "KM_ERR_BAD_CRC");
	cr_assert_str_eq(km_error_name(KM_ERR_NO_DEVICE), "KM_ERR_NO_DEVICE");
	cr_assert_str_eq(km_error_name(KM_ERR_INTERNAL), "KM_ERR_INTERNAL");
	cr_assert_str_eq(km_error_name(KM_ERR_LINK_LOOP), "KM_ERR_LINK_LOOP");
	cr_assert_eq(KM_ERR_LINK_LOOP, KM_ERROR_MIN);
}

Test(error, stable_values)
{
	/* Published values: changing one breaks callers that stored them. */
	cr_assert_eq(KM_ERR_INVALID_ARG, -1);
	cr_assert_eq(KM_ERR_NO_MEMORY, -2);
	cr_assert_eq(KM_ERR_TIMEOUT, -8);
	cr_assert_eq(KM_ERR_NO_DEVICE, -12);
	cr_assert_eq(KM_ERR_BAD_CRC, -19);
}

Test(error, errno_mapping)
{
	cr_assert_eq(km__error_from_errno(0), KM_OK);
	cr_assert_eq(km__error_from_errno(ENOSPC), KM_ERR_NO_SPACE);
	cr_assert_eq(km__error_from_errno(EACCES), KM_ERR_PERMISSION);
	cr_assert_eq(km__error_from_errno(ENODEV), KM_ERR_NO_DEVICE);
	cr_assert_eq(km__error_from_errno(ENOENT), KM_ERR_NOT_FOUND);
	cr_assert_eq(km__error_from_errno(EIO), KM_ERR_IO);
	/* each says what is wrong, not "input/output error" */
	cr_assert_eq(km__error_from_errno(EISDIR), KM_ERR_NOT_A_FILE);
	cr_assert_eq(km__error_from_errno(ENAMETOOLONG), KM_ERR_NAME_TOO_LONG);
	cr_assert_eq(km__error_from_errno(ELOOP), KM_ERR_LINK_LOOP);
}
