#!/usr/bin/env python3
"""
broken_client.py - a small rpcchat client (PROTOCOL.md §5, pipe mode, both
wires) with planted bugs, one switch each, to show that every client check
of rpcchat-check can fail, and fails alone.  Without switches
rpcchat-check passes it.

    broken_client.py [--wire framed|unframed] [--BUG ...] [HOST]:PORT USER

--like-2023 is no bug: it plays the 2023 reference client of the unframed
generation (PROTOCOL.md §6), which exits when a poll fails.
"""

import os
import socket
import struct
import sys
import threading
import time

import switches

REGISTER, LIST, CHECK, TELL, SAY, QUIT, SHUTDOWN = range(7)
HAS_LIST = [False, True, True, False, False, False, False]

BUGS = {
    "no-quit-at-eof": "end of input: keeps running, never logs out",
    "collapse-spaces": "a message's words re-joined by single spaces",
    "no-polling": "never calls CheckMessages",
    "poll-too-fast": "polls ten times a second",
    "poll-before-register": "polls before it registers",
    "probe-with-checkmessages": "looks at CheckMessages('probe') first",
    "tell-swapped": "Tell(target, user, message)",
    "list-not-shown": "list sends List and prints nothing",
    "empty-line-sends": "an empty line sends Say(user, '')",
    "unknown-silent": "an unknown command prints nothing",
    "unknown-sends-say": "an unknown command is sent as a Say",
    "error-hidden": "server errors are not printed",
    "exit-on-failed-poll": "a failed poll ends the client",
    "quit-without-quit": "quit exits without sending Quit",
    "quit-hangs": "quit sends Quit and never exits",
    "shutdown-no-exit": "shutdown sends Shutdown and keeps running",
    "no-help": "help prints nothing",
    "messages-hidden": "polled messages are not printed",
    "no-list-count": "reads a list without its count: its first poll does "
                     "not parse, and it exits",
    "exit-on-error": "exits after it printed a server's error",
    "hostile-output": "prints escape sequences and bytes that are not "
                      "UTF-8, and only those for help",
    "like-2023": "no bug: the 2023 reference (unframed, exits when a poll "
                 "fails)",
}

# What a hostile program prints: an escape sequence that clears the
# screen, NUL, a C1 control as a byte (CSI), a byte that is not UTF-8, a
# right-to-left override.
HOSTILE = b"\x1b[2J\x1b[31m\x00\x9b6n\xff\xe2\x80\xae"


def enc_str(s):
    return struct.pack(">H", len(s)) + s


class RPCError(Exception):
    pass


