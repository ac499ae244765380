"""
Each limit of PROTOCOL.md §4 at its exact boundary, and the timeouts of §3.4-3.5.
"""

import socket
import time

import lib
from lib import (REGISTER, LIST, CHECK_MESSAGES, TELL, SAY, QUIT, ok,
                 TEXT_MAX, FRAME_MAX)

TOO_LONG = "message too long"


def response_size(messages):
    """Body of a CheckMessages response carrying these messages."""
    return 2 + sum(2 + len(lib._bytes(m)) for m in messages) + 2


def expected_batches(queue):
    """PROTOCOL.md §4.2: each response is the longest prefix that fits."""
    batches = []
    i = 0
    while i < len(queue):
        j = i
        while j < len(queue) and response_size(queue[i:j + 1]) <= FRAME_MAX:
            j += 1
        assert j > i, "a message that fits no response was accepted"
        batches.append(queue[i:j])
        i = j
    return batches


# -- §4.1 message size ----------------------------------------------------

@lib.both_wires
def test_say_size_boundary(ctx):
    with lib.Server(ctx) as srv:
        ok(srv.call(REGISTER, "a"))
        ok(srv.call(REGISTER, "b"))
        fits = "x" * (TEXT_MAX - len("a says "))
        assert len("a says " + fits) == 65529
        assert srv.call(SAY, "a", fits + "y") == (None, TOO_LONG)
        # The longest message a frame can carry is refused the same way.
        assert srv.call(SAY, "a", fits + "y" * 6) == (None, TOO_LONG)
        # Nothing was queued by the refusals.
        assert srv.call(CHECK_MESSAGES, "b") == ([], "")
        assert srv.call(SAY, "a", fits) == (None, "")
        # a's queue: the notice, then the big one, which fits only alone.
        assert srv.call(CHECK_MESSAGES, "a") == (["*** b has logged in"], "")
        assert srv.call(CHECK_MESSAGES, "a") == (["a says " + fits], "")
        assert srv.call(CHECK_MESSAGES, "a") == ([], "")
        assert srv.call(CHECK_MESSAGES, "b") == (["a says " + fits], "")
        if ctx.wire == "framed":
            # The largest response there is: exactly 65535 bytes of body.
            ok(srv.call(SAY, "a", fits))
            data = srv.raw(lib.frame(lib.request(CHECK_MESSAGES, "b")))
            assert len(data) == 2 + 65535 and data[:2] == b"\xff\xff"


@lib.both_wires
def test_tell_size_boundary(ctx):
    with lib.Server(ctx) as srv:
        ok(srv.call(REGISTER, "alice"))
        ok(srv.call(REGISTER, "bob"))
        fits = "y" * (TEXT_MAX - len("alice tells you "))
        assert srv.call(TELL, "alice", "bob", fits + "z") == (None, TOO_LONG)
        assert srv.call(CHECK_MESSAGES, "bob") == ([], "")
        assert srv.call(TELL, "alice", "bob", fits) == (None, "")
        assert srv.call(CHECK_MESSAGES, "bob") == \
            (["alice tells you " + fits], "")
        # An unknown target: the refusal comes first, nothing queued.
        srv.drain("alice")
        assert srv.call(TELL, "alice", "zed", fits + "z") == (None, TOO_LONG)
        assert srv.call(CHECK_MESSAGES, "alice") == ([], "")


# -- §4.2 CheckMessages larger than one frame ------------------------------

@lib.both_wires
def test_check_messages_exact_frame(ctx):
    with lib.Server(ctx) as srv:
        ok(srv.call(REGISTER, "b"))
        ok(srv.call(REGISTER, "a"))
        srv.drain("b")
        # Three messages that fill a response to its last byte, then one
        # more: the fourth must wait.
        m1 = "a says " + "1" * (30000 - 7)
        m2 = "a says " + "2" * (30000 - 7)
        room = FRAME_MAX - 4 - (2 + 30000) * 2 - 2
        m3 = "a says " + "3" * (room - 7)
        m4 = "a says 4"
        assert response_size([m1, m2, m3]) == FRAME_MAX
        for m in [m1, m2, m3, m4]:
            ok(srv.call(SAY, "a", m[len("a says "):]))
        assert srv.call(CHECK_MESSAGES, "b") == ([m1, m2, m3], "")
        assert srv.call(CHECK_MESSAGES, "b") == ([m4], "")
        # One byte more in the third: only two fit.
        m3b = m3 + "3"
        for m in [m1, m2, m3b, m4]:
            ok(srv.call(SAY, "a", m[len("a says "):]))
        assert srv.call(CHECK_MESSAGES, "b") == ([m1, m2], "")
        assert srv.call(CHECK_MESSAGES, "b") == ([m3b, m4], "")
        assert srv.call(CHECK_MESSAGES, "b") == ([], "")


