"""
fakeserver.py - the scripted server of the client's tests (PROTOCOL.md
§5.3, §5.4, §6).

A FakeServer listens on loopback and keeps a small chat of its own: it
answers every call as a good server would, with the texts of PROTOCOL.md
§3.2, unless the test tells it how to go wrong:

* behaviour - how calls other than Register and List are answered:
  "normal"; "silent", never; "trickle", a byte a second; "reset", with a
  TCP reset; "flood", every CheckMessages with the 60 KB of FLOOD;
  "empty", an empty user name in the List and empty strings in the first
  CheckMessages.
* wire - "framed" or "unframed" (the older generation, PROTOCOL.md §6);
  gen2023 makes it behave like that generation's reference server: an
  unknown type is closed without a word, and a request cut short by EOF
  is answered with 00 00.
* shapes - {type: f(results, error) -> bytes}: the bytes written, frame
  and all, for the calls a sloppy server gets wrong.
* reply - bytes written to every connection, whatever it sent.

It records the raw bytes of every connection (requests) and the type of
every request read whole (calls), so a test can wait for "a poll is in
flight" or "the client tried to log out" instead of sleeping.  Every
connection is served in a daemon thread of its own, every wait is
bounded, and close() (or the end of a with block) stops them.
"""

import socket
import struct
import threading
import time

import lib
from lib import (REGISTER, LIST, CHECK_MESSAGES, TELL, SAY, QUIT, NARGS,
                 HAS_LIST, enc_str, enc_strlist, frame)

# About 60 KB of messages: more than half a frame, so the client knows
# more is waiting and asks again at once (PROTOCOL.md §4.2).
FLOOD = ["flood %04d " % i + "x" * 990 for i in range(60)]

# What the "empty" behaviour's first CheckMessages brings.
EMPTY_MESSAGES = ["", " tells you ", "after the empty ones"]


