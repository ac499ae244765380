"""
Our client and server with the implementations people actually wrote
(PROTOCOL.md §5.3, §6): scripted fake servers that are sloppy on the
wire in the ways real ones are, a scripted 2023-generation server, the
wire generation found by --wire auto, and every mismatch of generations
explained in words that name --wire, on both sides.  Also the warning
about a name that is already logged in (PROTOCOL.md §5.4).
"""

import re

import lib
from fakeserver import FakeServer
from lib import (REGISTER, LIST, CHECK_MESSAGES, TELL, SAY, enc_u16, enc_str,
                 frame, ok)


def fake_server(**how):
    """A scripted server with nobody logged in (fakeserver.py)."""
    return FakeServer(users=(), **how)


def notes(c):
    lines = c.lines + c.err_lines
    return [l for l in lines if l.startswith("*** note:")]


def expect_note(c, regex):
    """The note about a sloppy server (PROTOCOL.md §5.3), on stderr."""
    lib.wait_until(lambda: any(re.search(regex, l) for l in notes(c)), 10,
                   "a note matching %r; got %r" % (regex, notes(c)))


def fake_client(ctx, fake, user, *args, wire="auto"):
    c = lib.Client(ctx, fake.port, user, *args, wire=wire)
    c.expect(r"^Welcome, %s, contacting server at \S*:%d$" % (user, fake.port))
    lib.wait_until(lambda: user in fake.users, 10, "%s registered" % user)
    return c


# -- sloppy servers: results used, one note, nothing lost ---------------------

def test_tell_error_string_twice(ctx):
    """A 2023-style Tell that writes its error string twice: 00 00 00 00."""
    shapes = {TELL: lambda res, err: frame(enc_str(err) * 2)}
    with fake_server(shapes=shapes) as fake:
        fake.login("bob")
        c = fake_client(ctx, fake, "alice")
        c.send("tell bob one")
        c.send("tell bob two")
        c.send("say done")
        c.expect(r"^alice says done$", 10)
        expect_note(c, r"^\*\*\* note: this server's Tell responses carry 2 "
                    r"extra bytes after the error string; ignoring them$")
        c.close_stdin()
        assert c.wait() == 0
        tells = [m for m in fake.queues["bob"] if "tells you" in m]
        assert tells == ["alice tells you one", "alice tells you two"], tells
        assert len(notes(c)) == 1, notes(c)
        assert not [l for l in c.lines + c.err_lines
                    if re.search(r"(?i)malformed|tell:", l)], \
            (c.lines, c.err_lines)


def test_list_without_error_string(ctx):
    shapes = {LIST: lambda res, err: frame(res)}
    with fake_server(shapes=shapes) as fake:
        fake.login("bob")
        c = fake_client(ctx, fake, "alice")
        c.expect(r"^2 users logged in: alice, bob$", 10)
        c.send("list")
        c.expect(r"^2 users logged in: alice, bob$", 10)
        expect_note(c, r"^\*\*\* note: this server's List responses end "
                    r"without an error string; taking them as successful$")
        c.close_stdin()
        assert c.wait() == 0
        assert len(notes(c)) == 1, notes(c)


def check_messages_kept(ctx, shapes, note):
    """Messages a sloppy CheckMessages carries: each shown once, in order."""
    sent = ["bob says %d" % i for i in range(5)]
    with fake_server(shapes=shapes) as fake:
        fake.login("bob")
        c = fake_client(ctx, fake, "alice")
        for s in sent:
            fake.queues["alice"].append(s)
        for s in sent:
            c.expect(r"^%s$" % re.escape(s), 10)
        expect_note(c, note)
        # Later polls bring more; the note is not said again.
        with fake.lock:
            fake.queues["alice"].append("bob says later")
        c.expect(r"^bob says later$", 10)
        c.close_stdin()
        assert c.wait() == 0
        shown = [l for l in c.lines if l.startswith("bob says")]
        assert shown == sent + ["bob says later"], shown
        taken = [m for u, m in fake.delivered if u == "alice"]
        assert [m for m in taken if m.startswith("bob says")] == shown
        assert len(notes(c)) == 1, notes(c)


