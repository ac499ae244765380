"""
Hostile clients against the real server (PROTOCOL.md §3.3-3.5, §4): silent,
half-sent and never-reading connections, more connections than allowed,
resets in the middle of a call, floods of Registers and messages, users
who never poll; and who may call Shutdown (--allow-shutdown), from
loopback and from a network namespace of the test's own.

Every wait is bounded; connections are counted through /proc/PID/fd, so
a leak of a descriptor fails the test.
"""

import os
import random
import resource
import selectors
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import lib
from lib import (REGISTER, LIST, CHECK_MESSAGES, TELL, SAY, QUIT, SHUTDOWN,
                 ok, FRAME_MAX)

HERE = os.path.dirname(os.path.abspath(__file__))


# -- helpers ----------------------------------------------------------------

def raise_nofile(n):
    """Lets this process (and the server it starts) hold n descriptors."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n if hard == resource.RLIM_INFINITY else min(n, hard)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        lib.skip("needs %d descriptors, the hard limit is %s" % (n, hard))


def sockets_of(pid):
    """How many sockets the process holds (listeners included)."""
    n = 0
    d = "/proc/%d/fd" % pid
    for fd in os.listdir(d):
        try:
            if os.readlink(os.path.join(d, fd)).startswith("socket:"):
                n += 1
        except OSError:
            pass            # closed while we looked
    return n


def fds_of(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for pid %d" % pid)


def reset(s):
    """Closes with SO_LINGER 0: the peer gets a RST, not a FIN."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                 struct.pack("ii", 1, 0))
    s.close()


def timed_call(srv, limit, type_, *args):
    """A call that must be answered within limit seconds (scaled)."""
    start = time.monotonic()
    res = srv.call(type_, *args)
    took = time.monotonic() - start
    assert took < lib.scaled(limit), \
        "%s took %.2fs: the server was held up" % (lib.CALL_NAMES[type_],
                                                    took)
    return res


def normal_traffic(srv, tag, limit=2.0):
    """A short conversation; every answer within limit seconds."""
    a, b = "a" + tag, "b" + tag
    ok(timed_call(srv, limit, REGISTER, a))
    ok(timed_call(srv, limit, REGISTER, b))
    ok(timed_call(srv, limit, SAY, a, "hello"))
    ok(timed_call(srv, limit, TELL, b, a, "psst"))
    users = ok(timed_call(srv, limit, LIST))
    assert a in users and b in users, users
    got = ok(timed_call(srv, limit, CHECK_MESSAGES, a))
    assert got[-2:] == ["%s says hello" % a, "%s tells you psst" % b], got
    ok(timed_call(srv, limit, QUIT, a))
    ok(timed_call(srv, limit, QUIT, b))


def name20(i, prefix="u"):
    """A distinct 20-byte name: prefix, then i in letters."""
    s = ""
    for _ in range(20 - len(prefix)):
        s = chr(ord("a") + i % 26) + s
        i //= 26
    return prefix + s


def register_many(srv, names, workers=8):
    def one(n):
        return srv.call(REGISTER, n)[1]

    with ThreadPoolExecutor(workers) as pool:
        errs = list(pool.map(one, names))
    return errs


def wait_sockets(srv, want, timeout, what):
    lib.wait_until(lambda: sockets_of(srv.pid) == want, timeout,
                   "%s (server holds %d sockets, want %d)"
                   % (what, sockets_of(srv.pid), want))


def partial_request(wire):
    """The start of a request that promises more than it sends."""
    if wire == "framed":
        return lib.enc_u16(16) + b"\x00\x00\x00"
    return lib.enc_u16(REGISTER) + lib.enc_u16(10) + b"ab"


# -- 1000 silent, one-byte and half-sent connections -------------------------

