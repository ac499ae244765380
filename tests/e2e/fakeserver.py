"""
fakeserver.py - scripted servers that misbehave, for the client's tests
(PROTOCOL.md §5.3, §5.4, issue 11).

A FakeServer listens on 127.0.0.1 and answers Register and List as a good
server would (so a client can start), and every other call as its
behaviour says: answer well, never answer, answer a byte a second, reset
the connection, or bring 60 KB with every CheckMessages.  It records the
type of every request it read, so a test can wait for "a poll is in
flight" or "the client tried to log out" instead of sleeping.  Every
thread is a daemon and every wait is bounded; close() stops them.
"""

import socket
import struct
import threading
import time

import lib
from lib import (REGISTER, LIST, CHECK_MESSAGES, QUIT, enc_str, enc_strlist,
                 frame)

# About 60 KB of messages: more than half a frame, so the client knows
# more is waiting and asks again at once (PROTOCOL.md §4.2).
FLOOD = ["flood %04d " % i + "x" * 990 for i in range(60)]


class FakeServer:
    BEHAVIOURS = ("normal", "silent", "trickle", "flood", "reset", "empty")

    def __init__(self, behaviour, users=("victim",), host="127.0.0.1"):
        assert behaviour in self.BEHAVIOURS, behaviour
        self.behaviour = behaviour
        self.users = list(users)
        self.calls = []
        self.cond = threading.Condition()
        self.stopped = threading.Event()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(128)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.empty_sent = False
        self.thread = threading.Thread(target=self._accept, daemon=True,
                                       name="fake-accept")
        self.thread.start()

    # -- what the tests look at ---------------------------------------------

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

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # -- serving --------------------------------------------------------------

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

    def _read_request(self, conn):
        data = b""
        while len(data) < 2 or len(data) < 2 + struct.unpack(">H",
                                                              data[:2])[0]:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            data += chunk
        (type_,) = struct.unpack(">H", data[2:4])
        return type_

    def _answer(self, type_):
        """The message a good server would send, with our script's lists."""
        if type_ == LIST:
            users = self.users
            if self.behaviour == "empty":
                users = ["", "bob"] + users
            return enc_strlist(users) + enc_str("")
        if type_ == CHECK_MESSAGES:
            msgs = []
            if self.behaviour == "flood":
                msgs = FLOOD
            elif self.behaviour == "empty" and not self.empty_sent:
                self.empty_sent = True
                msgs = ["", " tells you ", "after the empty ones"]
            return enc_strlist(msgs) + enc_str("")
        return enc_str("")

    def _serve(self, conn):
        conn.settimeout(lib.scaled(30))
        try:
            type_ = self._read_request(conn)
            if type_ is None:
                return
            with self.cond:
                self.calls.append(type_)
                self.cond.notify_all()
            resp = frame(self._answer(type_))
            how = self.behaviour
            if type_ in (REGISTER, LIST) or how in ("normal", "flood",
                                                    "empty"):
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
        except OSError:
            pass
        finally:
            conn.close()


__all__ = ["FakeServer", "FLOOD", "QUIT", "CHECK_MESSAGES"]
