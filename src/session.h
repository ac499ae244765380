/*
 * session.h - what a chat client decides the same way whatever shows it:
 * the terminal client (client.c) and a browser tab's session
 * (web_session.c), both clients of PROTOCOL.md §5.
 *
 * The words they say alike (a failed call, a sloppy server, the users
 * logged in, an unknown command) and how the background poll fares: when
 * the next one is due, with back-off while the server is away, and what
 * its failures tell the user, once per outage rather than once a poll
 * (PROTOCOL.md §5.3, §7).  How the lines are shown, and where, is the
 * caller's: a terminal and a page differ there.
 *
 * Plain data and functions: no I/O, no clock (the caller says when now
 * is).  The lines are appended to a buf the caller gives; bytes from the
 * network or the user in them (names, a typed word) are left as they
 * came, for the caller to escape where it shows them (ui_print_span,
 * web_json_text), except where a function says otherwise.
 */
#ifndef RPCCHAT_SESSION_H
#define RPCCHAT_SESSION_H

#include "buf.h"
#include "command.h"
#include "proto.h"
#include "rpc_call.h"
#include "rpc_client.h"
#include "span.h"

/* The background poll: about once a second, its own deadline. */
#define SESSION_POLL_MS		1000
#define SESSION_POLL_TIMEOUT_MS	3000
/* Back-off while it fails: 1 s, doubling up to this. */
#define SESSION_BACKOFF_MAX_MS	8000
/*
 * The next poll after a full answer: a backlog is drained at a pace
 * people can read, the input served between (~600 KB/s at most).
 */
#define SESSION_BACKLOG_POLL_MS	100

/*
 * Whether the text a Say (CMD_SAY) or a Tell (CMD_TELL) of msg from user
 * would deliver, "USER says MSG" or "USER tells you MSG", is longer than
 * a message may be (PROTOCOL.md §4.1).
 */
int	session_too_long(struct span user, enum cmd_kind, struct span msg);

/*
 * "unknown command: PREFIXWORD": the word cut at a character boundary
 * when it is long, and "..." after a cut.
 */
void	session_unknown(struct buf *, const char *prefix, struct span word);

/* "2 users logged in: alice, bob", or "No users logged in". */
void	session_users(struct buf *, const struct rpc_strlist *);

/*
 * A failed call in one line, "WHAT: why", or the server's own words
 * when they name the call already ("Say: user x is not logged in").
 * The text of err is shown as it is (rpc_error keeps a server's escaped).
 */
void	session_describe(struct buf *, const char *what, enum msg_type,
	    const struct rpc_error *);

/*
 * The outcome of a call that is done, whose request was of type: 0 with
 * its results in list, or -1 with err.  err->sloppy says whether the
 * response broke the rules in a way that was tolerated.
 */
int	session_outcome(const struct rpc_call *, enum msg_type,
	    struct rpc_strlist *list, struct rpc_error *err);

/*
 * "*** note: ..." about a sloppy response (PROTOCOL.md §5.3), once per
 * session for each call and kind of fault; noted keeps track.  1 when
 * the note is in out, to be said now.
 */
int	session_note_sloppy(unsigned noted[MSG_NTYPES],
	    const struct rpc_error *, struct buf *out);

/* Whether name is one of the users (a List's). */
int	session_listed(const struct rpc_strlist *users, struct span name);

/* The note that the server speaks the older generation (PROTOCOL.md §6). */
void	session_unframed_note(struct buf *, const char *server);

/*
 * Whether the answer of a poll is the server saying it has forgotten
 * user ("*** You are not logged in, USER": it restarted, or timed us
 * out), so that the client registers again.
 */
int	session_forgotten(const struct rpc_strlist *msgs, struct span user);

/*
 * "*** the server at SERVER is back", after an outage; "; logged in
 * again as NAME" when the server had forgotten us meanwhile.  Logged in
 * again without an outage: "*** the server had logged us out; logged in
 * again as NAME".  name as shown (escaped).
 */
void	session_back(struct buf *, const char *server);
void	session_registered_again(struct buf *, const char *server,
	    const char *name, int after_outage);

/*
 * Lines typed while a command's call is in flight: run after it, one
 * call at a time, in the order typed.  The caller bounds it, in bytes.
 * Zeroed is empty.
 */
struct session_queue {
	struct buf	 bytes;		/* each line: its length, its bytes */
	size_t		 n;		/* lines in it */
};

void	session_queue_push(struct session_queue *, struct span line);
/* The oldest line, taken out, into line (cleared); 0 when none. */
int	session_queue_pop(struct session_queue *, struct buf *line);
/* Forgets every line: they will not run. */
void	session_queue_clear(struct session_queue *);
void	session_queue_free(struct session_queue *);

/*
 * An outage the user has been told of.  Unreachable: calls do not get
 * an answer.  No store: the server answers, but only that it cannot
 * reach its shared store (PROTOCOL.md §7): for the user it is the same,
 * the chat is away until the server answers again.
 */
enum session_outage {
	SESSION_UP = 0,
	SESSION_UNREACHABLE,
	SESSION_NO_STORE
};

/* How the background poll fares.  Zeroed, polls start at once. */
struct session_poll {
	long long		 next;		/* when the next one is due */
	int			 backoff_ms;	/* 0 while polls are answered */
	enum session_outage	 outage;
	struct buf		 failing;	/* another failure, said: its
						   text */
};

/* What a failed poll has for the user. */
enum session_say {
	SESSION_QUIET,		/* nothing new */
	SESSION_NOTICE,		/* news of the server: shown where the
				   messages are (a terminal's stdout) */
	SESSION_FAILURE		/* a failure: shown where failures are
				   (stderr) */
};

void	session_poll_free(struct session_poll *);

/*
 * The poll (what, a call of type: the CheckMessages, or the Register
 * after one) to server failed at now with err: the next one backs off.
 * An outage is said once, when it starts: "*** cannot reach the server:
 * WHY; retrying", or "*** the server at SERVER cannot reach its store;
 * retrying".  Should an unreachable server answer again only to say
 * its store is away, that is said too; the other way round it is not (a
 * server waiting for its store may well pass the poll's deadline).  Any
 * other failure is said as session_describe, once until its text
 * changes or a poll is answered.  The line is in out.
 */
enum session_say session_poll_failed(struct session_poll *,
	    const char *server, const char *what, enum msg_type,
	    const struct rpc_error *, long long now, struct buf *out);

/*
 * A poll was answered at now: the next is due in a second.  Returns
 * whether that ends an outage the user was told of (session_back).
 */
int	session_poll_answered(struct session_poll *, long long now);

/*
 * Whether the answer msgs filled most of a frame, so more is waiting
 * (PROTOCOL.md §4.2): if so the next poll is due soon.
 */
int	session_poll_more(struct session_poll *, const struct rpc_strlist *,
	    long long now);

#endif
