"""
lib.py - what the end-to-end tests share.

A test is a function ``def test_name(ctx):`` in ``tests/e2e/test_*.py``;
tests/run.py finds it, runs it in its own process (and process group, so
whatever it starts dies with it) and counts it.  ``ctx`` carries the
binaries' directory and the wire of this run.

The RPC helpers below are written from PROTOCOL.md §2 and §6 alone, not from our C
code: they are a second implementation of the protocol that checks the
first.  Every socket has a timeout; every wait is bounded.
"""

import os
import re
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time

# -- the protocol (PROTOCOL.md §2.3) ---------------------------------------------

REGISTER, LIST, CHECK_MESSAGES, TELL, SAY, QUIT, SHUTDOWN = range(7)
CALL_NAMES = ["Register", "List", "CheckMessages", "Tell", "Say", "Quit",
              "Shutdown"]
NARGS = [1, 0, 1, 3, 2, 1, 0]
HAS_LIST = [False, True, True, False, False, False, False]

FRAME_MAX = 65535
TEXT_MAX = FRAME_MAX - 6        # longest delivered message (PROTOCOL.md §4.1)
WIRES = ("framed", "unframed")
# The repository, for the files a test reads or runs from it.
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

# Every timeout in this file is multiplied by SCALE: run.py raises it under
# valgrind, which is about 20 times slower.
SCALE = float(os.environ.get("RPCCHAT_TIMEOUT_SCALE", "1"))
VALGRIND = os.environ.get("RPCCHAT_VALGRIND") == "1"


def scaled(seconds):
    return seconds * SCALE


class ProtocolError(AssertionError):
    """A response that breaks PROTOCOL.md §2: a failure of the server under test."""


class Skip(Exception):
    """Raised by skip(): the test does not apply here."""


def skip(why):
    raise Skip(why)


# -- markers --------------------------------------------------------------

def both_wires(fn):
    """Run the test once per wire: name[framed] and name[unframed]."""
    fn.wires = WIRES
    return fn


def slow(fn):
    """A test that may be skipped under valgrind."""
    fn.slow = True
    return fn


def timeout(seconds):
    """A per-test time limit other than run.py's default."""
    def mark(fn):
        fn.timeout = seconds
        return fn
    return mark


def redis_tests(fn):
    """Run the test once more with every Server on the Redis store."""
    fn.redis = True
    return fn


def memory_only(why):
    """Not run against the Redis store, for the reason given."""
    def mark(fn):
        fn.memory_only = why
        return fn
    return mark


class Ctx:
    """What a test is given."""

    def __init__(self, bin_dir, wire="framed", name="?"):
        self.bin = os.path.abspath(bin_dir)
        self.wire = wire
        self.name = name

    @property
    def rpcchat(self):
        return os.path.join(self.bin, "rpcchat")

    @property
    def bench(self):
        return os.path.join(self.bin, "rpcchat-bench")


# -- encoding -------------------------------------------------------------

def _bytes(s):
    if isinstance(s, (bytes, bytearray)):
        return bytes(s)
    return s.encode("utf-8", "surrogateescape")


def text(b):
    """Wire bytes to str, reversibly (invalid UTF-8 kept as surrogates)."""
    return b.decode("utf-8", "surrogateescape")


def enc_u16(n):
    if not 0 <= n <= 0xFFFF:
        raise ValueError("u16 out of range: %d" % n)
    return struct.pack(">H", n)


def enc_str(s):
    b = _bytes(s)
    return enc_u16(len(b)) + b


def enc_strlist(items):
    return enc_u16(len(items)) + b"".join(enc_str(i) for i in items)


def request(type_, *args):
    """A request message: u16 type, then each argument as a string."""
    return enc_u16(type_) + b"".join(enc_str(a) for a in args)


def frame(msg):
    return enc_u16(len(msg)) + msg


def wire_request(type_, *args, wire="framed"):
    msg = request(type_, *args)
    return frame(msg) if wire == "framed" else msg


