"""
How the server ends a connection: every answered call is delivered.

A client that sends more than its request (a buggy one, or one of a
generation that pipelines) leaves input the server never reads.  close()
with input unread makes the kernel send a reset instead of a FIN, and a
reset can destroy the response before the client has read it: the call
was carried out (a Say delivered) and its sender sees a failure.  The
server closes such a connection lingering: FIN behind the response, then
it reads and discards until the client's end of file, bounded.

The listener defers accept until data is in (TCP_DEFER_ACCEPT): a client
that connects and says nothing is held by the kernel for about a second,
then accepted, and then the read timeout and --max-connections apply to
it as to any other.
"""

import socket
import time

import lib
from lib import REGISTER, LIST, SAY, ok
from test_hostile import sockets_of, wait_sockets

EXTRAS = (10, 600, 70000)

TCP_CLOSE_WAIT = "08"


def tcp_state(s):
    """The kernel's TCP state of our socket s (hex, /proc/net/tcp), or None
    when the connection is gone (a reset removes it)."""
    host, port = s.getsockname()[:2]
    peer = s.getpeername()[1]
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            local, remote, state = fields[1], fields[2], fields[3]
            if int(local.split(":")[1], 16) == port and \
                    int(remote.split(":")[1], 16) == peer:
                return state
    return None


def recv_all(s, timeout=10.0):
    """Every byte until an orderly end of file; a reset fails the test."""
    s.settimeout(lib.scaled(timeout))
    chunks = []
    while True:
        try:
            b = s.recv(65536)
        except ConnectionResetError:
            raise AssertionError("connection reset after %d bytes: the "
                                 "response was written, the close must be "
                                 "orderly" % sum(map(len, chunks)))
        if not b:
            return b"".join(chunks)
        chunks.append(b)


def response(wire, type_, data):
    msg = lib.unframe(data) if wire == "framed" else data
    return lib.parse_response(type_, msg)


def call_with_extra(srv, wire, type_, args, extra, read_later):
    """One call followed by extra bytes on the same connection; the
    client reads at once, or only once the server's FIN (or a reset) is
    in."""
    with lib.connect(srv.port) as s:
        s.sendall(lib.wire_request(type_, *args, wire=wire) +
                  b"\x07" * extra)
        if read_later:
            lib.wait_until(lambda: tcp_state(s) in (TCP_CLOSE_WAIT, None),
                           10, "the server's FIN or reset")
        return response(wire, type_, recv_all(s))


@lib.both_wires
@lib.timeout(120)
def test_extra_bytes_after_request(ctx):
    with lib.Server(ctx) as srv:
        ok(srv.call(REGISTER, "alice"))
        base = sockets_of(srv.pid)
        says = 0
        for extra in EXTRAS:
            for later in (False, True):
                what = "%d extra bytes, %s" % (
                    extra, "read later" if later else "read at once")
                users = ok(call_with_extra(srv, ctx.wire, LIST, (), extra,
                                           later), what)
                assert users == ["alice"], (what, users)
                ok(call_with_extra(srv, ctx.wire, SAY,
                                   ("alice", "m%d" % says), extra, later),
                   what)
                says += 1
        # Each Say delivered once: the client saw success, no retry.
        assert srv.drain("alice") == ["alice says m%d" % i
                                      for i in range(says)]
        wait_sockets(srv, base, 10, "lingering connections closed")


def test_lingering_counts_against_max_connections(ctx):
    with lib.Server(ctx, "--max-connections", 1) as srv:
        base = sockets_of(srv.pid)
        with lib.connect(srv.port) as s:
            # Answered, but the client never closes: the server lingers.
            s.sendall(lib.wire_request(LIST, wire=ctx.wire) + b"\x07" * 600)
            assert response(ctx.wire, LIST, recv_all(s)) == ([], "")
            wait_sockets(srv, base + 1, 5, "the lingering connection held")
            # It holds the only slot: another call is refused...
            refused = lib.raw(srv.port, lib.wire_request(LIST, wire=ctx.wire))
            assert refused == b"", refused
            srv.wait_log(r"refusing connections: 1 open")
            # ...until the linger's 2 s bound lets it go.
            wait_sockets(srv, base, 10, "the lingering connection "
                         "closed at its bound")
        assert srv.call(LIST) == ([], "")


def test_lingering_is_bounded_in_bytes(ctx):
    with lib.Server(ctx) as srv:
        base = sockets_of(srv.pid)
        with lib.connect(srv.port) as s:
            s.sendall(lib.wire_request(LIST, wire=ctx.wire) + b"\x07" * 600)
            # The answer comes, then a client that never stops sending
            # is cut off after 1 MB (a reset is acceptable there).
            s.settimeout(lib.scaled(10))
            data = b""
            while len(data) < 6:
                b = s.recv(64)
                assert b, "EOF after %r" % data
                data += b
            assert data == lib.frame(lib.enc_u16(0) + lib.enc_u16(0)), data
            sent = 0
            try:
                while sent < 16 << 20:
                    sent += s.send(b"\x07" * 65536)
            except (ConnectionResetError, BrokenPipeError):
                pass
            assert sent < 16 << 20, "the server discarded %d bytes" % sent
        wait_sockets(srv, base, 10, "the connection closed")
        assert srv.call(LIST) == ([], "")


@lib.both_wires
def test_silent_connection_deferred_then_timed_out(ctx):
    """What a client that connects and says nothing sees: connect succeeds
    at once (the kernel completes the handshake), then nothing until the
    server closes it in an orderly way, the read timeout after the kernel
    handed it over (about 1 s, the first SYN-ACK retransmission)."""
    with lib.Server(ctx, "--read-timeout", 1) as srv:
        start = time.monotonic()
        with lib.connect(srv.port) as s:
            data = recv_all(s, 20)
            took = time.monotonic() - start
        assert data == b"", data
        assert took >= 0.9, "closed after %.2fs, before the timeout" % took
        srv.wait_log(r"closed .*: no complete request within 1 s")
        assert srv.call(LIST) == ([], "")


@lib.timeout(60)
def test_silent_connections_count_against_max_connections(ctx):
    limit = 3
    with lib.Server(ctx, "--max-connections", limit,
                    "--read-timeout", 30) as srv:
        base = sockets_of(srv.pid)
        held = [lib.connect(srv.port) for _ in range(limit)]
        try:
            # Deferred, then accepted empty: they take every slot...
            wait_sockets(srv, base + limit, 15, "silent connections "
                         "accepted after the deferral")
            # ...so a call now is refused at once, not queued.
            refused = lib.raw(srv.port, lib.wire_request(LIST, wire=ctx.wire))
            assert refused == b"", refused
            srv.wait_log(r"refusing connections: %d open" % limit)
        finally:
            for s in held:
                s.close()
        wait_sockets(srv, base, 10, "closed connections released")
        assert srv.call(LIST) == ([], "")
