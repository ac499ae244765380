"""
What the clients say while the server cannot reach its store (PROTOCOL.md
§5.3, §7): a front end on a Redis of the test's own, under a polling
terminal client in a pipe and under a web session, loses its Redis (killed,
or stopped).  Each client says so once, on the notices' stream, keeps
polling with back-off, and says once that the server is back when a poll
is answered again; a command that fails meanwhile is still a failed
command.

The clients reach the server through a relay that counts connections
(one per call), so a test waits for the polls to happen rather than
sleeping and hoping they did.
"""

import contextlib
import os
import re
import signal
import socket
import threading

import lib
from lib import Redis, Server, ok, wait_until
from weblib import Front, login


class Relay:
    """
    A TCP relay from a free loopback port to 127.0.0.1:target, counting
    the connections it has taken.  A half-close is passed on, so the wire
    probe's List (written, then shut for writing) gets its answer.
    """

    def __init__(self, target):
        self.target = target
        self.connections = 0
        self._lock = threading.Lock()
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port = self._sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                down, _ = self._sock.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
            try:
                up = socket.create_connection(("127.0.0.1", self.target),
                                              timeout=lib.scaled(10))
            except OSError:
                down.close()
                continue
            up.settimeout(None)
            for a, b in ((down, up), (up, down)):
                threading.Thread(target=self._pipe, args=(a, b),
                                 daemon=True).start()

    @staticmethod
    def _pipe(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def count(self):
        with self._lock:
            return self.connections

    def close(self):
        self._sock.close()


@contextlib.contextmanager
def chat_on_redis(ctx, aof=False):
    """A Redis, a front end on it, and a relay to the front end."""
    with Redis(aof=aof) as redis, Server(ctx, "--store", redis.url) as srv:
        relay = Relay(srv.port)
        try:
            yield redis, srv, relay
        finally:
            relay.close()


@contextlib.contextmanager
def web_session_on_redis(ctx, name):
    """chat_on_redis, and a web session logged in as name through a web
    front end whose target is the relay."""
    with chat_on_redis(ctx) as (redis, srv, relay), \
            Front(ctx, "127.0.0.1:%d" % relay.port) as front:
        ws, _ = login(front.port, name)
        # The return is said at the next poll: up to 8 s of back-off.
        ws.sock.settimeout(lib.scaled(30))
        try:
            yield redis, srv, relay, ws
        finally:
            ws.close()


def wait_polls(relay, n, what):
    """n more calls through the relay: the client's polls, backing off."""
    start = relay.count()
    wait_until(lambda: relay.count() >= start + n, timeout=60,
               what="%d more polls %s" % (n, what))


STORE_AWAY = r"\*\*\* the server at %s cannot reach its store; retrying$"
BACK = r"\*\*\* the server at %s is back$"


@lib.timeout(180)
def test_client_says_once_the_server_cannot_reach_its_store(ctx):
    with chat_on_redis(ctx, aof=True) as (redis, srv, relay), \
            lib.Client(ctx, relay.port, "alice", "--timestamps") as a:
        addr = re.escape("localhost:%d" % relay.port)
        a.expect(r"^1 user logged in: alice$", 10)
        redis.kill()
        # On stdout, stamped as the unreachable notice is.
        a.expect(r"^\d\d:\d\d " + STORE_AWAY % addr, 15)
        # A command that fails meanwhile is a failed command.
        a.send("say is anyone there?")
        a.expect_err(r"^say: store unavailable$", 15)
        # Three polls later (1 s, 2 s, 4 s), still the one notice.
        wait_polls(relay, 3, "while Redis is down")
        assert len([l for l in a.lines if "its store" in l]) == 1, a.lines
        assert a.err_lines == ["say: store unavailable"], a.err_lines
        redis.start()
        a.expect(r"^\d\d:\d\d " + BACK % addr, 30)
        ok(lib.call(srv.port, lib.SAY, "alice", "and we are back"))
        a.expect(r"^\d\d:\d\d alice says and we are back$", 10)
        a.close_stdin()
        # The failed say is the exit status; the polls are not.
        assert a.wait() == 1
        notices = [l for l in a.lines if "*** the server" in l]
        assert len(notices) == 2, a.lines
        assert a.err_lines == ["say: store unavailable"], a.err_lines


def lines_until(ws, pred, what, seen):
    """Reads the session's messages into seen until one matches pred."""
    for _ in range(500):
        m = ws.recv()
        if isinstance(m, tuple):
            raise AssertionError("closed (%d) waiting for %s" % (m[1], what))
        if m.get("t") == "line":
            seen.append(m)
        if pred(m):
            return m
    raise AssertionError("no %s in 500 messages" % what)


@lib.slow
@lib.timeout(180)
def test_web_session_says_once_the_server_cannot_reach_its_store(ctx):
    with web_session_on_redis(ctx, "alice") as (redis, srv, relay, ws):
        addr = re.escape("127.0.0.1:%d" % relay.port)
        seen = []
        # A frozen Redis: every call waits out the store's deadline.
        os.kill(redis.proc.pid, signal.SIGSTOP)
        try:
            m = lines_until(ws, lambda m: m.get("t") == "line" and
                            "its store" in m["text"], "the notice", seen)
            assert re.match(STORE_AWAY % addr, m["text"]), m
            assert m["k"] == "notice", m
            wait_polls(relay, 3, "while Redis is stopped")
        finally:
            os.kill(redis.proc.pid, signal.SIGCONT)
        m = lines_until(ws, lambda m: m.get("t") == "line" and
                        "is back" in m["text"], "the server back", seen)
        assert re.match(BACK % addr, m["text"]) and m["k"] == "notice", m
        # Nothing else about the outage: no error line a poll.
        said = [l["text"] for l in seen if l["k"] in ("notice", "error")]
        assert len(said) == 2, said


@lib.timeout(180)
def test_web_session_store_killed_and_restarted(ctx):
    """Redis killed, then restarted empty: the session is registered again
    and says so in the one notice that ends the outage."""
    with web_session_on_redis(ctx, "bob") as (redis, srv, relay, ws):
        addr = re.escape("127.0.0.1:%d" % relay.port)
        seen = []
        redis.kill()
        lines_until(ws, lambda m: m.get("t") == "line" and
                    re.match(STORE_AWAY % addr, m["text"]), "the notice",
                    seen)
        ws.send("line hello?")
        lines_until(ws, lambda m: m.get("t") == "line" and
                    m["text"] == "say: store unavailable", "the failed say",
                    seen)
        wait_polls(relay, 2, "while Redis is down")
        redis.start()
        m = lines_until(ws, lambda m: m.get("t") == "line" and
                        "is back" in m["text"], "the server back", seen)
        assert re.match((BACK % addr)[:-1] + "; logged in again as bob$",
                        m["text"]), m
        said = [l["text"] for l in seen if l["k"] in ("notice", "error")]
        assert len(said) == 3, said
        assert ok(lib.call(srv.port, lib.LIST)) == ["bob"]