def test_check_messages_trailing_bytes(ctx):
    """An error string followed by two stray bytes: 4 zero bytes at the end."""
    check_messages_kept(
        ctx, {CHECK_MESSAGES: lambda res, err: frame(res + enc_str(err) +
                                                     b"\x00\x00")},
        r"^\*\*\* note: this server's CheckMessages responses carry 2 extra "
        r"bytes after the error string; ignoring them$")


def test_check_messages_frame_shorter_than_response(ctx):
    """
    A frame whose length counts the results and not the error string that
    follows it: the client reads a response with no error string.
    """
    check_messages_kept(
        ctx, {CHECK_MESSAGES: lambda res, err: enc_u16(len(res)) + res +
              enc_str(err)},
        r"^\*\*\* note: this server's CheckMessages responses end without "
        r"an error string; taking them as successful$")


def test_strict_refuses_sloppy(ctx):
    shapes = {TELL: lambda res, err: frame(enc_str(err) * 2)}
    with fake_server(shapes=shapes) as fake:
        fake.login("bob")
        c = fake_client(ctx, fake, "alice", "--strict")
        c.send("tell bob hi")
        c.expect_any(r"^tell: malformed Tell response: 2 bytes left over$", 10)
        c.close_stdin()
        c.wait()
        assert not notes(c), notes(c)


def test_empty_response_is_an_error(ctx):
    """For a call without results, an empty frame is a dying server."""
    shapes = {SAY: lambda res, err: frame(b"")}
    with fake_server(shapes=shapes) as fake:
        c = fake_client(ctx, fake, "alice")
        c.send("say hi")
        c.expect_any(r"^say: malformed Say response: empty$", 10)
        c.close_stdin()
        c.wait()
        assert not notes(c), notes(c)


# -- the wire generation found (--wire auto) ----------------------------------

@lib.both_wires
def test_auto_finds_our_server(ctx):
    with lib.Server(ctx) as srv:
        c = lib.Client(ctx, srv.port, "alice", wire="auto")
        c.expect(r"^1 user logged in: alice$", 10)
        ok(srv.call(SAY, "alice", "hi"))
        c.expect(r"^alice says hi$", 10)
        c.close_stdin()
        assert c.wait() == 0
        older = [l for l in c.err_lines if "older" in l]
        if ctx.wire == "unframed":
            assert older == ["*** note: the server at localhost:%d speaks the "
                             "older, unframed generation of the protocol "
                             "(2023); using it" % srv.port], c.err_lines
        else:
            assert older == [], c.err_lines
        # The framed probe is a framed request: an unframed server says so
        # (once), and that a probing client finds out by itself.
        said = [l for l in srv.log if "--wire" in l]
        if ctx.wire == "unframed":
            assert len(said) == 1 and "--wire auto" in said[0], srv.log
        else:
            assert said == [], srv.log


def test_auto_finds_2023_server(ctx):
    """The framed probe gets 00 00 from a 2023 server; the unframed List works."""
    shapes = {TELL: lambda res, err: enc_str(err) * 2}
    with fake_server(wire="unframed", gen2023=True, shapes=shapes) as fake:
        fake.login("bob")
        c = fake_client(ctx, fake, "alice")
        c.expect_err(r"^\*\*\* note: the server at localhost:%d speaks the "
                     r"older, unframed generation" % fake.port)
        c.expect(r"^2 users logged in: alice, bob$", 10)
        c.send("tell bob hi")
        c.send("say done")
        c.expect(r"^alice says done$", 10)
        c.close_stdin()
        assert c.wait() == 0
        assert "alice tells you hi" in fake.queues["bob"], fake.queues
        # The probes: a framed List with its write shut down, then unframed.
        assert fake.requests[:3] == [b"\x00\x02\x00\x01", b"\x00\x01",
                                     b"\x00\x00\x00\x05alice"], fake.requests


def test_auto_neither(ctx):
    """A server that answers neither List: what came back, exit 1."""
    with fake_server(reply=b"HTTP/1.0 400 Bad Request\r\n") as fake:
        c = lib.Client(ctx, fake.port, "alice", wire="auto")
        assert c.wait(20) == 1
        c.expect_err(r"^the server at localhost:%d answered a List in neither "
                     r"generation of the protocol \(--wire\): framed, .*; "
                     r"unframed, 26 bytes: 48 54 54 50 " % fake.port)
        assert fake.users == []
        assert len(fake.requests) == 2, fake.requests