# -- decoding -------------------------------------------------------------

class Reader:
    """Reads primitives from the front of a byte string, strictly."""

    def __init__(self, data):
        self.data = bytes(data)
        self.pos = 0

    def left(self):
        return len(self.data) - self.pos

    def u16(self):
        if self.left() < 2:
            raise ProtocolError("short u16 at offset %d of %r"
                                % (self.pos, self.data[:64]))
        (v,) = struct.unpack_from(">H", self.data, self.pos)
        self.pos += 2
        return v

    def str_bytes(self):
        n = self.u16()
        if self.left() < n:
            raise ProtocolError("string of %d bytes at offset %d runs past "
                                "the end (%d left)" % (n, self.pos, self.left()))
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def strlist_bytes(self):
        return [self.str_bytes() for _ in range(self.u16())]

    def end(self):
        if self.left():
            raise ProtocolError("%d bytes left over in response: %r"
                                % (self.left(), self.data[self.pos:][:64]))


def unframe(data):
    """A response frame to its message; the frame must be all there is."""
    if len(data) < 2:
        raise ProtocolError("response of %d bytes has no frame length: %r"
                            % (len(data), data))
    (n,) = struct.unpack_from(">H", data)
    if len(data) != 2 + n:
        raise ProtocolError("frame says %d bytes, %d follow: %r"
                            % (n, len(data) - 2, data[:64]))
    return data[2:]


def parse_response(type_, msg, raw_bytes=False):
    """A response message to (list or None, error); strict about its end."""
    r = Reader(msg)
    items = None
    if 0 <= type_ < len(HAS_LIST) and HAS_LIST[type_]:
        items = r.strlist_bytes()
    err = r.str_bytes()
    r.end()
    if raw_bytes:
        return items, err
    return ([text(i) for i in items] if items is not None else None), text(err)


def parse_error_only(msg):
    """A response that is just an error string (short or unknown request)."""
    r = Reader(msg)
    err = r.str_bytes()
    r.end()
    return text(err)


# -- sockets --------------------------------------------------------------

def connect(port, host="127.0.0.1", timeout=10.0):
    s = socket.create_connection((host, port), timeout=scaled(timeout))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.settimeout(scaled(timeout))
    return s


def read_to_eof(s, timeout=10.0, limit=1 << 24):
    """Everything the peer sends until it closes, within a deadline."""
    deadline = time.monotonic() + scaled(timeout)
    chunks = []
    total = 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("no EOF from server within %.1fs (got %d "
                                 "bytes: %r)" % (scaled(timeout), total,
                                                b"".join(chunks)[:64]))
        s.settimeout(left)
        try:
            b = s.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            break
        if not b:
            break
        chunks.append(b)
        total += len(b)
        if total > limit:
            raise ProtocolError("response over %d bytes" % limit)
    return b"".join(chunks)


def raw(port, data, host="127.0.0.1", timeout=10.0, chunks=None,
        pause=0.0, half_close=False):
    """
    Sends bytes, returns every byte of the answer up to EOF.  With chunks
    (a list of byte strings) each is written separately, pause seconds
    apart, to show the server requests that arrive in pieces.
    """
    with connect(port, host, timeout) as s:
        if chunks is None:
            chunks = [data]
        for i, c in enumerate(chunks):
            if i and pause:
                time.sleep(pause)
            s.sendall(c)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        return read_to_eof(s, timeout)


def call(port, type_, *args, wire="framed", host="127.0.0.1", timeout=10.0,
         raw_bytes=False):
    """
    One RPC: returns (list or None, error string).  The list is there for
    List and CheckMessages.  A response that breaks PROTOCOL.md §2 raises
    ProtocolError.
    """
    data = raw(port, wire_request(type_, *args, wire=wire), host, timeout)
    if wire == "framed":
        msg = unframe(data)
    else:
        if not data:
            raise ProtocolError("%s: connection closed without a response"
                                % CALL_NAMES[type_])
        msg = data
    return parse_response(type_, msg, raw_bytes)


