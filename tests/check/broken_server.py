#!/usr/bin/env python3
"""
broken_server.py - a small rpcchat server (PROTOCOL.md §2-§4, both wires) with
planted bugs, one switch each, to show that every check of rpcchat-check
can fail, and fails alone.  Without switches it follows PROTOCOL.md, and
rpcchat-check passes it.

    broken_server.py [--wire framed|unframed] [--BUG ...] PORT

The bugs are those found in implementations people wrote; see BUGS below.
--like-2023 is no bug: it plays the 2023 reference of the unframed
generation (PROTOCOL.md §6), which follows the assignment and nothing
more.  tests/e2e/test_check.py runs rpcchat-check against each and
asserts that exactly the checks named there fail.
"""

import os
import socket
import struct
import sys
import threading
import time
import unicodedata

import switches

REGISTER, LIST, CHECK, TELL, SAY, QUIT, SHUTDOWN = range(7)
NAMES = ["Register", "List", "CheckMessages", "Tell", "Say", "Quit",
         "Shutdown"]
NARGS = [1, 0, 1, 3, 2, 1, 0]
HAS_LIST = [False, True, True, False, False, False, False]
FRAME_MAX = 65535
QUEUE_LIMIT = 10000

# What a hostile program prints: an escape sequence that clears the
# screen, NUL, a C1 control as a byte (CSI), a byte that is not UTF-8, a
# right-to-left override, a newline.
HOSTILE = b"\x1b[2J\x1b[31m\x00\x9b6n\xff\xe2\x80\xae\nX"

BUGS = {
    "no-error-string-on-list": "List response without its error string",
    "check-four-zero-bytes": "CheckMessages ends in 00 00 00 00, not 00 00",
    "register-error-length-twice": "Register errors carry their length "
                                   "twice",
    "double-error-on-tell": "Tell's error string written twice",
    "list-no-count": "List response without its u16 count",
    "nul-strings": "its own string encoding: NUL-terminated, no length",
    "doubled-length": "framed: every response starts with its length twice",
    "unsorted-list": "List in registration order",
    "notice-to-sender": "the login notice goes to the new user too",
    "reregister-no-notice": "registering again tells nobody",
    "reregister-keeps-queue": "registering again keeps the old queue",
    "refused-register-adds-user": "a refused Register logs the user in all "
                                  "the same",
    "quit-register-old-queue": "Quit hides the queue; Register after Quit "
                               "brings it back",
    "length-in-characters": "Register counts characters, not bytes",
    "ascii-names-only": "Register refuses non-ASCII letters",
    "any-name": "Register accepts any character",
    "reversed-queue": "CheckMessages returns the newest first",
    "not-logged-in-text": "CheckMessages for a stranger: another text",
    "tell-unknown-silent": "Tell to nobody tells nobody",
    "tell-text": "Tell delivers 'X tells Y' without 'you'",
    "say-not-to-sender": "Say skips the sender",
    "no-logout-notice": "Quit tells nobody",
    "quit-keeps-user": "Quit leaves the user in List",
    "quit-keeps-queue": "Quit keeps the queue; CheckMessages still reads it",
    "serial": "one connection at a time, blocking on a silent one",
    "keep-open": "keeps each connection open after its response, until the "
                 "client closes it",
    "several-calls": "serves several calls on one connection",
    "answer-at-eof": "reads until the client's end of file, then answers",
    "drip": "after its response, one byte every 5 s, never closing",
    "crash-on-empty-connection": "exits when a connection sends nothing",
    "crash-on-malformed": "exits on a request cut short",
    "malformed-no-error": "a request cut short is answered with an empty "
                          "error",
    "left-over-ignored": "bytes left over after the arguments are ignored, "
                         "as the assignment's reference does",
    "unknown-type-close": "framed: an unknown type is closed, not answered",
    "shutdown-never-stops": "Shutdown answered, the server keeps running",
    "shutdown-never-closes": "Shutdown answered, the connection never "
                             "closed, the server still running",
    "shutdown-unanswered": "Shutdown closes without answering, then exits",
    "shutdown-exit-1": "exits with status 1 after Shutdown",
    "no-not-logged-in-errors": "Say/Tell/Quit from strangers succeed",
    "no-message-limit": "no 'message too long'",
    "no-split": "CheckMessages returns everything; the frame length wraps",
    "no-user-limit": "Register never says 'too many users'",
    "no-queue-limit": "queues grow without bound",
    "hostile-log": "its log is full of escape sequences and bytes that are "
                   "not UTF-8",
    "hostile-errors": "its error strings start with escape sequences and "
                      "bytes that are not UTF-8",
    "cannot-start": "exits with status 1 at once",
    "never-listens": "runs but never listens",
    "like-2023": "no bug: the 2023 reference (unframed, the assignment's "
                 "functions only)",
}

