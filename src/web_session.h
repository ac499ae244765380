/*
 * web_session.h - one browser tab's chat (PROTOCOL.md §9): a client of the
 * target server like the terminal's (PROTOCOL.md §5), made of non-blocking
 * calls on the front end's loop (call_ae.h).
 *
 * It finds the server's generation with a List (PROTOCOL.md §6), which
 * also shows whether the name is taken, registers, polls about once a
 * second, runs the lines typed on the page one call at a time in the
 * order typed, and says once when the server cannot be reached (or
 * cannot reach its store) and when it is back, registering again if the
 * server forgot us.  When its page goes away it keeps polling for a
 * grace period, so that a reload finds it (by its token) with what
 * arrived meanwhile; then it logs out.
 *
 * What it has for its page is pulled, not pushed (web_session_next), so a
 * page that reads slowly costs its own session's bounded log, nothing
 * else: the log keeps the latest lines up to a byte cap, and a page that
 * falls behind is told how many it missed.
 *
 * The JSON messages for the page:
 *	{"t":"session","token":T,"user":U,"server":S}	logged in (or resumed)
 *	{"t":"refused","why":W}		the login failed; the page may try again
 *	{"t":"line","seq":N,"at":MS,"k":KIND,"text":X[,"join":U|"leave":U]}
 *	{"t":"users","users":[U,...]}	who is logged in, from a List
 *	{"t":"bye"}			logged out after /quit
 * (KIND: web_line_kind_name; MS: milliseconds since the epoch.)  The
 * front end adds two of its own (web_page.c): {"t":"expired"}, no
 * session has that token (any more), and {"t":"taken"}, another tab
 * resumed this one's session.
 */
#ifndef RPCCHAT_WEB_SESSION_H
#define RPCCHAT_WEB_SESSION_H

#include <stdint.h>

#include "ae.h"
#include "buf.h"
#include "rpc_call.h"
#include "span.h"
#include "timers.h"
#include "web_msg.h"

struct web_session;

/* What every session of a front end shares; the front end owns it. */
struct web_shared {
	struct ae_loop	*loop;
	struct timers	*timers;
	struct rpc_target srv;		/* the target; srv.peer is &peer */
	struct rpc_peer	 peer;		/* its addresses, looked up once */
	int		 wire_known;	/* srv.wire has answered a List */
	char		 server[300];	/* the target, for people */
	size_t		 log_max;	/* bytes of lines kept per session */
	int		 grace_ms;	/* a page gone, before Quit */
	/*
	 * The owner's.  target_ready: 1 when calls can start (the peer has
	 * addresses), 0 when a lookup is running (every session is kicked
	 * when it ends), -1 when it failed (why in target_err).  output:
	 * a session has something new for its page.  ended: a session is
	 * over; free it once this returns.
	 */
	int		(*target_ready)(struct web_shared *);
	char		 target_err[256];
	void		(*output)(struct web_shared *, struct web_session *);
	void		(*ended)(struct web_shared *, struct web_session *);
	void		*owner;
};

/*
 * A session logging in as name (already checked by username_prepare:
 * the name to send).  token is WEB_TOKEN_LEN hex digits; owner is the
 * front end's, for web_session_owner.
 */
struct web_session *web_session_new(struct web_shared *, struct span name,
		    const char *token, void *owner);
void		 web_session_free(struct web_session *);

const char	*web_session_token(const struct web_session *);
/* The name it logs in with (as sent). */
struct span	 web_session_name(const struct web_session *);
/* The front end's own record of the session, given to web_session_new. */
void		*web_session_owner(const struct web_session *);
/* The page it is attached to (the front end's), or NULL. */
void		*web_session_page(const struct web_session *);
/*
 * A page takes the session, having seen its lines up to seq: what it
 * is sent next starts after seq (or at the oldest line kept).  The page
 * is told who is logged in afresh.
 */
void		 web_session_attach(struct web_session *, void *page,
		    uint64_t seq);
/* Its page went away: the grace period starts. */
void		 web_session_detach(struct web_session *);
/*
 * A line typed on the page.  0 when there is no room for it now (the
 * page must stop reading until web_session_room says there is).
 */
int		 web_session_line(struct web_session *, struct span line);
int		 web_session_room(const struct web_session *);
/* The next message for the page into out (cleared); 0 when none. */
int		 web_session_next(struct web_session *, struct buf *out);
/* The target's lookup is over: go on with whatever waited for it. */
void		 web_session_kick(struct web_session *);
/* Logged in and not leaving. */
int		 web_session_live(const struct web_session *);
/* Start logging out now (the front end is stopping). */
void		 web_session_quit(struct web_session *);

#endif
