"""
Concurrency and requests in pieces: many clients at once, idle connections
that must not delay anyone, and requests that arrive a byte at a time.
"""

import re
import threading
import time

import lib
from lib import (REGISTER, LIST, CHECK_MESSAGES, TELL, SAY, ok, enc_u16,
                 enc_str)


def _sizes(ctx):
    """(clients, calls per client): smaller under valgrind."""
    return (20, 30) if lib.VALGRIND else (100, 100)


@lib.timeout(180)
@lib.both_wires
def test_concurrent_clients(ctx):
    """N clients x M calls from threads at once: every Say delivered
    exactly once to every logged-in user, in each sender's order."""
    nclients, ncalls = _sizes(ctx)
    nsays = ncalls // 2                 # 1 Register, nsays Says, the rest
    users = ["u%d" % i for i in range(nclients)]
    received = {u: [] for u in users}
    errors = []
    barrier = threading.Barrier(nclients, timeout=lib.scaled(60))

    with lib.Server(ctx) as srv:
        def client(u):
            try:
                ok(srv.call(REGISTER, u), "Register " + u)
                # Everyone is logged in before anyone speaks.
                barrier.wait()
                for j in range(ncalls - 1):
                    if j % 2 == 0 and j // 2 < nsays:
                        ok(srv.call(SAY, u, str(j // 2)), "Say " + u)
                    else:
                        received[u].extend(
                            ok(srv.call(CHECK_MESSAGES, u), "Check " + u))
            except BaseException as e:      # noqa: reported below
                errors.append("%s: %r" % (u, e))
                barrier.abort()

        threads = [threading.Thread(target=client, args=(u,), daemon=True)
                   for u in users]
        start = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(lib.scaled(150))
            assert not t.is_alive(), "a client thread hung"
        secs = time.monotonic() - start
        assert not errors, errors[:5]
        for u in users:
            received[u].extend(srv.drain(u))

        pat = re.compile(r"^(u\d+) says (\d+)$")
        notice = re.compile(r"^\*\*\* (u\d+) has logged in$")
        for u in users:
            per_sender = {v: [] for v in users}
            for m in received[u]:
                g = pat.match(m)
                if g:
                    per_sender[g.group(1)].append(int(g.group(2)))
                else:
                    assert notice.match(m), "%s got %r" % (u, m)
            for v in users:
                assert per_sender[v] == list(range(nsays)), \
                    "%s got from %s: %s" % (u, v, per_sender[v][:20])
        print("%d clients x %d calls in %.2fs (%.0f calls/s)"
              % (nclients, ncalls, secs, nclients * ncalls / secs))


@lib.both_wires
def test_idle_connections(ctx):
    """200 connections that send nothing (or half a request) while normal
    calls keep answering promptly."""
    with lib.Server(ctx) as srv:
        idle = []
        try:
            half = lib.wire_request(REGISTER, "ghost", wire=ctx.wire)[:4]
            for i in range(200):
                s = lib.connect(srv.port)
                if i % 2:
                    s.sendall(half)
                idle.append(s)
            ok(srv.call(REGISTER, "alice"))
            worst = 0.0
            for i in range(50):
                t0 = time.monotonic()
                ok(srv.call(SAY, "alice", "m%d" % i))
                worst = max(worst, time.monotonic() - t0)
            assert srv.drain("alice") == ["alice says m%d" % i
                                          for i in range(50)]
            assert worst < lib.scaled(1.0), "a call took %.2fs" % worst
            assert srv.call(LIST) == (["alice"], "")
        finally:
            for s in idle:
                s.close()
        # After they go, everything still works.
        ok(srv.call(REGISTER, "bob"))
        assert srv.call(LIST) == (["alice", "bob"], "")


def test_framed_byte_at_a_time(ctx):
    with lib.Server(ctx) as srv:
        req = lib.frame(lib.request(REGISTER, "alice"))
        data = srv.raw(None, chunks=[req[i:i + 1] for i in range(len(req))],
                       pause=0.01)
        assert data == b"\x00\x02\x00\x00"
        req = lib.frame(lib.request(TELL, "alice", "bob", "hello"))
        data = srv.raw(None, chunks=[req[i:i + 1] for i in range(len(req))],
                       pause=0.005)
        assert data == b"\x00\x02\x00\x00"
        assert srv.call(CHECK_MESSAGES, "alice") == \
            (["*** No such user: bob"], "")


def test_large_requests_in_pieces(ctx):
    """Requests larger than a read chunk, arriving in pieces of every
    size: what the server gathered must be kept and added to."""
    for wire in ("framed", "unframed"):
        with lib.Server(ctx, wire=wire) as srv:
            ok(srv.call(REGISTER, "alice"))
            for size, piece in ((3000, 1000), (3000, 700), (60000, 20000),
                                (60000, 511), (1500, 513)):
                text = ("%d in %d: " % (size, piece)).ljust(size, "x")
                req = lib.request(SAY, "alice", text)
                if wire == "framed":
                    req = lib.frame(req)
                chunks = [req[i:i + piece] for i in range(0, len(req), piece)]
                data = srv.raw(None, chunks=chunks, pause=0.02)
                assert data == (b"\x00\x02\x00\x00" if wire == "framed"
                                else b"\x00\x00"), (size, piece, data)
                got, err = srv.call(CHECK_MESSAGES, "alice")
                assert err == "" and got == ["alice says " + text], \
                    [t[:20] for t in got]


def test_framed_two_requests_in_pieces_concurrently(ctx):
    """Two slow writers interleaved with each other and a fast caller."""
    with lib.Server(ctx) as srv:
        a = lib.connect(srv.port)
        b = lib.connect(srv.port)
        try:
            ra = lib.frame(lib.request(REGISTER, "alice"))
            rb = lib.frame(lib.request(REGISTER, "bob"))
            for i in range(max(len(ra), len(rb))):
                if i < len(ra):
                    a.sendall(ra[i:i + 1])
                if i < len(rb):
                    b.sendall(rb[i:i + 1])
                if i == 3:
                    assert srv.call(LIST) == ([], "")
                time.sleep(0.005)
            assert lib.read_to_eof(a) == b"\x00\x02\x00\x00"
            assert lib.read_to_eof(b) == b"\x00\x02\x00\x00"
        finally:
            a.close()
            b.close()
        assert srv.call(LIST) == (["alice", "bob"], "")


def test_unframed_field_per_write(ctx):
    """PROTOCOL.md §6: reference clients of that generation write each field
    separately."""
    with lib.Server(ctx, wire="unframed") as srv:
        chunks = [enc_u16(REGISTER), enc_u16(5), b"alice"]
        assert srv.raw(None, chunks=chunks, pause=0.05) == b"\x00\x00"
        chunks = [enc_u16(TELL), enc_u16(5), b"alice", enc_u16(3), b"bob",
                  enc_u16(2), b"hi"]
        assert srv.raw(None, chunks=chunks, pause=0.02) == b"\x00\x00"
        chunks = [enc_u16(CHECK_MESSAGES), enc_u16(5), b"alice"]
        assert srv.raw(None, chunks=chunks, pause=0.05) == \
            lib.enc_strlist(["*** No such user: bob"]) + enc_str("")
        chunks = [enc_u16(LIST)]
        assert srv.raw(None, chunks=chunks) == \
            lib.enc_strlist(["alice"]) + enc_str("")


def test_unframed_byte_at_a_time(ctx):
    with lib.Server(ctx, wire="unframed") as srv:
        for req, want in [
                (lib.request(REGISTER, "alice"), b"\x00\x00"),
                (lib.request(SAY, "alice", "one byte"), b"\x00\x00"),
                (lib.request(CHECK_MESSAGES, "alice"),
                 lib.enc_strlist(["alice says one byte"]) + enc_str("")),
                (lib.request(LIST),
                 lib.enc_strlist(["alice"]) + enc_str(""))]:
            data = srv.raw(None, chunks=[req[i:i + 1]
                                         for i in range(len(req))],
                           pause=0.01)
            assert data == want, (req, data)