# What the 2023 reference does beyond the unframed wire: the assignment's
# functions and nothing more.
LIKE_2023 = {"no-not-logged-in-errors", "no-message-limit", "no-split",
             "no-user-limit", "no-queue-limit", "check-any-name"}


def u16(n):
    return struct.pack(">H", n & 0xFFFF)


class Short(Exception):
    pass


def valid_name(name, bugs):
    n = len(name.decode("utf-8", "replace")) if "length-in-characters" in bugs \
        else len(name)
    if n < 1 or n > 20:
        return "Register: user must be between 1 and 20 letters"
    if "any-name" in bugs:
        return None
    try:
        text = name.decode("utf-8")
    except UnicodeDecodeError:
        return "Register: user must only contain letters and digits"
    for ch in text:
        cat = unicodedata.category(ch)
        if not (cat.startswith("L") or cat == "Nd") or \
                ("ascii-names-only" in bugs and ord(ch) > 127):
            return "Register: user must only contain letters and digits"
    return None


class Chat:
    def __init__(self, bugs):
        self.bugs = bugs
        self.lock = threading.Lock()
        self.queues = {}
        self.dropped = {}       # user -> messages dropped since delivery
        self.order = []         # registration order, for unsorted-list
        self.ghosts = {}        # queues Quit kept (quit-keeps-queue, ...)

    def queue(self, user, text):
        q = self.queues[user]
        q.append(text)
        if len(q) > QUEUE_LIMIT and "no-queue-limit" not in self.bugs:
            del q[0]
            self.dropped[user] = self.dropped.get(user, 0) + 1

    def list_size(self, extra):
        names = list(self.queues) + [extra]
        return 2 + sum(2 + len(n) for n in names) + 2

    def call(self, type_, args):
        """(items or None, error bytes)."""
        bugs = self.bugs
        q = self.queues
        with self.lock:
            if type_ == REGISTER:
                user = args[0]
                why = valid_name(user, bugs)
                if why and "refused-register-adds-user" not in bugs:
                    return None, why.encode()
                if user not in q and "no-user-limit" not in bugs and \
                        self.list_size(user) > FRAME_MAX:
                    return None, b"Register: too many users"
                again = user in q
                note = b"*** %s has logged in" % user
                if not (again and "reregister-no-notice" in bugs):
                    for u in q:
                        if u != user:
                            self.queue(u, note)
                if "reregister-keeps-queue" not in bugs or user not in q:
                    q[user] = []
                if "quit-register-old-queue" in bugs and user in self.ghosts:
                    q[user] = self.ghosts.pop(user)
                self.ghosts.pop(user, None)
                if "notice-to-sender" in bugs:
                    self.queue(user, note)
                if user not in self.order:
                    self.order.append(user)
                return None, why.encode() if why else b""
            if type_ == LIST:
                if "unsorted-list" in bugs:
                    return [u for u in self.order if u in q], b""
                return sorted(q), b""
            if type_ == CHECK:
                user = args[0]
                if valid_name(user, ()) is not None and \
                        "check-any-name" not in bugs:
                    return [], b"CheckMessages: invalid user name"
                if user not in q and user in self.ghosts and \
                        "quit-keeps-queue" in bugs:
                    return self.ghosts.pop(user), b""
                if user not in q:
                    if "not-logged-in-text" in bugs:
                        return [b"not logged in"], b""
                    return [b"*** You are not logged in, " + user], b""
                if self.dropped.get(user):
                    q[user].insert(0, b"*** %d messages were dropped"
                                   % self.dropped.pop(user))
                queue = q[user]
                if "no-split" in bugs:
                    out, q[user] = queue, []
                else:
                    size, n = 4, 0
                    while n < len(queue) and \
                            size + 2 + len(queue[n]) <= FRAME_MAX:
                        size += 2 + len(queue[n])
                        n += 1
                    out, q[user] = queue[:n], queue[n:]
                if "reversed-queue" in bugs:
                    out = out[::-1]
                return out, b""
            user = args[0] if args else b""
            if type_ in (TELL, SAY, QUIT) and user not in q and \
                    "no-not-logged-in-errors" not in bugs:
                return None, b"%s: user %s is not logged in" % (
                    NAMES[type_].encode(), user)
            if type_ == TELL:
                target, msg = args[1], args[2]
                text = b"%s tells %s%s" % (user, b"" if "tell-text" in bugs
                                           else b"you ", msg)
                if len(text) > FRAME_MAX - 6 and \
                        "no-message-limit" not in bugs:
                    return None, b"message too long"
                if target in q:
                    self.queue(target, text)
                elif user in q and "tell-unknown-silent" not in bugs:
                    self.queue(user, b"*** No such user: " + target)
                return None, b""
            if type_ == SAY:
                text = b"%s says %s" % (user, args[1])
                if len(text) > FRAME_MAX - 6 and \
                        "no-message-limit" not in bugs:
                    return None, b"message too long"
                for u in q:
                    if u != user or "say-not-to-sender" not in bugs:
                        self.queue(u, text)
                return None, b""
            if type_ == QUIT:
                if ("quit-keeps-queue" in bugs or
                        "quit-register-old-queue" in bugs) and user in q:
                    self.ghosts[user] = q[user]
                if "quit-keeps-user" not in bugs:
                    q.pop(user, None)
                if "no-logout-notice" not in bugs:
                    for u in q:
                        if u != user:
                            self.queue(u, b"*** %s has logged out" % user)
                return None, b""
            return None, b""