class FakeServer:
    BEHAVIOURS = ("normal", "silent", "trickle", "flood", "reset", "empty")

    def __init__(self, behaviour="normal", users=("victim",),
                 host="127.0.0.1", wire="framed", gen2023=False,
                 shapes=None, reply=None):
        assert behaviour in self.BEHAVIOURS, behaviour
        assert wire in lib.WIRES, wire
        self.behaviour = behaviour
        self.wire = wire
        self.gen2023 = gen2023
        self.shapes = shapes or {}
        self.reply = reply
        # One lock for everything below; tests may take it as fake.lock.
        self.cond = threading.Condition()
        self.lock = self.cond
        self.queues = {}        # user -> messages not yet fetched
        self.delivered = []     # (user, message) in the order sent out
        self.requests = []      # raw bytes of each connection
        self.calls = []         # type of each request read whole
        self.empty_sent = False
        for u in (["", "bob"] if behaviour == "empty" else []) + list(users):
            self.queues[u] = []
        self.stopped = threading.Event()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(128)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._accept, daemon=True,
                                       name="fake-accept")
        self.thread.start()

    # -- what the tests set and look at -------------------------------------

    def login(self, user, *messages):
        """user logged in, with these messages waiting."""
        with self.cond:
            self.queues[user] = list(messages)

    @property
    def users(self):
        """Who is logged in, as List would answer."""
        with self.cond:
            return sorted(self.queues)

    def count(self, type_):
        with self.cond:
            return self.calls.count(type_)

    def wait_call(self, type_, timeout=5.0, after=0):
        """Waits until more than `after` requests of type_ were read."""
        deadline = time.monotonic() + lib.scaled(timeout)
        with self.cond:
            while self.calls.count(type_) <= after:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        "the fake server (%s) got no %s request within "
                        "%.1fs; it got %r" % (self.behaviour,
                                              lib.CALL_NAMES[type_],
                                              lib.scaled(timeout),
                                              [lib.CALL_NAMES[t] for t in
                                               self.calls]))
                self.cond.wait(left)

    def close(self):
        self.stopped.set()
        self.sock.close()
        self.thread.join(lib.scaled(5))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # -- reading ------------------------------------------------------------

    def _missing(self, data):
        """Bytes a request still needs: None when whole, -1 for an
        unknown type on the unframed wire (its length is unknowable)."""
        if len(data) < 2:
            return 2 - len(data)
        if self.wire == "framed":
            n = int.from_bytes(data[:2], "big")
            return max(0, 2 + n - len(data)) or None
        t = int.from_bytes(data[:2], "big")
        if t >= len(NARGS):
            return -1
        pos = 2
        for _ in range(NARGS[t]):
            if len(data) < pos + 2:
                return pos + 2 - len(data)
            pos += 2 + int.from_bytes(data[pos:pos + 2], "big")
            if len(data) < pos:
                return pos - len(data)
        return None

    def _read(self, conn):
        """What the connection sent: a whole request, or all until EOF."""
        data = b""
        while True:
            missing = self._missing(data)
            if missing is None or missing == -1:
                return data
            b = conn.recv(65536)
            if not b:
                return data
            data += b

    # -- the chat -----------------------------------------------------------

    def _queue(self, user, text):
        if user in self.queues:
            self.queues[user].append(text)

    def _call(self, t, a):
        """The call applied to the chat: (results list or None, error)."""
        if t == REGISTER:
            for u in self.queues:
                self.queues[u].append("*** %s has logged in" % a[0])
            self.queues[a[0]] = []
            return None, ""
        if t == LIST:
            return sorted(self.queues), ""
        if t == CHECK_MESSAGES:
            if self.behaviour == "flood":
                return FLOOD, ""
            if self.behaviour == "empty" and not self.empty_sent:
                self.empty_sent = True
                return EMPTY_MESSAGES, ""
            if a[0] not in self.queues:
                return ["*** You are not logged in, %s" % a[0]], ""
            got, self.queues[a[0]] = self.queues[a[0]], []
            self.delivered.extend((a[0], m) for m in got)
            return got, ""
        if t == TELL:
            if a[1] in self.queues:
                self._queue(a[1], "%s tells you %s" % (a[0], a[2]))
            else:
                self._queue(a[0], "*** No such user: %s" % a[1])
            return None, ""
        if t == SAY:
            for u in self.queues:
                self._queue(u, "%s says %s" % (a[0], a[1]))
            return None, ""
        if t == QUIT:
            self.queues.pop(a[0], None)
            return None, ""
        return None, "Shutdown: not allowed"

    def _response(self, t, msg):
        """The bytes answering request message msg of type t."""
        if t is None or t >= len(NARGS):
            body = enc_str("request too short" if t is None else
                           "unknown message type %d" % t)
            return frame(body) if self.wire == "framed" else body
        r = lib.Reader(msg[2:])
        args = [lib.text(r.str_bytes()) for _ in range(NARGS[t])]
        with self.cond:
            items, err = self._call(t, args)
        results = enc_strlist(items) if HAS_LIST[t] else b""
        if t in self.shapes:
            return self.shapes[t](results, err.encode())
        body = results + enc_str(err)
        return frame(body) if self.wire == "framed" else body

    # -- serving ------------------------------------------------------------

    def _accept(self):
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True,
                             name="fake-conn").start()

    def _serve(self, conn):
        conn.settimeout(lib.scaled(30))
        try:
            self._serve_one(conn)
        except (OSError, lib.ProtocolError):
            pass
        finally:
            conn.close()

    def _serve_one(self, conn):
        data = self._read(conn)
        with self.cond:
            self.requests.append(data)
            self.cond.notify_all()
        if self.reply is not None:
            conn.sendall(self.reply)
            return
        missing = self._missing(data)
        if missing == -1:
            return                      # 2023: "message type out of range"
        if missing is not None:
            if self.gen2023:
                conn.sendall(b"\x00\x00")
            return
        msg = data[2:] if self.wire == "framed" else data
        t = struct.unpack(">H", msg[:2])[0] if len(msg) >= 2 else None
        if t is not None and t < len(NARGS):
            with self.cond:
                self.calls.append(t)
                self.cond.notify_all()
        resp = self._response(t, msg)
        how = self.behaviour
        if t in (REGISTER, LIST) or how in ("normal", "flood", "empty"):
            conn.sendall(resp)
        elif how == "silent":
            self.stopped.wait(lib.scaled(60))
        elif how == "trickle":
            for i in range(len(resp)):
                if self.stopped.wait(1.0):
                    break
                conn.sendall(resp[i:i + 1])
        elif how == "reset":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                            struct.pack("ii", 1, 0))


__all__ = ["FakeServer", "FLOOD", "QUIT", "CHECK_MESSAGES"]