@lib.both_wires
def test_check_messages_split_in_order(ctx):
    """A queue of several frames comes out in longest-prefix batches, in
    order, nothing lost, Says and Tells mixed."""
    with lib.Server(ctx) as srv:
        ok(srv.call(REGISTER, "b"))
        ok(srv.call(REGISTER, "a"))
        srv.drain("b")
        want = []
        for i in range(60):
            n = (i * 7919) % 20000 + 1
            body = ("%03d:" % i) + "m" * n
            if i % 3:
                ok(srv.call(SAY, "a", body))
                want.append("a says " + body)
            else:
                ok(srv.call(TELL, "a", "b", body))
                want.append("a tells you " + body)
        got = []
        for batch in expected_batches(want):
            assert srv.call(CHECK_MESSAGES, "b") == (batch, ""), \
                "batch %d differs" % len(got)
            got.append(batch)
        assert srv.call(CHECK_MESSAGES, "b") == ([], "")


# -- §4.3 List larger than one frame ----------------------------------------

@lib.timeout(180)
@lib.both_wires
def test_too_many_users_list_boundary(ctx):
    """Register fails when the List response would pass 65535 bytes."""
    with lib.Server(ctx) as srv:
        # 2978 names of 20 bytes: 2 + 2978 * 22 + 2 = 65520 bytes of List.
        names = ["u%019d" % i for i in range(2978)]
        for u in names:
            ok(srv.call(REGISTER, u), u)
        # 15 bytes left: room for one name of 13 bytes, not 14.
        assert srv.call(REGISTER, "n" * 14) == \
            (None, "Register: too many users")
        ok(srv.call(REGISTER, "n" * 13))
        assert srv.call(REGISTER, "z") == (None, "Register: too many users")
        users = ok(srv.call(LIST))
        assert len(users) == 2979
        assert 2 + sum(2 + len(u) for u in users) + 2 == FRAME_MAX
        if ctx.wire == "framed":
            data = srv.raw(lib.frame(lib.request(LIST)))
            assert len(data) == 2 + FRAME_MAX and data[:2] == b"\xff\xff"
        # A name already logged in is not a new user: it still succeeds.
        ok(srv.call(REGISTER, names[5]))
        # One leaves; one of the same size fits again, and no more.
        ok(srv.call(QUIT, names[0]))
        ok(srv.call(REGISTER, "v" * 20))
        assert srv.call(REGISTER, "w") == (None, "Register: too many users")
        assert len(ok(srv.call(LIST))) == 2979


@lib.both_wires
def test_max_users(ctx):
    with lib.Server(ctx, "--max-users", "3") as srv:
        for u in ["a", "b", "c"]:
            ok(srv.call(REGISTER, u))
        assert srv.call(REGISTER, "d") == (None, "Register: too many users")
        # Invalid names are still refused for their own reason first.
        assert srv.call(REGISTER, "") == \
            (None, "Register: user must be between 1 and 20 letters")
        ok(srv.call(REGISTER, "b"))
        assert srv.call(LIST) == (["a", "b", "c"], "")
        ok(srv.call(QUIT, "a"))
        ok(srv.call(REGISTER, "d"))
        assert srv.call(REGISTER, "a") == (None, "Register: too many users")
        assert srv.call(LIST) == (["b", "c", "d"], "")


# -- §4.4 queue limit and idle timeout ----------------------------------------

@lib.both_wires
def test_queue_limit_drop_notice(ctx):
    with lib.Server(ctx, "--queue-limit", "3") as srv:
        ok(srv.call(REGISTER, "bob"))
        ok(srv.call(REGISTER, "alice"))     # bob: the login notice
        for i in range(1, 6):
            ok(srv.call(SAY, "alice", "m%d" % i))
        assert srv.call(CHECK_MESSAGES, "bob") == (
            ["*** 3 messages were dropped",
             "alice says m3", "alice says m4", "alice says m5"], "")
        assert srv.call(CHECK_MESSAGES, "alice") == (
            ["*** 2 messages were dropped",
             "alice says m3", "alice says m4", "alice says m5"], "")
        # The count starts again after a delivery; Tells count too.
        for i in range(1, 5):
            ok(srv.call(TELL, "alice", "bob", "t%d" % i))
        assert srv.call(CHECK_MESSAGES, "bob") == (
            ["*** 1 messages were dropped", "alice tells you t2",
             "alice tells you t3", "alice tells you t4"], "")
        # Exactly at the limit: nothing dropped.
        for i in range(1, 4):
            ok(srv.call(SAY, "bob", "s%d" % i))
        assert srv.call(CHECK_MESSAGES, "bob") == (
            ["bob says s1", "bob says s2", "bob says s3"], "")
        assert srv.call(CHECK_MESSAGES, "bob") == ([], "")


