/* proto.c - names and shapes of the calls (PROTOCOL.md §2.3). */
#include "proto.h"

static const struct {
	const char	*name;
	int		 nargs;
	int		 has_list;
} calls[MSG_NTYPES] = {
	[MSG_REGISTER]		= { "Register", 1, 0 },
	[MSG_LIST]		= { "List", 0, 1 },
	[MSG_CHECK_MESSAGES]	= { "CheckMessages", 1, 1 },
	[MSG_TELL]		= { "Tell", 3, 0 },
	[MSG_SAY]		= { "Say", 2, 0 },
	[MSG_QUIT]		= { "Quit", 1, 0 },
	[MSG_SHUTDOWN]		= { "Shutdown", 0, 0 },
};

const char *
msg_type_name(unsigned type)
{
	return type < MSG_NTYPES ? calls[type].name : NULL;
}

int
msg_type_nargs(unsigned type)
{
	return type < MSG_NTYPES ? calls[type].nargs : -1;
}

int
msg_type_has_list(unsigned type)
{
	return type < MSG_NTYPES ? calls[type].has_list : 0;
}

const char *
wire_name(enum wire w)
{
	return w == WIRE_UNFRAMED ? "unframed" : "framed";
}