@lib.both_wires
@lib.timeout(90)
def test_thousand_hostile_connections(ctx):
    n = 1000
    read_timeout = 2
    raise_nofile(n + 512)
    with lib.Server(ctx, "--read-timeout", read_timeout) as srv:
        base = sockets_of(srv.pid)
        hostile = []
        opened = {}
        try:
            for i in range(n):
                s = socket.create_connection(("127.0.0.1", srv.port),
                                             timeout=lib.scaled(10))
                kind = i % 3
                if kind == 1:
                    s.sendall(b"\x00")
                elif kind == 2:
                    s.sendall(partial_request(ctx.wire))
                opened[s.fileno()] = time.monotonic()
                hostile.append(s)
            wait_sockets(srv, base + n, 10, "every hostile connection "
                         "accepted")

            # While they sit there, normal clients get every answer.
            for i in range(5):
                normal_traffic(srv, str(i))

            # Then the read timeout closes each of them, not sooner.
            sel = selectors.DefaultSelector()
            for s in hostile:
                s.setblocking(False)
                sel.register(s, selectors.EVENT_READ)
            left = len(hostile)
            deadline = time.monotonic() + read_timeout + lib.scaled(10)
            early = []
            while left and time.monotonic() < deadline:
                for key, _ in sel.select(timeout=0.5):
                    s = key.fileobj
                    try:
                        data = s.recv(4096)
                    except ConnectionResetError:
                        data = b""
                    except BlockingIOError:
                        continue
                    if data:
                        continue        # an error response; EOF follows
                    now = time.monotonic()
                    if now - opened[s.fileno()] < read_timeout - 0.25:
                        early.append(now - opened[s.fileno()])
                    sel.unregister(s)
                    left -= 1
            sel.close()
            assert left == 0, "%d of %d hostile connections still open " \
                "%.0fs after the read timeout" % (left, n, lib.scaled(10))
            assert not early, "%d connections closed before the read " \
                "timeout, after %.2fs" % (len(early), min(early))
            wait_sockets(srv, base, 5, "descriptors back to the baseline")
            assert srv.has_log(r"closed .*: no complete request within 2 s")
            normal_traffic(srv, "after")
        finally:
            for s in hostile:
                s.close()


# -- more connections than --max-connections ---------------------------------

@lib.timeout(60)
def test_max_connections(ctx):
    limit = 50
    raise_nofile(1024)
    with lib.Server(ctx, "--max-connections", limit,
                    "--read-timeout", 30) as srv:
        base_socks = sockets_of(srv.pid)
        base_fds = fds_of(srv.pid)
        held = []
        try:
            for _ in range(limit):
                held.append(lib.connect(srv.port))
            wait_sockets(srv, base_socks + limit, 10, "the connections "
                         "up to the limit accepted")

            # Beyond the limit: refused at once, not queued.
            for i in range(20):
                start = time.monotonic()
                with lib.connect(srv.port) as s:
                    try:
                        s.sendall(lib.wire_request(LIST, wire=ctx.wire))
                    except (BrokenPipeError, ConnectionResetError):
                        pass
                    data = lib.read_to_eof(s, 5)
                took = time.monotonic() - start
                assert data == b"", "an extra connection was served: %r" \
                    % data[:40]
                assert took < lib.scaled(1.0), \
                    "extra connection %d took %.2fs to be refused" % (i, took)
            assert sockets_of(srv.pid) == base_socks + limit
            srv.wait_log(r"refusing connections: \d+ open")

            # Room again: service continues.
            for s in held[:10]:
                s.close()
            del held[:10]
            wait_sockets(srv, base_socks + limit - 10, 5, "closed "
                         "connections released")
            normal_traffic(srv, "x")
        finally:
            for s in held:
                s.close()
        wait_sockets(srv, base_socks, 5, "sockets back to the baseline")
        assert fds_of(srv.pid) == base_fds, \
            "descriptors %d, at the start %d" % (fds_of(srv.pid), base_fds)


# -- clients that never read, and resets -------------------------------------

def big_list(srv, n):
    """Registers n 20-byte users so that List answers ~22n bytes."""
    errs = register_many(srv, [name20(i) for i in range(n)])
    assert not any(errs), [e for e in errs if e][:3]


