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
 * Appends s with every C0 control character and DEL shown as ^X (NUL as
 * ^@, DEL as ^?) and every C1 control, U+0080-U+009F in UTF-8, as M-^X,
 * so the result is one line that cannot move the cursor.  Other bytes,
 * the rest of UTF-8 and invalid sequences included, pass unchanged.
 */
void	text_escape(struct buf *, struct span s);

/* ASCII white space: space, \t, \n, \v, \f, \r (not the locale's). */
int		text_is_space(char);
/* s without leading and trailing ASCII white space. */
struct span	text_trim(struct span s);

#endif