def ok(result, what=""):
    """Asserts a call succeeded; returns its list (or None)."""
    items, err = result
    assert err == "", "%scall failed: %r" % (what + ": " if what else "", err)
    return items


def drain(port, user, wire="framed", host="127.0.0.1", limit=100000):
    """CheckMessages until the queue is empty; every message, in order."""
    got = []
    for _ in range(limit):
        items, err = call(port, CHECK_MESSAGES, user, wire=wire, host=host)
        assert err == "", "CheckMessages %r: %r" % (user, err)
        if not items:
            return got
        got.extend(items)
    raise AssertionError("CheckMessages %r never ran dry" % user)


def has_ipv6_loopback():
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


# -- waiting --------------------------------------------------------------

def wait_until(predicate, timeout=5.0, what="condition", interval=0.02):
    """Polls predicate until it is true; fails naming what did not happen."""
    deadline = time.monotonic() + scaled(timeout)
    while True:
        v = predicate()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s"
                                 % (scaled(timeout), what))
        time.sleep(interval)


class _LineReader:
    """Collects the lines of a pipe in a thread; waits for them bounded."""

    def __init__(self, pipe, name):
        self.lines = []
        self.eof = False
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._run, args=(pipe,),
                                       name=name, daemon=True)
        self.thread.start()

    def _run(self, pipe):
        try:
            for raw_line in iter(pipe.readline, b""):
                line = raw_line.decode("utf-8", "replace").rstrip("\r\n")
                with self.cond:
                    self.lines.append(line)
                    self.cond.notify_all()
        except (OSError, ValueError):
            pass
        finally:
            with self.cond:
                self.eof = True
                self.cond.notify_all()

    def wait(self, regex, timeout, since=0):
        """(index, match) of the first line from since on matching regex."""
        pat = re.compile(regex)
        deadline = time.monotonic() + scaled(timeout)
        i = since
        with self.cond:
            while True:
                while i < len(self.lines):
                    m = pat.search(self.lines[i])
                    if m:
                        return i, m
                    i += 1
                left = deadline - time.monotonic()
                if self.eof or left <= 0:
                    return None, None
                self.cond.wait(left)

    def snapshot(self):
        with self.cond:
            return list(self.lines)


# Everything a test started, so run.py can show the logs of a failure and
# kill what is left.
_servers = []
_clients = []


def wrapper():
    w = os.environ.get("RPCCHAT_WRAPPER", "").strip()
    return shlex.split(w) if w else []


def _tail(lines, n=20):
    return "\n".join("    | " + l for l in lines[-n:])


# -- the server -----------------------------------------------------------

LISTENING = r"^\d\d:\d\d:\d\d Listening on :(\d+)$"
VALGRIND_ERROR = 99