@lib.timeout(60)
def test_client_never_reads_answer(ctx):
    n_users = 300 if lib.VALGRIND else 1500
    raise_nofile(1024)
    with lib.Server(ctx, "--read-timeout", 2) as srv:
        base = sockets_of(srv.pid)
        big_list(srv, n_users)
        deaf = []
        try:
            for _ in range(30):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                # A tiny window and tiny segments, so that the kernel
                # cannot take the whole answer off the server's hands.
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 88)
                s.settimeout(lib.scaled(10))
                s.connect(("127.0.0.1", srv.port))
                s.sendall(lib.wire_request(LIST, wire=ctx.wire))
                deaf.append(s)
            # They do not hold anyone up...
            for i in range(3):
                normal_traffic(srv, str(i))
            # ...and the server lets them go, while they still have not
            # read a byte: at once where the kernel takes the whole answer
            # into its buffers (a frame is at most 64 kB, loopback's
            # buffers are larger), else at the timeout ("closed PEER:
            # response not read within 2 s").
            wait_sockets(srv, base, 10, "never-reading clients dropped")
        finally:
            for s in deaf:
                s.close()
        normal_traffic(srv, "after")


@lib.both_wires
@lib.timeout(60)
def test_resets_mid_request_and_mid_response(ctx):
    n_users = 300 if lib.VALGRIND else 1500
    raise_nofile(1024)
    with lib.Server(ctx) as srv:
        base = sockets_of(srv.pid)
        big_list(srv, n_users)
        list_req = lib.wire_request(LIST, wire=ctx.wire)
        for i in range(100):
            # Mid-request: part of a request, then a reset.
            s = lib.connect(srv.port)
            s.sendall(partial_request(ctx.wire))
            reset(s)
            # Right after the request: the answer meets a reset socket.
            s = lib.connect(srv.port)
            s.sendall(list_req)
            reset(s)
            # Mid-response: read a little of a long answer, then reset.
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
            s.settimeout(lib.scaled(10))
            s.connect(("127.0.0.1", srv.port))
            s.sendall(list_req)
            assert s.recv(100), "no response started"
            reset(s)
            if i % 25 == 0:
                normal_traffic(srv, str(i))
        wait_sockets(srv, base, 10, "reset connections released")
        users = ok(srv.call(LIST))
        assert len(users) == n_users, len(users)
        normal_traffic(srv, "after")
        assert not srv.has_log(r"internal error")


# -- floods -------------------------------------------------------------------

@lib.slow
@lib.timeout(60)
def test_register_flood_until_too_many_users(ctx):
    # 20-byte names: count(2) + n * (2 + 20) + error(2) <= 65535
    fit = (FRAME_MAX - 4) // 22
    with lib.Server(ctx) as srv:
        counter = iter(range(10 ** 6))
        lock = threading.Lock()
        accepted = []
        refused = []

        def flood():
            while True:
                with lock:
                    i = next(counter)
                _, err = srv.call(REGISTER, name20(i))
                if err == "":
                    with lock:
                        accepted.append(i)
                elif err == "Register: too many users":
                    with lock:
                        refused.append(i)
                    if len(refused) >= 20:
                        return
                else:
                    raise AssertionError("Register %d: %r" % (i, err))

        with ThreadPoolExecutor(6) as pool:
            for f in [pool.submit(flood) for _ in range(6)]:
                f.result()
        assert len(accepted) == fit, (len(accepted), fit)
        users = ok(srv.call(LIST))
        assert len(users) == fit
        assert users == sorted(users, key=lambda u: u.encode())
        assert set(users) == {name20(i) for i in accepted}

        # Normal operation goes on at the limit.
        first = name20(accepted[0])
        ok(srv.call(SAY, first, "still here"))
        ok(srv.call(REGISTER, first))           # already in: no growth
        # A short name still fits the List frame; another 20-byte one not.
        _, err = srv.call(REGISTER, name20(0, "new"))
        assert err == "Register: too many users", err
        ok(srv.call(QUIT, name20(accepted[1])))
        ok(srv.call(REGISTER, name20(10 ** 5)))
        _, err = srv.call(REGISTER, name20(10 ** 5 + 1))
        assert err == "Register: too many users", err
        got = srv.drain(name20(accepted[2]))
        assert "%s says still here" % first in got, got[-3:]


