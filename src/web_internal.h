/*
 * web_internal.h - what the web front end's three files share, and no
 * other module: web.c (the front end as a whole, its sessions and the
 * target's lookup), web_http.c (HTTP, by libmicrohttpd) and web_page.c
 * (a tab's WebSocket, by wslay).  web.h is the contract for the rest.
 */
#ifndef RPCCHAT_WEB_INTERNAL_H
#define RPCCHAT_WEB_INTERNAL_H

#include <sys/queue.h>
#include <sys/socket.h>

#include <microhttpd.h>
#include <wslay/wslay.h>

#include "buf.h"
#include "resolve.h"
#include "timers.h"
#include "web.h"
#include "web_session.h"

/* HTTP connections beyond the sessions' WebSockets: page loads. */
#define HTTP_EXTRA		64

#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)			\
	for ((var) = TAILQ_FIRST(head);					\
	    (var) != NULL && ((tvar) = TAILQ_NEXT(var, field), 1);	\
	    (var) = (tvar))
#endif

TAILQ_HEAD(page_list, page);
TAILQ_HEAD(entry_list, entry);
TAILQ_HEAD(http_list, http);

/* One HTTP connection, from accept to close or upgrade. */
struct http {
	MHD_socket		 fd;
	long long		 deadline;
	struct http_list	*list;		/* waiting, or past it */
	TAILQ_ENTRY(http)	 entry;
};

/* One WebSocket: a tab of the page. */
struct page {
	struct web		*web;
	int			 fd;
	struct MHD_UpgradeResponseHandle *urh;
	wslay_event_context_ptr	 ws;
	struct sockaddr_storage	 from;
	struct entry		*session;	/* attached, or NULL */
	char			*extra;		/* read by libmicrohttpd */
	size_t			 extra_len, extra_off;
	size_t			 budget;	/* of this turn's reading */
	int			 paused;	/* the session's queue is full */
	int			 failed;
	int			 watched;	/* the mask on the loop */
	int			 attempts;	/* logins and resumes asked */
	struct buf		 out;
	TAILQ_ENTRY(page)	 link;
};

/* A session and the address that started it. */
struct entry {
	struct web_session	*s;
	struct page		*page;
	struct sockaddr_storage	 from;
	TAILQ_ENTRY(entry)	 link;
};

struct web {
	const struct web_opts	*opts;
	struct ae_loop		*loop;
	struct timers		 timers;
	struct web_shared	 sh;
	struct MHD_Daemon	*mhd;
	int			 mhd_fd;
	int			 mhd_due;	/* MHD_run on the next tick */
	struct MHD_Response	*files[4];	/* page, style, script, icon */
	struct MHD_Response	*errors[5];
	struct http_list	 waiting;	/* for a request, in order */
	struct http_list	 answered;	/* or cut off */
	struct page_list	 pages;
	struct entry_list	 entries;
	int			 nhttp;		/* all of libmicrohttpd's */
	int			 nsessions;
	int			 stopping;
	/* The shared lookup of the target's name. */
	struct resolve		*lookup;
	long long		 lookup_retry;	/* failed: not before then */
	long long		 last_refusal_log;
};

/* web_http.c: the page's listener and libmicrohttpd on the loop. */
int	web_http_start(struct web *, char *err, size_t errlen);
/* Runs libmicrohttpd if due; returns its next deadline, or -1. */
long long web_http_run(struct web *, long long now);
void	web_http_free(struct web *);

/* web_page.c: a WebSocket handed over by libmicrohttpd. */
void	web_page_open(struct web *, int fd, struct MHD_UpgradeResponseHandle *,
	    const char *extra, size_t extra_len,
	    const struct sockaddr_storage *from);
/* Takes what its session has for it; watches what wslay wants. */
void	web_page_sync(struct page *);
void	web_page_close(struct page *);

#endif