# -- mismatches explained, naming --wire ---------------------------------------

GENERATION = {"framed": ("a framed", "newer"), "unframed": ("an unframed",
                                                             "older")}


def forced_mismatch(ctx, client_wire, server_wire):
    """Our client with --wire given, our server of the other generation."""
    with lib.Server(ctx, wire=server_wire) as srv:
        c = lib.Client(ctx, srv.port, "alice", wire=client_wire)
        assert c.wait(20) == 1
        c.expect_err(r"^the server at localhost:%d speaks the %s generation "
                     r"of the protocol, not the %s one: use --wire %s, or "
                     r"leave --wire out to detect it$"
                     % (srv.port, server_wire, client_wire, server_wire))
        request, age = GENERATION[client_wire]
        srv.wait_log(r"^\S+ \S+ sent %s request \(the %s generation of the "
                     r"protocol\), but this server is --wire %s: that client "
                     r"needs --wire %s, or this server --wire %s \(rpcchat's "
                     r"client, --wire auto, finds out by itself\)$"
                     % (request, age, server_wire, server_wire, client_wire))
        assert ok(srv.call(LIST)) == []
        # No frame length bytes on the screen, ever.
        assert not [l for l in c.lines + c.err_lines
                    if "^@" in l or "\x00" in l], (c.lines, c.err_lines)


def test_framed_client_unframed_server(ctx):
    forced_mismatch(ctx, "framed", "unframed")


def test_unframed_client_framed_server(ctx):
    forced_mismatch(ctx, "unframed", "framed")


def test_framed_client_2023_server(ctx):
    """The 2023 server closes on the framed Register's type 9: never sent."""
    with fake_server(wire="unframed", gen2023=True) as fake:
        c = lib.Client(ctx, fake.port, "alice", wire="framed")
        assert c.wait(20) == 1
        c.expect_err(r"speaks the unframed generation of the protocol, not "
                     r"the framed one: use --wire unframed")
        assert fake.users == []
        assert len(fake.requests) == 2, fake.requests


def test_unframed_requests_logged_once(ctx):
    """A 2023 client on our framed server: answered as ever, logged once."""
    with lib.Server(ctx, wire="framed") as srv:
        unframed_register = b"\x00\x00\x00\x05alice"
        for _ in range(3):
            got = srv.raw(unframed_register)
            # PROTOCOL.md §3.3: the answer to an empty frame, byte for byte.
            assert got == frame(enc_str("request too short")), got
        srv.wait_log(r"sent an unframed request .*--wire framed")
        srv.wait_log(r"rejected request from \S+: request too short$")
        assert len([l for l in srv.log if "--wire" in l]) == 1, srv.log


def test_framed_requests_logged(ctx):
    """A framed client on our unframed server: closed as ever, logged."""
    with lib.Server(ctx, wire="unframed") as srv:
        framed_register = frame(lib.request(REGISTER, "alice"))
        assert srv.raw(framed_register) == b""
        srv.wait_log(r"sent a framed request .*--wire unframed")
        srv.wait_log(r"dispatch: message type out of range: 9$")
        assert ok(srv.call(LIST)) == []


# -- a name already logged in (PROTOCOL.md §5.4) --------------------------------------

@lib.both_wires
def test_duplicate_name_warned(ctx):
    with lib.Server(ctx) as srv:
        ok(srv.call(REGISTER, "alice"))
        a2 = lib.Client(ctx, srv.port, "alice")
        a2.expect_err(r"^\*\*\* warning: another client is logged in as "
                      r"alice; from now on messages to alice are split "
                      r"between the two$", 10)
        a2.expect(r"^1 user logged in: alice$", 10)
        # It goes on: logged in, chatting.
        ok(srv.call(SAY, "alice", "still here"))
        a2.expect(r"^alice says still here$", 10)
        b = lib.Client(ctx, srv.port, "bob")
        b.expect(r"^2 users logged in: alice, bob$", 10)
        b.close_stdin()
        a2.close_stdin()
        assert b.wait() == 0 and a2.wait() == 0
        assert not [l for l in b.err_lines if "warning" in l], b.err_lines
