"""
test_log.py - the server's log (PROTOCOL.md §3.3): it never blocks the server,
client-caused lines are rate-limited, every byte from the network is shown
escaped and whole, SIGHUP stops the server and is named.
"""

import fcntl
import os
import select
import signal
import struct
import subprocess
import termios
import threading
import time

import lib
from lib import REGISTER, LIST, SAY, QUIT, CHECK_MESSAGES, ok

PIPE_FULL = 60 * 1024           # a Linux pipe holds 64 KiB


def pipe_bytes(fd):
    """Bytes waiting in a pipe we hold the read end of."""
    buf = fcntl.ioctl(fd, termios.FIONREAD, struct.pack("i", 0))
    return struct.unpack("i", buf)[0]


def read_available(fd):
    out = b""
    while select.select([fd], [], [], 0)[0]:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        out += chunk
    return out


class StalledServer:
    """A server whose stderr is a pipe read only when the test says so."""

    def __init__(self, ctx, *args):
        self.proc = subprocess.Popen(
            lib.wrapper() + [ctx.rpcchat, "--wire", ctx.wire] +
            [str(a) for a in args] + ["0"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE)
        self.fd = self.proc.stderr.fileno()
        self.text = b""
        deadline = time.monotonic() + lib.scaled(10)
        while b"\n" not in self.text:
            assert time.monotonic() < deadline, "server did not start"
            if select.select([self.fd], [], [], 0.1)[0]:
                self.text += os.read(self.fd, 4096)
        first = self.text.split(b"\n")[0].decode()
        self.port = int(first.rsplit(":", 1)[1])

    def call(self, *a, **kw):
        return lib.call(self.port, *a, wire=lib_wire[0], **kw)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


lib_wire = ["framed"]


def flood(port, wire, until, stop, count=None):
    """Malformed requests and login/logout pairs (logged unlimited)."""
    i = 0
    while not stop.is_set() and not until() and i != count:
        lib.raw(port, b"\x00\x03\x00\x09x" if wire == "framed"
                else b"\x00\x09x", timeout=10)
        name = "flood%d" % (i % 5000)
        lib.call(port, REGISTER, name, wire=wire)
        lib.call(port, QUIT, name, wire=wire)
        i += 1
    return i


@lib.timeout(120)
def test_log_pipe_nobody_reads(ctx):
    lib_wire[0] = ctx.wire
    srv = StalledServer(ctx)
    try:
        ok(srv.call(REGISTER, "alice"))
        stop = threading.Event()
        # Fill the pipe (64 KiB) and the server's own buffer behind it.
        n = flood(srv.port, ctx.wire, lambda: pipe_bytes(srv.fd) >= PIPE_FULL,
                  stop)
        assert pipe_bytes(srv.fd) >= PIPE_FULL, n
        # The flood goes on, well past the server's 16 KiB buffer (two
        # 40-byte lines an iteration); ordinary calls keep being answered.
        t = threading.Thread(target=flood, daemon=True,
                             args=(srv.port, ctx.wire, lambda: False, stop,
                                   600))
        t.start()
        slowest = 0.0
        for i in range(30):
            t0 = time.monotonic()
            ok(srv.call(SAY, "alice", "still here %d" % i))
            ok(srv.call(LIST))
            ok(srv.call(CHECK_MESSAGES, "alice"))
            slowest = max(slowest, time.monotonic() - t0)
        t.join(lib.scaled(60))
        assert not t.is_alive(), "the flood did not end"
        # Generous for a busy machine; a blocked loop would never answer.
        assert slowest < lib.scaled(3), "a call took %.1f s" % slowest

        # Reading again: the log drains and says how many lines it lost.
        deadline = time.monotonic() + lib.scaled(10)
        while b"log lines lost" not in srv.text:
            assert time.monotonic() < deadline, \
                "no 'log lines lost' line: %r" % srv.text[-500:]
            if select.select([srv.fd], [], [], 0.1)[0]:
                srv.text += os.read(srv.fd, 65536)
        lines = srv.text.decode("utf-8", "replace").splitlines()
        assert any(l.endswith("log lines lost (the log output was not "
                              "keeping up)") for l in lines)

        # Stalled again, SIGTERM still stops it within a second.
        stop.clear()
        flood(srv.port, ctx.wire, lambda: pipe_bytes(srv.fd) >= PIPE_FULL,
              stop)
        t0 = time.monotonic()
        srv.proc.send_signal(signal.SIGTERM)
        code = srv.proc.wait(lib.scaled(10))
        took = time.monotonic() - t0
        assert code == 0, code
        assert took < lib.scaled(1.0), "SIGTERM took %.2f s" % took
    finally:
        srv.kill()


def test_client_lines_rate_limited(ctx):
    with lib.Server(ctx) as srv:
        bad = b"\x00\x03\x00\x09x" if ctx.wire == "framed" else b"\x00\x09x"
        mark = srv.log_mark()
        for _ in range(300):
            srv.raw(bad)
        m = srv.wait_log(r"^\d\d:\d\d:\d\d (\d+) log lines about clients "
                         r"suppressed \(more than 50 a second\)$",
                         timeout=5, since=mark)
        rejected = [l for l in srv.log[mark:] if " rejected request " in l]
        assert len(rejected) + int(m.group(1)) <= 300
        assert len(rejected) < 300, len(rejected)
        # Logins are not rate-limited.
        mark = srv.log_mark()
        for i in range(80):
            ok(srv.call(REGISTER, "u%d" % i))
        for i in range(80):
            srv.wait_log(r"\*\*\* u%d has logged in$" % i, since=mark)


@lib.both_wires
def test_hostile_name_logged_whole(ctx):
    name = b"ev\x00il\x1b[31m"
    with lib.Server(ctx) as srv:
        _, err = srv.call(SAY, name, "hi")
        assert err.encode("utf-8", "surrogateescape") == \
            b"Say: user " + name + b" is not logged in", err
        line = srv.wait_log(r"rejected Say from \S+: user .* is not logged "
                            r"in$").group(0)
        assert line.endswith(": user ev^@il^[[31m is not logged in"), line
        assert "\x1b" not in line and "\x00" not in line
        # 8-bit C1 (CSI) and a bidi override, shown visibly.
        srv.call(SAY, b"a\x9b\xe2\x80\xaeb", "hi")
        line = srv.wait_log(r"rejected Say from \S+: user a.*$").group(0)
        assert line.endswith(": user a\\x9B<U+202E>b is not logged in"), line
        # A valid name with UTF-8 letters is logged as it is.
        ok(srv.call(REGISTER, "一二"))
        srv.wait_log(r"\*\*\* 一二 has logged in$")


def test_sighup_stops_and_is_named(ctx):
    srv = lib.Server(ctx)
    with srv:
        ok(srv.call(REGISTER, "alice"))
        assert srv.stop(signal.SIGHUP) == 0
    assert srv.has_log(r"^\d\d:\d\d:\d\d shutting down \(SIGHUP\)$"), srv.log