@lib.timeout(60)
def test_user_who_never_polls(ctx):
    idle = 3
    with lib.Server(ctx, "--queue-limit", 5, "--idle-timeout", idle) as srv:
        for u in ("a", "c1", "c2"):
            ok(srv.call(REGISTER, u))
        for i in range(12):
            ok(srv.call(SAY, "a", "m%d" % i))
        # c1 polls once: the oldest were dropped and it is told how many.
        got = ok(srv.call(CHECK_MESSAGES, "c1"))
        # The log: the two login notices, then 12 Says; 5 kept, a's own
        # oldest dropped (PROTOCOL.md §4.4).
        assert got == ["*** 9 messages were dropped",
                       "*** c2 has logged in"] + \
            ["a says m%d" % i for i in range(9, 12)], got
        # c2 never polls: the idle timeout logs it out; a keeps polling.
        mark = srv.log_mark()
        seen = []

        def c2_gone():
            seen.extend(ok(srv.call(CHECK_MESSAGES, "a")))
            return srv.has_log(r"\*\*\* c2 has logged out \(idle for %d s\)"
                               % idle, since=mark)

        lib.wait_until(c2_gone, idle + 5, "c2 logged out for idleness",
                       interval=0.3)
        lib.wait_until(lambda: "c2" not in ok(srv.call(LIST)), 2,
                       "c2 gone from List")
        seen.extend(ok(srv.call(CHECK_MESSAGES, "a")))
        assert "*** c2 has logged out" in seen, seen
        got = ok(srv.call(CHECK_MESSAGES, "c2"))
        assert got == ["*** You are not logged in, c2"], got
        assert "a" in ok(srv.call(LIST))


def sanitized(path):
    """Whether the binary is built with AddressSanitizer (it keeps freed
    memory in quarantine, so its RSS says nothing about what is live)."""
    with open(path, "rb") as f:
        return b"__asan_init" in f.read()


@lib.slow
@lib.timeout(60)
def test_queue_limit_bounds_memory(ctx):
    size = 2000
    count = 4000
    if sanitized(ctx.rpcchat):
        lib.skip("RSS means nothing under AddressSanitizer's quarantine")
    with lib.Server(ctx, "--queue-limit", 5, "--idle-timeout", 0) as srv:
        for u in ("a", "b", "c"):
            ok(srv.call(REGISTER, u))
        for i in range(50):         # warm up the allocator
            ok(srv.call(SAY, "a", "w" * size))
        before = rss_kb(srv.pid)

        def send(i):
            return srv.call(SAY, "a", ("%d " % i).ljust(size, "x"))[1]

        with ThreadPoolExecutor(4) as pool:
            errs = list(pool.map(send, range(count)))
        assert not any(errs), [e for e in errs if e][:3]
        grew = rss_kb(srv.pid) - before
        # Unbounded queues would hold 3 x 8 MB here.
        assert grew < 4096, "server grew by %d kB for queues of 5" % grew
        got = ok(srv.call(CHECK_MESSAGES, "b"))
        # c's login notice and a's newest 3: the log holds 5.
        assert len(got) == 5 and got[0].endswith("messages were dropped"), \
            got[:2]


# -- every accepted message delivered exactly once ----------------------------

