"""
Every malformed request of PROTOCOL.md §3.3, for every call: a response of that
call's shape with empty results and an error saying what was wrong, a log
line, and a server that answers correctly afterwards.
"""

import socket

import lib
from lib import (REGISTER, LIST, CHECK_MESSAGES, TELL, SAY, QUIT,
                 CALL_NAMES, NARGS, HAS_LIST, enc_u16, enc_str, frame, ok)

TYPES = range(7)


def framed_response(srv, msg, half_close=False):
    """The message of the response to a request message sent framed."""
    return lib.unframe(srv.raw(frame(msg), half_close=half_close))


def check_shape(type_, msg, want_err):
    """msg is the response of type_'s shape: empty results, then want_err."""
    items, err = lib.parse_response(type_, msg)
    if HAS_LIST[type_]:
        assert items == [], (CALL_NAMES[type_], items)
    assert err == want_err, (CALL_NAMES[type_], err, want_err)


def still_serving(srv):
    """A full round of real calls after the abuse."""
    ok(srv.call(REGISTER, "sane"))
    assert "sane" in ok(srv.call(LIST))
    ok(srv.call(SAY, "sane", "still here"))
    assert srv.drain("sane")[-1] == "sane says still here"
    ok(srv.call(QUIT, "sane"))


def valid_args(type_):
    return [b"alice", b"bob", b"hi"][:NARGS[type_]]


def test_short_frames(ctx):
    """A frame shorter than 2 bytes gets just an error string."""
    with lib.Server(ctx) as srv:
        for body in [b"", b"\x00"]:
            msg = framed_response(srv, body)
            assert lib.parse_error_only(msg) == "request too short", msg
            srv.wait_log(r"rejected request from \S+: request too short$")
        still_serving(srv)


def test_unknown_types(ctx):
    with lib.Server(ctx) as srv:
        for t in [7, 9, 255, 256, 0x8000, 65535]:
            for tail in [b"", b"\x00\x05alice"]:
                msg = framed_response(srv, enc_u16(t) + tail)
                assert lib.parse_error_only(msg) == \
                    "unknown message type %d" % t, (t, msg)
            srv.wait_log(r"rejected request from \S+: unknown message type "
                         "%d$" % t)
        still_serving(srv)


def test_too_short_every_call(ctx):
    """Arguments missing, or a string running past the end of the frame."""
    with lib.Server(ctx) as srv:
        for t in TYPES:
            if NARGS[t] == 0:
                continue
            name = CALL_NAMES[t]
            args = [enc_str(a) for a in valid_args(t)]
            cases = [b"",                            # no arguments at all
                     b"\x00",                        # half a length
                     b"\x00\x05ali",                 # string past the end
                     b"\xff\xff",                    # a length, no bytes
                     b"".join(args)[:-1]]            # last byte missing
            for i in range(1, len(args)):
                cases.append(b"".join(args[:i]))    # later arguments missing
            for body in cases:
                msg = framed_response(srv, enc_u16(t) + body)
                check_shape(t, msg, "%s: request too short" % name)
            srv.wait_log(r"rejected %s from \S+: request too short$" % name)
        still_serving(srv)


def test_left_over_every_call(ctx):
    with lib.Server(ctx) as srv:
        ok(srv.call(REGISTER, "alice"))
        for t in TYPES:
            name = CALL_NAMES[t]
            req = lib.request(t, *valid_args(t))
            for extra in [b"\x00", b"\x00\x00\x00", b"x" * 100]:
                msg = framed_response(srv, req + extra)
                check_shape(t, msg, "%s: %d bytes left over after the "
                            "arguments" % (name, len(extra)))
            srv.wait_log(r"rejected %s from \S+: 100 bytes left over "
                         r"after the arguments$" % name)
        # None of it happened: no Tell, Say, Quit or Shutdown took effect.
        assert srv.call(LIST) == (["alice"], "")
        assert srv.call(CHECK_MESSAGES, "alice") == ([], "")
        assert srv.running()
        still_serving(srv)


