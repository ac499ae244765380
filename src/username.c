/* username.c - the Register name rules (see username.h). */
#include <unictype.h>
#include <unistr.h>

#include "proto.h"
#include "username.h"

enum username_status
username_check(struct span name)
{
	const uint8_t *p = (const uint8_t *)name.p, *end = p + name.len;
	ucs4_t uc;
	int n;

	if (name.len < 1 || name.len > USER_MAX)
		return USERNAME_BAD_LENGTH;
	while (p < end) {
		/* u8_mbtouc_unsafe-free: a malformed sequence is refused. */
		n = u8_mbtoucr(&uc, p, (size_t)(end - p));
		if (n <= 0)
			return USERNAME_BAD_CHAR;
		if (!uc_is_general_category(uc, UC_CATEGORY_L) &&
		    !uc_is_general_category(uc, UC_CATEGORY_Nd))
			return USERNAME_BAD_CHAR;
		p += n;
	}
	return USERNAME_OK;
}