@lib.both_wires
@lib.timeout(90)
def test_exactly_once_under_concurrency(ctx):
    users = ["u%d" % i for i in range(6)]
    sends = 60 if lib.VALGRIND else 500
    with lib.Server(ctx) as srv:
        for u in users:
            ok(srv.call(REGISTER, u))
        for u in users:                 # forget the login notices
            srv.drain(u)
        received = {u: [] for u in users}
        accepted = []                   # (kind, sender, target, text)
        lock = threading.Lock()
        senders_done = threading.Event()

        def sender(me, seed):
            rnd = random.Random(seed)
            for seq in range(sends):
                body = "m %s %d" % (me, seq)
                if rnd.random() < 0.6:
                    _, err = srv.call(SAY, me, body)
                    rec = ("say", me, None, body)
                else:
                    target = rnd.choice(users + ["nobody"])
                    _, err = srv.call(TELL, me, target, body)
                    rec = ("tell", me, target, body)
                assert err == "", "%s %r: %r" % (rec[0], body, err)
                with lock:
                    accepted.append(rec)

        def poller(me):
            while not senders_done.is_set():
                got = ok(srv.call(CHECK_MESSAGES, me))
                received[me].extend(got)
                if not got:
                    time.sleep(0.01)
            received[me].extend(srv.drain(me))

        def churn():
            # Users coming and going while messages flow must not disturb
            # what the others get.
            i = 0
            while not senders_done.is_set():
                ok(srv.call(REGISTER, "churn%d" % (i % 3)))
                ok(srv.call(SAY, "churn%d" % (i % 3), "hi"))
                if i % 2:
                    ok(srv.call(QUIT, "churn%d" % (i % 3)))
                i += 1

        with ThreadPoolExecutor(2 * len(users) + 1) as pool:
            polls = [pool.submit(poller, u) for u in users]
            polls.append(pool.submit(churn))
            sent = [pool.submit(sender, u, i) for i, u in enumerate(users)]
            try:
                for f in sent:
                    f.result()
            finally:
                senders_done.set()
            for f in polls:
                f.result()

        # What each user must have got, exactly once each.
        want = {u: {} for u in users}

        def expect(u, line):
            want[u][line] = want[u].get(line, 0) + 1

        for kind, me, target, body in accepted:
            if kind == "say":
                for u in users:
                    expect(u, "%s says %s" % (me, body))
            elif target in users:
                expect(target, "%s tells you %s" % (me, body))
            else:
                expect(me, "*** No such user: %s" % target)
        for u in users:
            got = {}
            for line in received[u]:
                assert "messages were dropped" not in line, line
                if line.startswith(("*** churn", "churn")):
                    continue
                got[line] = got.get(line, 0) + 1
            missing = [l for l in want[u] if got.get(l, 0) < want[u][l]]
            extra = [l for l in got if got[l] > want[u].get(l, 0)]
            assert not missing and not extra, \
                "%s: %d missing (%r...), %d extra or duplicated (%r...)" % (
                    u, len(missing), missing[:3], len(extra), extra[:3])
            # One sender's messages arrive in the order they were sent.
            last = {}
            for line in received[u]:
                w = line.split()
                if len(w) >= 2 and w[-3:-2] == ["m"]:
                    who, seq = w[-2], int(w[-1])
                    assert seq > last.get(who, -1), \
                        "%s got %s's message %d after %d" % (
                            u, who, seq, last[who])
                    last[who] = seq
        assert len(accepted) == len(users) * sends


# -- --allow-shutdown ----------------------------------------------------------

def test_allow_shutdown_local_from_loopback(ctx):
    with lib.Server(ctx, "--allow-shutdown", "local") as srv:
        ok(srv.call(SHUTDOWN, host="127.0.0.1"))
        assert srv.wait(5, "exit after a Shutdown from 127.0.0.1") == 0
    if not lib.has_ipv6_loopback():
        return
    with lib.Server(ctx, "--allow-shutdown", "local") as srv:
        ok(srv.call(SHUTDOWN, host="::1"))
        assert srv.wait(5, "exit after a Shutdown from ::1") == 0


def test_allow_shutdown_none(ctx):
    hosts = ["127.0.0.1"] + (["::1"] if lib.has_ipv6_loopback() else [])
    with lib.Server(ctx, "--allow-shutdown", "none") as srv:
        for h in hosts:
            _, err = srv.call(SHUTDOWN, host=h)
            assert err == "Shutdown: not allowed", (h, err)
        # The call's name is said once (PROTOCOL.md §3.3).
        srv.wait_log(r"rejected Shutdown from \S+: not allowed$")
        assert srv.running()
        normal_traffic(srv, "x")


def test_allow_shutdown_any(ctx):
    with lib.Server(ctx, "--allow-shutdown", "any") as srv:
        ok(srv.call(SHUTDOWN))
        assert srv.wait(5) == 0