class Client:
    def __init__(self, addr, user, wire, bugs):
        self.addr = addr
        self.user = user
        self.wire = wire
        self.bugs = bugs
        self.lock = threading.Lock()

    def say(self, line, err=False):
        data = line.encode("utf-8", "replace")
        if "hostile-output" in self.bugs:
            data = HOSTILE + data
        with self.lock:
            out = sys.stderr if err else sys.stdout
            out.buffer.write(data + b"\n")
            out.flush()

    def call(self, type_, *args):
        msg = struct.pack(">H", type_) + b"".join(enc_str(a) for a in args)
        if self.wire == "framed":
            msg = struct.pack(">H", len(msg)) + msg
        try:
            with socket.create_connection(self.addr, timeout=5) as s:
                s.sendall(msg)
                data = b""
                while True:
                    c = s.recv(65536)
                    if not c:
                        break
                    data += c
        except OSError as e:
            raise RPCError(str(e))
        if self.wire == "framed":
            if len(data) < 2:
                raise RPCError("no response")
            data = data[2:]
        pos, items = 0, None
        if HAS_LIST[type_] and "no-list-count" in self.bugs:
            # What it takes for the error string is the count; what follows
            # is left over, and that it cannot take.
            ln = struct.unpack_from(">H", data)[0] if len(data) >= 2 else 0
            if len(data) != 2 + ln:
                self.say("bad response: %d bytes left over"
                         % (len(data) - 2 - ln), err=True)
                os._exit(1)
        try:
            if HAS_LIST[type_]:
                n = struct.unpack_from(">H", data)[0]
                pos, items = 2, []
                for _ in range(n):
                    ln = struct.unpack_from(">H", data, pos)[0]
                    items.append(data[pos + 2:pos + 2 + ln])
                    pos += 2 + ln
            ln = struct.unpack_from(">H", data, pos)[0]
            err = data[pos + 2:pos + 2 + ln]
        except struct.error:
            raise RPCError("bad response")
        if err and "error-hidden" not in self.bugs:
            self.say("error: " + err.decode("utf-8", "replace"), err=True)
            if "exit-on-error" in self.bugs:
                os._exit(1)
        if err:
            raise RPCError(err.decode("utf-8", "replace"))
        return items

    def poll(self):
        every = 0.1 if "poll-too-fast" in self.bugs else 1.0
        while True:
            try:
                for m in self.call(CHECK, self.user):
                    if "messages-hidden" not in self.bugs:
                        self.say(m.decode("utf-8", "replace"))
            except RPCError:
                if "exit-on-failed-poll" in self.bugs:
                    os._exit(1)
            time.sleep(every)

    def command(self, line):
        b = self.bugs
        line = line.strip()
        if line == "":
            if "empty-line-sends" in b:
                self.call(SAY, self.user, b"")
            return True
        word, _, rest = line.partition(" ")
        rest = rest.strip()
        if word == "tell":
            target, _, msg = rest.partition(" ")
            msg = msg.strip()
            if "collapse-spaces" in b:
                msg = " ".join(msg.split())
            args = [target.encode(), self.user] if "tell-swapped" in b \
                else [self.user, target.encode()]
            self.call(TELL, *args, msg.encode())
        elif word == "say":
            msg = " ".join(rest.split()) if "collapse-spaces" in b else rest
            self.call(SAY, self.user, msg.encode())
        elif word == "list":
            users = self.call(LIST)
            if "list-not-shown" not in b:
                self.say("users: " + ", ".join(u.decode() for u in users))
        elif word == "help":
            if "hostile-output" in b:
                self.say("")
            elif "no-help" not in b:
                self.say("commands: tell USER MSG, say MSG, list, quit, "
                         "shutdown, help")
        elif word == "quit":
            self.say("quitting")
            if "quit-without-quit" not in b:
                self.call(QUIT, self.user)
            if "quit-hangs" in b:
                while True:
                    time.sleep(1)
            return False
        elif word == "shutdown":
            self.call(SHUTDOWN)
            if "shutdown-no-exit" in b:
                return True
            return False
        else:
            if "unknown-sends-say" in b:
                self.call(SAY, self.user, line.encode())
            if "unknown-silent" not in b:
                self.say("unknown command: " + word, err=True)
        return True

    def run(self):
        b = self.bugs
        if "probe-with-checkmessages" in b:
            try:
                self.call(CHECK, b"probe")
            except RPCError:
                pass
        if "poll-before-register" in b:
            try:
                self.call(CHECK, self.user)
            except RPCError:
                pass
        self.call(REGISTER, self.user)
        if "no-polling" not in b:
            threading.Thread(target=self.poll, daemon=True).start()
        for line in sys.stdin:
            try:
                if not self.command(line):
                    return 0
            except RPCError:
                pass
        if "no-quit-at-eof" in b:
            while True:
                time.sleep(1)
        self.call(QUIT, self.user)
        return 0


def main():
    ap = switches.parser(BUGS, __doc__.split("\n\n")[0])
    ap.add_argument("addr")
    ap.add_argument("user")
    a = ap.parse_args()
    host, _, port = a.addr.rpartition(":")
    bugs = set(a.bugs)
    wire = a.wire
    if "like-2023" in bugs:
        bugs.add("exit-on-failed-poll")
        wire = "unframed"
    c = Client((host or "localhost", int(port)), a.user.encode(), wire, bugs)
    try:
        return c.run()
    except RPCError as e:
        c.say("error: %s" % e, err=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
