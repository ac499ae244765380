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
#include "span.h"

/*
 * Appends s shown so that it is one line that cannot move the cursor or
 * reorder what follows (PROTOCOL.md §5.4), the one function for the client's
 * screen and the server's log:
 *   C0 controls and DEL		^X (NUL ^@, ESC ^[, DEL ^?)
 *   C1 controls U+0080-U+009F (UTF-8)	M-^X, like cat -v (CSI M-^[)
 *   bytes 0x80-0x9F outside UTF-8	\xHH (CSI \x9B)
 *   bidi U+202A-U+202E, U+2066-U+2069	<U+XXXX>
 * Everything else passes unchanged: valid UTF-8 (E4 B8 80 stays), and
 * invalid bytes from 0xA0 up.  NUL never cuts the text short.  b->data is
 * never NULL afterwards, even for an empty s, and a NUL follows the text
 * (not counted in b->len).
 */
void	text_escape(struct buf *, struct span s);

/* ASCII white space: space, \t, \n, \v, \f, \r (not the locale's). */
int		text_is_space(char);
/* s without leading and trailing ASCII white space. */
struct span	text_trim(struct span s);

#endif
