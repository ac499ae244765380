/*
 * text.h - showing bytes someone else chose.
 *
 * Messages and names arrive from the network and may hold anything,
 * including terminal escape sequences and newlines.  Before they reach a
 * terminal or a log they pass through here.
 */
#ifndef RPCCHAT_TEXT_H
#define RPCCHAT_TEXT_H

#include "buf.h"
#include "codec.h"

/*
 * Appends s with every C0 control character and DEL shown as ^X (and NUL
 * as ^@), so the result is one line that cannot move the cursor.  Other
 * bytes, UTF-8 included, pass unchanged.
 */
void	text_escape(struct buf *, struct span s);

/* ASCII white space: space, \t, \n, \v, \f, \r (not the locale's). */
int		text_is_space(char);
/* s without leading and trailing ASCII white space. */
struct span	text_trim(struct span s);

#endif