class Conn:
    """Reads a request, field by field (unframed) or as a frame."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.got_any = False
        self.eof = False
        self.answered = False

    def fill(self):
        c = self.sock.recv(65536)
        if not c:
            self.eof = True
            raise Short()
        self.got_any = True
        self.buf += c

    def take(self, n):
        while len(self.buf) < n:
            self.fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def take_nul(self):
        """A NUL-terminated string (nul-strings)."""
        while b"\0" not in self.buf:
            self.fill()
        out, _, self.buf = self.buf.partition(b"\0")
        return out

    def read_all(self):
        """Everything up to the client's end of file (answer-at-eof)."""
        try:
            while True:
                self.fill()
        except Short:
            pass


class Server:
    def __init__(self, port, wire, bugs):
        self.wire = wire
        self.bugs = bugs
        self.chat = Chat(bugs)
        self.sock = socket.create_server(("", port), family=socket.AF_INET6,
                                         dualstack_ipv6=True, reuse_port=False)
        self.port = self.sock.getsockname()[1]
        self.stopping = False

    def log(self, text):
        line = time.strftime("%H:%M:%S ").encode() + text.encode()
        if "hostile-log" in self.bugs:
            line += b" " + HOSTILE
        sys.stderr.buffer.write(line + b"\n")
        sys.stderr.flush()

    def run(self):
        self.log("Listening on :%d" % self.port)
        while True:
            conn, _ = self.sock.accept()
            if "serial" in self.bugs:
                self.serve(conn)
            else:
                threading.Thread(target=self.serve, args=(conn,),
                                 daemon=True).start()

    def enc_str(self, s):
        if "nul-strings" in self.bugs:
            return s + b"\0"
        return u16(len(s)) + s

    def respond(self, type_, items, err):
        if err and "hostile-errors" in self.bugs:
            err = HOSTILE + err
        msg = b""
        if items is not None:
            if not (type_ == LIST and "list-no-count" in self.bugs):
                msg += u16(len(items))
            msg += b"".join(self.enc_str(i) for i in items)
        if type_ == LIST and "no-error-string-on-list" in self.bugs:
            pass
        elif type_ == REGISTER and err and \
                "register-error-length-twice" in self.bugs:
            msg += u16(len(err)) + self.enc_str(err)
        else:
            msg += self.enc_str(err)
        if type_ == TELL and "double-error-on-tell" in self.bugs:
            msg += self.enc_str(err)
        if type_ == CHECK and "check-four-zero-bytes" in self.bugs:
            msg += b"\x00\x00"
        if self.wire == "unframed":
            return msg
        if "doubled-length" in self.bugs:
            return u16(len(msg)) + u16(len(msg)) + msg
        return u16(len(msg)) + msg

    def short(self, type_, why, cut=False):
        if "crash-on-malformed" in self.bugs:
            self.log("panic: %s" % why)
            os._exit(2)
        if "like-2023" in self.bugs:
            # The 2023 reference answers a CheckMessages cut short with the
            # two bytes 00 00 (the framed probe of §6 is one) and closes
            # other requests cut short without a word.
            self.log("dispatch: %s" % why)
            return b"\x00\x00" if type_ == CHECK else None
        err = b"" if "malformed-no-error" in self.bugs and cut else \
            why.encode()
        if type_ is None or type_ >= 7:
            if "hostile-errors" in self.bugs:
                err = HOSTILE + err
            msg = self.enc_str(err)
            return u16(len(msg)) + msg if self.wire == "framed" else msg
        return self.respond(type_, [] if HAS_LIST[type_] else None, err)

    def read_args(self, c, type_):
        if "nul-strings" in self.bugs:
            return [c.take_nul() for _ in range(NARGS[type_])]
        args = []
        for _ in range(NARGS[type_]):
            n = struct.unpack(">H", c.take(2))[0]
            args.append(c.take(n))
        return args

    def parse_args(self, body, type_):
        c = Conn(None)
        c.buf = body

        def no_more():
            raise Short()
        c.fill = no_more
        args = self.read_args(c, type_)
        return args, len(c.buf)

    def serve(self, sock):
        sock.settimeout(None if "serial" in self.bugs else 10)
        c = Conn(sock)
        if "answer-at-eof" in self.bugs:
            c.read_all()
        try:
            while True:
                type_ = self.serve_one(sock, c)
                if type_ == SHUTDOWN and self.stopping:
                    if "shutdown-never-closes" in self.bugs:
                        time.sleep(3600)
                    sock.close()
                    # Only the thread that answered Shutdown stops the
                    # server: another one ending now must not cut that
                    # answer off.
                    if "shutdown-never-stops" not in self.bugs:
                        self.log("shutting down")
                        os._exit(1 if "shutdown-exit-1" in self.bugs else 0)
                    return
                if "several-calls" not in self.bugs or c.eof or \
                        type_ is None:
                    break
                if not c.buf:
                    try:
                        c.fill()
                    except (Short, OSError):
                        break
            if "keep-open" in self.bugs and not c.eof:
                try:
                    while sock.recv(65536):
                        pass
                except OSError:
                    pass
            if "drip" in self.bugs and c.answered:
                try:
                    while True:
                        time.sleep(5)
                        sock.sendall(b"\x00")
                except OSError:
                    pass
        finally:
            sock.close()

    def serve_one(self, sock, c):
        """Reads and answers one request; its type, or None.  Sets
        self.answered (per thread) when a response was written."""
        out = None
        type_ = None
        try:
            if self.wire == "framed":
                n = struct.unpack(">H", c.take(2))[0]
                body = c.take(n)
                if n < 2:
                    out = self.short(None, "request too short")
                else:
                    type_ = struct.unpack_from(">H", body)[0]
                    if type_ >= 7:
                        if "unknown-type-close" in self.bugs:
                            return None
                        out = self.short(type_, "unknown message type %d"
                                         % type_)
                    else:
                        args, left = self.parse_args(body[2:], type_)
                        if left and "left-over-ignored" not in self.bugs:
                            out = self.short(type_, "%s: %d bytes left over"
                                             % (NAMES[type_], left))
                        else:
                            out = self.call(type_, args)
            else:
                type_ = struct.unpack(">H", c.take(2))[0]
                if type_ >= 7:
                    self.log("dispatch: message type out of range: %d"
                             % type_)
                    return None
                out = self.call(type_, self.read_args(c, type_))
        except Short:
            if not c.got_any and "crash-on-empty-connection" in self.bugs:
                self.log("panic: EOF")
                os._exit(2)
            if c.got_any:
                t = type_ if type_ is not None and type_ < 7 else None
                out = self.short(t, "%s: request too short" % NAMES[t]
                                 if t is not None else "request too short",
                                 cut=True)
            type_ = None
        except OSError:
            return None
        self.log("%s from a client" % (NAMES[type_] if type_ is not None and
                                       type_ < 7 else "a bad request"))
        if out is not None:
            try:
                sock.sendall(out)
                c.answered = True
            except OSError:
                pass
        return type_

    def call(self, type_, args):
        if type_ == SHUTDOWN:
            self.stopping = True
            if "shutdown-unanswered" in self.bugs:
                return None
            return self.respond(SHUTDOWN, None, b"")
        items, err = self.chat.call(type_, args)
        return self.respond(type_, items, err)


def main():
    ap = switches.parser(BUGS, __doc__.split("\n\n")[0])
    ap.add_argument("port", type=int)
    a = ap.parse_args()
    bugs = set(a.bugs)
    if "cannot-start" in bugs:
        sys.stderr.write("broken_server: cannot start (planted)\n")
        return 1
    if "never-listens" in bugs:
        time.sleep(3600)
        return 1
    wire = a.wire
    if "like-2023" in bugs:
        bugs |= LIKE_2023
        wire = "unframed"
    Server(a.port, wire, bugs).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