@lib.both_wires
def test_queue_limit_one(ctx):
    with lib.Server(ctx, "--queue-limit", "1") as srv:
        ok(srv.call(REGISTER, "bob"))
        for i in range(100):
            ok(srv.call(SAY, "bob", "%d" % i))
        assert srv.call(CHECK_MESSAGES, "bob") == (
            ["*** 99 messages were dropped", "bob says 99"], "")


@lib.both_wires
def test_queue_limit_default(ctx):
    """10000 kept by default: the 10001st drops the oldest."""
    with lib.Server(ctx) as srv:
        ok(srv.call(REGISTER, "bob"))
        ok(srv.call(REGISTER, "al"))
        srv.drain("bob")
        # Tells to bob from al are the cheapest way to fill one queue.
        for i in range(10001):
            ok(srv.call(TELL, "al", "bob", "%d" % i))
        got = srv.drain("bob")
        assert got[0] == "*** 1 messages were dropped", got[:2]
        assert got[1:] == ["al tells you %d" % i for i in range(1, 10001)]


@lib.both_wires
def test_idle_timeout(ctx):
    with lib.Server(ctx, "--idle-timeout", "2") as srv:
        ok(srv.call(REGISTER, "bob"))
        start = time.monotonic()
        ok(srv.call(REGISTER, "alice"))
        seen = []

        def alice_gone():
            # bob keeps polling, so only alice falls idle.
            seen.extend(ok(srv.call(CHECK_MESSAGES, "bob")))
            if srv.has_log(r"\*\*\* alice has logged out \(idle"):
                return True
            time.sleep(0.1)
            return False

        lib.wait_until(alice_gone, 15, "alice's idle logout in the log")
        assert time.monotonic() - start >= 1.9
        m = srv.wait_log(r"^\d\d:\d\d:\d\d \*\*\* alice has logged out "
                         r"\(idle for (\d+) s\)$")
        assert int(m.group(1)) >= 2, m.group(0)
        seen.extend(srv.drain("bob"))
        assert seen == ["*** alice has logged in",
                        "*** alice has logged out"], seen
        assert srv.call(LIST) == (["bob"], "")
        assert srv.call(CHECK_MESSAGES, "alice") == \
            (["*** You are not logged in, alice"], "")


def test_idle_timeout_zero_never(ctx):
    with lib.Server(ctx, "--idle-timeout", "0") as srv:
        ok(srv.call(REGISTER, "alice"))
        # Nothing to wait for: check that a second passes without a logout.
        time.sleep(1.2)
        assert not srv.has_log("logged out")
        assert srv.call(LIST) == (["alice"], "")


# -- §3.4 read timeout ----------------------------------------------------

def _closed_within(port, payload, timeout):
    """Sends payload, returns (seconds until the server closed, bytes)."""
    with lib.connect(port) as s:
        if payload:
            s.sendall(payload)
        start = time.monotonic()
        data = lib.read_to_eof(s, timeout)
        return time.monotonic() - start, data


@lib.both_wires
def test_read_timeout(ctx):
    with lib.Server(ctx, "--read-timeout", "1") as srv:
        partial = lib.wire_request(REGISTER, "alice", wire=ctx.wire)[:5]
        for payload in [b"", b"\x00", partial]:
            secs, data = _closed_within(srv.port, payload, 10)
            assert secs >= 0.8, "closed after %.2fs, before the timeout" % secs
            if data:
                # Whatever is said must not be a success.
                msg = lib.unframe(data) if ctx.wire == "framed" else data
                assert lib.parse_error_only(msg) != "", data
        # The half-sent Register did nothing.
        assert srv.call(LIST) == ([], "")


@lib.both_wires
def test_read_timeout_does_not_block_others(ctx):
    with lib.Server(ctx, "--read-timeout", "2") as srv:
        silent = [lib.connect(srv.port) for _ in range(20)]
        try:
            start = time.monotonic()
            ok(srv.call(REGISTER, "alice"))
            for i in range(20):
                ok(srv.call(SAY, "alice", str(i)))
            assert len(srv.drain("alice")) == 20
            assert time.monotonic() - start < lib.scaled(1.5), \
                "calls waited for silent connections"
            # And the silent ones are closed by the timeout in the end.
            for s in silent:
                lib.read_to_eof(s, 10)
        finally:
            for s in silent:
                s.close()