def test_frame_longer_than_request_waits(ctx):
    """A frame whose length promises more than is sent is not answered
    before it is complete: the rest completes it."""
    with lib.Server(ctx) as srv:
        req = frame(lib.request(REGISTER, "alice"))
        with lib.connect(srv.port) as s:
            s.sendall(req[:5])
            s.settimeout(lib.scaled(0.3))
            try:
                early = s.recv(100)
            except socket.timeout:
                early = None
            assert early is None, early
            s.sendall(req[5:])
            data = lib.read_to_eof(s)
        assert data == b"\x00\x02\x00\x00"
        assert srv.call(LIST) == (["alice"], "")


# -- the unframed generation (PROTOCOL.md §6) ---------------------------------------

def test_unframed_unknown_type_closes(ctx):
    """PROTOCOL.md §6: the server logs and closes without a response."""
    with lib.Server(ctx, wire="unframed") as srv:
        for t in [7, 9, 65535]:
            data = srv.raw(enc_u16(t) + b"\x00\x05alice")
            assert data == b"", (t, data)
            srv.wait_log(r"dispatch: message type out of range: %d$" % t)
        still_serving(srv)


def test_unframed_truncated(ctx):
    """A request cut short by EOF: nothing crashes, and if there is an
    answer it is of the call's shape with an error."""
    with lib.Server(ctx, wire="unframed") as srv:
        for t in TYPES:
            args = b"".join(enc_str(a) for a in valid_args(t))
            cuts = [b"\x00", enc_u16(t)[:1]]
            if NARGS[t]:
                cuts += [enc_u16(t), enc_u16(t) + args[:1],
                         enc_u16(t) + args[:-1]]
            for cut in cuts:
                data = srv.raw(cut, half_close=True)
                if data == b"":
                    continue
                if len(cut) < 2:
                    err = lib.parse_error_only(data)
                    assert "request too short" in err, (cut, err)
                else:
                    items, err = lib.parse_response(t, data)
                    assert err == "%s: request too short" % CALL_NAMES[t], \
                        (cut, err)
                    assert items in (None, []), (cut, items)
        assert srv.call(LIST) == ([], "")
        still_serving(srv)


def test_unframed_string_too_long_for_request(ctx):
    """PROTOCOL.md §6: no request over 65537 bytes in total.  A Tell whose three
    strings add up to more is refused or closed, never buffered without
    bound, and the server carries on."""
    with lib.Server(ctx, wire="unframed") as srv:
        ok(srv.call(REGISTER, "alice"))
        big = b"x" * 65535
        req = lib.request(TELL, b"alice", big, big)
        try:
            data = srv.raw(req)
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        if data:
            items, err = lib.parse_response(TELL, data)
            assert err != "", data[:80]
        assert srv.call(CHECK_MESSAGES, "alice") == ([], "")
        still_serving(srv)


@lib.both_wires
def test_half_closed_request_is_answered(ctx):
    """A client may shut down its sending side after the request."""
    with lib.Server(ctx) as srv:
        for type_, args in [(REGISTER, ["alice"]), (LIST, []),
                            (CHECK_MESSAGES, ["alice"])]:
            data = srv.raw(lib.wire_request(type_, *args, wire=ctx.wire),
                           half_close=True)
            msg = lib.unframe(data) if ctx.wire == "framed" else data
            assert lib.parse_response(type_, msg)[1] == "", data
        assert srv.call(LIST) == (["alice"], "")


@lib.both_wires
def test_one_call_per_connection(ctx):
    """PROTOCOL.md §2.2: one call per connection; what follows the first request
    is not a second call."""
    with lib.Server(ctx) as srv:
        r1 = lib.wire_request(REGISTER, "alice", wire=ctx.wire)
        r2 = lib.wire_request(REGISTER, "bob", wire=ctx.wire)
        data = srv.raw(r1 + r2)
        want = b"\x00\x00"
        assert data == (lib.frame(want) if ctx.wire == "framed" else want)
        assert srv.call(LIST) == (["alice"], "")