class Netns:
    """
    A network namespace joined to this one by a veth pair, with addresses
    in 10.254.X.0/30 on the pair only: traffic goes between the two ends
    and nowhere else.  Skips the test where the machine does not allow it.
    """

    def __init__(self):
        if os.geteuid() != 0:
            lib.skip("network namespaces need root")
        if shutil.which("ip") is None:
            lib.skip("no ip(8) to make a network namespace")
        pid = os.getpid()
        self.ns = "rpcchat-test-%d" % pid
        self.host_if = "rcv%dh" % (pid % 10 ** 9)
        self.ns_if = "rcv%dn" % (pid % 10 ** 9)
        x = pid % 250 + 1
        self.host_addr = "10.254.%d.1" % x
        self.ns_addr = "10.254.%d.2" % x
        self.made_ns = self.made_link = False
        try:
            self._ip("netns", "add", self.ns)
        except AssertionError as e:
            lib.skip("cannot make a network namespace here: %s" % e)
        self.made_ns = True
        try:
            self._ip("link", "add", self.host_if, "type", "veth",
                     "peer", "name", self.ns_if)
            self.made_link = True
            self._ip("link", "set", self.ns_if, "netns", self.ns)
            self._ip("addr", "add", self.host_addr + "/30", "dev",
                     self.host_if)
            self._ip("link", "set", self.host_if, "up")
            self._ip("-n", self.ns, "addr", "add", self.ns_addr + "/30",
                     "dev", self.ns_if)
            self._ip("-n", self.ns, "link", "set", self.ns_if, "up")
            self._ip("-n", self.ns, "link", "set", "lo", "up")
        except BaseException:
            self.close()
            raise

    @staticmethod
    def _ip(*args):
        p = subprocess.run(["ip"] + list(args), capture_output=True,
                           timeout=10)
        if p.returncode != 0:
            raise AssertionError("ip %s: %s" % (" ".join(args),
                                 p.stderr.decode(errors="replace").strip()))

    def call(self, port, type_, wire):
        """One call from inside the namespace to the host end of the pair."""
        code = ("import sys; sys.path.insert(0, %r); import lib; "
                "print(repr(lib.call(%d, %d, wire=%r, host=%r)))"
                % (HERE, port, type_, wire, self.host_addr))
        p = subprocess.run(["ip", "netns", "exec", self.ns, sys.executable,
                            "-c", code], capture_output=True,
                           timeout=lib.scaled(30))
        out = p.stdout.decode(errors="replace").strip()
        assert p.returncode == 0, "call from the namespace failed: %s %s" % (
            out, p.stderr.decode(errors="replace")[-500:])
        return eval(out, {})

    def close(self):
        if self.made_link:
            try:
                self._ip("link", "del", self.host_if)
            except AssertionError:
                pass            # went with the namespace
        if self.made_ns:
            self._ip("netns", "del", self.ns)
        self.made_link = self.made_ns = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


@lib.timeout(60)
def test_allow_shutdown_from_another_host(ctx):
    with Netns() as net:
        with lib.Server(ctx, "--allow-shutdown", "local") as srv:
            _, err = net.call(srv.port, SHUTDOWN, ctx.wire)
            assert err == "Shutdown: not allowed", err
            srv.wait_log(r"rejected Shutdown from %s:\d+: not allowed$"
                         % net.ns_addr.replace(".", r"\."))
            assert srv.running()
            # The same peer may do everything else.
            _, err = net.call(srv.port, LIST, ctx.wire)
            assert err == "", err
            ok(srv.call(SHUTDOWN))          # from loopback: allowed
            assert srv.wait(5) == 0
        with lib.Server(ctx, "--allow-shutdown", "none") as srv:
            _, err = net.call(srv.port, SHUTDOWN, ctx.wire)
            assert err == "Shutdown: not allowed", err
            assert srv.running()
        with lib.Server(ctx, "--allow-shutdown", "any") as srv:
            _, err = net.call(srv.port, SHUTDOWN, ctx.wire)
            assert err == "", err
            assert srv.wait(5) == 0