class Server:
    """
    rpcchat --wire W ARGS PORT (0 unless port= is given), started under
    $RPCCHAT_WRAPPER if set.  As a
    context manager it stops the server at the end and fails the test if
    its exit status is not 0.
    """

    def __init__(self, ctx, *args, wire=None, port=0, start_timeout=10.0):
        self.ctx = ctx
        self.wire = wire or ctx.wire
        self.args = [str(a) for a in args]
        self.redis = None
        if STORE == "redis" and not any(a.startswith("--store")
                                        for a in self.args):
            # This run is against the Redis store: a Redis of its own.
            self.redis = Redis()
            self.args = ["--store", self.redis.url] + self.args
        self.cmd = wrapper() + [ctx.rpcchat, "--wire", self.wire] + \
            self.args + [str(port)]
        self.returncode = None
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        self.pid = self.proc.pid
        _servers.append(self)
        self._err = _LineReader(self.proc.stderr, "server-stderr")
        _, m = self._err.wait(LISTENING, start_timeout)
        if not m:
            self._kill()
            raise AssertionError("server %s did not log 'Listening on :PORT'"
                                 " within %.1fs; its stderr:\n%s"
                                 % (" ".join(self.cmd), scaled(start_timeout),
                                    _tail(self.log)))
        self.port = int(m.group(1))

    @property
    def log(self):
        return self._err.snapshot()

    def log_mark(self):
        """Where the log is now: pass as since= to wait only for later lines."""
        return len(self.log)

    def wait_log(self, regex, timeout=5.0, since=0):
        _, m = self._err.wait(regex, timeout, since)
        if not m:
            raise AssertionError("server log has no line matching %r within "
                                 "%.1fs; its stderr:\n%s"
                                 % (regex, scaled(timeout), _tail(self.log)))
        return m

    def has_log(self, regex, since=0):
        pat = re.compile(regex)
        return any(pat.search(l) for l in self.log[since:])

    def call(self, type_, *args, host="127.0.0.1", timeout=10.0,
             raw_bytes=False):
        return call(self.port, type_, *args, wire=self.wire, host=host,
                    timeout=timeout, raw_bytes=raw_bytes)

    def raw(self, data, **kw):
        return raw(self.port, data, **kw)

    def drain(self, user):
        return drain(self.port, user, wire=self.wire)

    def running(self):
        return self.proc.poll() is None

    def wait(self, timeout=5.0, what="exit"):
        """Waits for the server to exit by itself; returns its status."""
        try:
            self.returncode = self.proc.wait(scaled(timeout))
        except subprocess.TimeoutExpired:
            self._kill()
            raise AssertionError("server did not %s within %.1fs; its "
                                 "stderr:\n%s" % (what, scaled(timeout),
                                                  _tail(self.log)))
        self._err.thread.join(scaled(5))
        self._check_wrapper()
        return self.returncode

    def stop(self, sig=signal.SIGTERM, timeout=5.0):
        """Sends sig, waits (bounded) for the exit; returns the status."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.wait(timeout, "exit after %s" % signal.Signals(sig).name)

    def _check_wrapper(self):
        if wrapper() and self.returncode == VALGRIND_ERROR:
            raise AssertionError("server exited %d: the wrapper (%s) found "
                                 "errors; its stderr:\n%s"
                                 % (VALGRIND_ERROR, os.environ.get(
                                     "RPCCHAT_WRAPPER"), _tail(self.log, 60)))

    def _kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        if self.redis is not None:
            self.redis.close()

    def __enter__(self):
        return self

    def __exit__(self, etype, e, tb):
        try:
            return self._exit(etype)
        finally:
            if self.redis is not None:
                self.redis.close()

    def _exit(self, etype):
        if self.proc.poll() is None:
            if etype is not None:
                # The test already failed: stop without masking why.
                try:
                    self.stop()
                except AssertionError:
                    pass
                return False
            code = self.stop()
        else:
            code = self.proc.returncode
            if self.returncode is None:
                self.wait()
        if etype is None and code != 0:
            raise AssertionError("server exited with status %s, not 0; its "
                                 "stderr:\n%s" % (code, _tail(self.log)))
        return False


# -- the real client --------------------------------------------------------

class Client:
    """
    A real client, rpcchat [--wire W] ARGS :PORT USER, in pipe mode: stdin
    a pipe, stdout and stderr read line by line in threads.
    """

    def __init__(self, ctx, port, user, *args, wire=None, host=""):
        self.ctx = ctx
        self.wire = wire or ctx.wire
        target = "%s:%d" % (host, port)
        self.cmd = wrapper() + [ctx.rpcchat, "--wire", self.wire] + \
            [str(a) for a in args] + [target, user]
        env = dict(os.environ)
        env["NO_COLOR"] = "1"
        env.pop("TERM", None)
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env)
        self.pid = self.proc.pid
        self.returncode = None
        _clients.append(self)
        self._out = _LineReader(self.proc.stdout, "client-stdout")
        self._err = _LineReader(self.proc.stderr, "client-stderr")
        self.pos = 0            # stdout lines expect() has passed
        self.err_pos = 0        # stderr lines expect_any() has passed

    @property
    def lines(self):
        return self._out.snapshot()

    @property
    def err_lines(self):
        return self._err.snapshot()

    def send(self, line):
        self.proc.stdin.write(_bytes(line) + b"\n")
        self.proc.stdin.flush()

    def expect(self, regex, timeout=5.0):
        """
        The next stdout line (from where the last expect stopped) matching
        regex; lines skipped on the way stay in .lines.
        """
        i, m = self._out.wait(regex, timeout, self.pos)
        if not m:
            raise AssertionError(
                "client %s: no stdout line matching %r within %.1fs\n"
                "  stdout:\n%s\n  stderr:\n%s"
                % (" ".join(self.cmd[-2:]), regex, scaled(timeout),
                   _tail(self.lines), _tail(self.err_lines)))
        self.pos = i + 1
        return m

    def expect_err(self, regex, timeout=5.0):
        _, m = self._err.wait(regex, timeout)
        if not m:
            raise AssertionError(
                "client %s: no stderr line matching %r within %.1fs\n"
                "  stdout:\n%s\n  stderr:\n%s"
                % (" ".join(self.cmd[-2:]), regex, scaled(timeout),
                   _tail(self.lines), _tail(self.err_lines)))
        return m

    def expect_any(self, regex, timeout=5.0):
        """
        The next line matching regex on stdout or stderr (for texts PROTOCOL.md
        does not assign to either); each stream advances past its match.
        """
        pat = re.compile(regex)
        deadline = time.monotonic() + scaled(timeout)
        while True:
            for reader, attr in [(self._out, "pos"), (self._err, "err_pos")]:
                lines = reader.snapshot()
                for i in range(getattr(self, attr), len(lines)):
                    m = pat.search(lines[i])
                    if m:
                        setattr(self, attr, i + 1)
                        return m
            done = self._out.eof and self._err.eof
            if done or time.monotonic() >= deadline:
                raise AssertionError(
                    "client %s: no line matching %r within %.1fs\n"
                    "  stdout:\n%s\n  stderr:\n%s"
                    % (" ".join(self.cmd[-2:]), regex, scaled(timeout),
                       _tail(self.lines), _tail(self.err_lines)))
            time.sleep(0.02)

    def close_stdin(self):
        try:
            self.proc.stdin.close()
        except BrokenPipeError:
            pass

    def wait(self, timeout=10.0):
        try:
            self.returncode = self.proc.wait(scaled(timeout))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            raise AssertionError(
                "client %s did not exit within %.1fs\n  stdout:\n%s\n"
                "  stderr:\n%s" % (" ".join(self.cmd[-2:]), scaled(timeout),
                                   _tail(self.lines), _tail(self.err_lines)))
        self._out.thread.join(scaled(5))
        self._err.thread.join(scaled(5))
        if wrapper() and self.returncode == VALGRIND_ERROR:
            raise AssertionError("client exited %d: the wrapper found errors"
                                 "\n%s" % (VALGRIND_ERROR,
                                           _tail(self.err_lines, 60)))
        return self.returncode

    def signal(self, sig):
        self.proc.send_signal(sig)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def __enter__(self):
        return self

    def __exit__(self, etype, e, tb):
        if self.proc.poll() is None:
            self.close_stdin()
            try:
                self.proc.wait(scaled(5))
            except subprocess.TimeoutExpired:
                self.kill()
        return False


def run_cli(ctx, *args, timeout=10.0, stdin_data=b""):
    """rpcchat ARGS run to completion: (status, stdout, stderr) as text."""
    cmd = wrapper() + [ctx.rpcchat] + [str(a) for a in args]
    try:
        p = subprocess.run(cmd, input=stdin_data, capture_output=True,
                           timeout=scaled(timeout))
    except subprocess.TimeoutExpired:
        raise AssertionError("%s did not exit within %.1fs"
                             % (" ".join(cmd), scaled(timeout)))
    return (p.returncode, p.stdout.decode("utf-8", "replace"),
            p.stderr.decode("utf-8", "replace"))


# -- for run.py -------------------------------------------------------------

def report_tails(n=20):
    """The logs of every server and client the test started."""
    out = []
    for s in _servers:
        out.append("  server %s (pid %d, status %s), stderr tail:\n%s"
                   % (" ".join(s.cmd[len(wrapper()):]), s.pid,
                      s.proc.poll(), _tail(s.log, n)))
    for c in _clients:
        out.append("  client %s (pid %d, status %s)\n   stdout:\n%s\n"
                   "   stderr:\n%s" % (" ".join(c.cmd[-2:]), c.pid,
                                       c.proc.poll(), _tail(c.lines, n),
                                       _tail(c.err_lines, n)))
    return "\n".join(out)


def kill_everything():
    for r in _redises:
        r.close()
    for p in _servers + _clients:
        try:
            if p.proc.poll() is None:
                p.proc.kill()
        except OSError:
            pass


# -- Redis, for the Redis store (PROTOCOL.md §7) -----------------------------------

# "redis": every Server started without --store gets a Redis of its own
# (run.py sets it for the [redis] runs of the tests marked redis_tests).
STORE = os.environ.get("RPCCHAT_STORE", "memory")
_redises = []


def free_port():
    """A loopback port nobody listens on now (the caller races for it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def resp_encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        b = _bytes(str(a) if isinstance(a, int) else a)
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


class RedisError(Exception):
    pass


def resp_read(f):
    line = f.readline()
    if not line.endswith(b"\r\n"):
        raise ConnectionError("redis closed the connection")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        return RedisError(rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)
        return data[:-2]
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [resp_read(f) for _ in range(n)]
    raise ConnectionError("bad reply from redis: %r" % line)


class Redis:
    """
    A redis-server of the test's own on a free loopback port, in a
    temporary directory (never a system service).  aof=True keeps an
    append-only file with appendfsync always, so acknowledged writes
    survive a restart.  Skips the test when redis-server is missing.
    """

    def __init__(self, aof=False):
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            skip("redis-server is not installed (make deps installs it)")
        self.aof = aof
        self.dir = tempfile.mkdtemp(prefix="rpcchat-redis-")
        self.proc = None
        self.port = None
        _redises.append(self)
        self.start()

    @property
    def url(self):
        return "redis://127.0.0.1:%d" % self.port

    def start(self, timeout=10.0):
        """Starts (again, on the same port and files once it has one)."""
        for _ in range(5):
            port = self.port or free_port()
            cmd = [self.binary, "--port", str(port), "--bind", "127.0.0.1",
                   "--dir", self.dir, "--save", "", "--daemonize", "no",
                   "--maxmemory-policy", "noeviction",
                   "--logfile", os.path.join(self.dir, "redis.log"),
                   "--appendonly", "yes" if self.aof else "no",
                   "--appendfsync", "always"]
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + scaled(timeout)
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    if self.call_on(port, "PING") == "PONG":
                        self.port = port
                        return
                except OSError:
                    pass
                time.sleep(0.02)
            self.proc.kill()
            self.proc.wait()
            if self.port is not None:
                break   # its own port is taken: no point trying again
        raise AssertionError("redis-server did not start; its log:\n%s"
                             % self.log_tail())

    def log_tail(self, n=20):
        try:
            with open(os.path.join(self.dir, "redis.log")) as f:
                return _tail(f.read().splitlines(), n)
        except OSError:
            return "    | (no log)"

    @staticmethod
    def call_on(port, *args, timeout=5.0):
        with socket.create_connection(("127.0.0.1", port),
                                      timeout=scaled(timeout)) as s:
            s.sendall(resp_encode(*args))
            with s.makefile("rb") as f:
                return resp_read(f)

    def call(self, *args, timeout=5.0):
        return self.call_on(self.port, *args, timeout=timeout)

    def stop(self, timeout=10.0):
        """A clean shutdown (the AOF is flushed); waits for the exit."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(scaled(timeout))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def close(self):
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