@lib.both_wires
def test_drop_notice_with_largest_messages(ctx):
    """The drop notice takes room too: with two messages of the largest
    size kept, each response still fits, and all come out in order."""
    with lib.Server(ctx, "--queue-limit", "2") as srv:
        ok(srv.call(REGISTER, "b"))
        ok(srv.call(REGISTER, "a"))         # b: notice (1 message)
        big = ["%d" % i + "x" * (TEXT_MAX - len("a says ") - 1)
               for i in range(3)]
        for m in big:
            ok(srv.call(SAY, "a", m))
        got = []
        for _ in range(10):
            items = ok(srv.call(CHECK_MESSAGES, "b"))
            if not items:
                break
            assert response_size(items) <= FRAME_MAX
            got.extend(items)
        assert got == ["*** 2 messages were dropped",
                       "a says " + big[1], "a says " + big[2]], \
            [g[:40] for g in got]


@lib.both_wires
def test_idle_timeout_counts_only_polls(ctx):
    """PROTOCOL.md §4.4: only Register and CheckMessages keep a user; Say does
    not."""
    with lib.Server(ctx, "--idle-timeout", "2") as srv:
        ok(srv.call(REGISTER, "alice"))

        def gone():
            items, err = srv.call(SAY, "alice", "still here")
            if err:
                assert err == "Say: user alice is not logged in", err
                return True
            time.sleep(0.1)
            return False

        lib.wait_until(gone, 15, "alice to be logged out while saying")
        srv.wait_log(r"\*\*\* alice has logged out \(idle for \d+ s\)$")


@lib.both_wires
def test_idle_timeout_reset_by_register(ctx):
    with lib.Server(ctx, "--idle-timeout", "2") as srv:
        ok(srv.call(REGISTER, "alice"))
        start = time.monotonic()
        # Register again every 0.3 s for 3 s: never idle for 2 s.
        while time.monotonic() - start < 3:
            ok(srv.call(REGISTER, "alice"))
            time.sleep(0.3)
        assert srv.call(LIST) == (["alice"], "")
        assert not srv.has_log("logged out")


@lib.both_wires
def test_read_timeout_is_total(ctx):
    """A request trickled a byte at a time does not keep its connection
    past the read timeout: the time counts from the start, not from the
    last byte (else one slow client could hold a connection forever)."""
    with lib.Server(ctx, "--read-timeout", "1") as srv:
        req = lib.wire_request(REGISTER, "a" * 20, wire=ctx.wire)
        with lib.connect(srv.port) as s:
            start = time.monotonic()
            closed = None
            for i in range(len(req) - 1):
                try:
                    s.sendall(req[i:i + 1])
                except (BrokenPipeError, ConnectionResetError):
                    closed = time.monotonic() - start
                    break
                s.settimeout(0.25)
                try:
                    if s.recv(100) == b"":
                        closed = time.monotonic() - start
                        break
                except socket.timeout:
                    pass
                except ConnectionResetError:
                    closed = time.monotonic() - start
                    break
            assert closed is not None, \
                "still open after %.1fs of trickling" % (
                    time.monotonic() - start)
            assert closed < lib.scaled(3.0), "closed after %.1fs" % closed
        assert srv.call(LIST) == ([], "")


def test_unframed_request_size_boundary(ctx):
    """PROTOCOL.md §6: an unframed request may be 65537 bytes, no more."""
    with lib.Server(ctx, wire="unframed") as srv:
        ok(srv.call(REGISTER, "a"))
        # 2 + (2 + 1) + (2 + 65530) = 65537: parsed, refused by §4.1.
        req = lib.request(SAY, "a", "x" * 65530)
        assert len(req) == 65537
        assert lib.parse_response(SAY, srv.raw(req)) == \
            (None, TOO_LONG)
        # Tell: 2 + 3 + 3 + (2 + 65527) = 65537.
        req = lib.request(TELL, "a", "a", "y" * 65527)
        assert len(req) == 65537
        assert lib.parse_response(TELL, srv.raw(req)) == (None, TOO_LONG)
        # One byte more: not answered as a success, and nothing queued.
        req = lib.request(TELL, "a", "ab", "y" * 65527)
        assert len(req) == 65538
        try:
            data = srv.raw(req)
        except (BrokenPipeError, ConnectionResetError):
            data = b""
        if data:
            _, err = lib.parse_response(TELL, data)
            assert err != "", data[:60]
        assert srv.call(CHECK_MESSAGES, "a") == ([], "")
        assert srv.call(LIST) == (["a"], "")
