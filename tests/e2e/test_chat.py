"""
Real clients (PROTOCOL.md §5) chatting through a real server, in pipe mode: no
prompt, no escape codes, one flushed line per output line.
"""

import re
import signal
import time

import lib
from lib import REGISTER, LIST, QUIT, ok

# The lines whose text PROTOCOL.md §3.2 fixes: chat messages and notices.
CHAT_LINE = re.compile(r" says | tells you |^\*\*\* ")


def chat_lines(client):
    return [l for l in client.lines if CHAT_LINE.search(l)]


def start(ctx, srv, user, *args):
    c = lib.Client(ctx, srv.port, user, *args)
    # ADDR is the client's to choose (":PORT" as typed, "localhost:PORT").
    c.expect(r"^Welcome, %s, contacting server at \S*:%d$"
             % (user, srv.port))
    lib.wait_until(lambda: user in ok(srv.call(LIST)), 5,
                   "%s to be logged in" % user)
    return c


def listed(srv):
    return ok(srv.call(LIST))


@lib.timeout(90)
@lib.both_wires
def test_two_clients_chat(ctx):
    with lib.Server(ctx) as srv:
        a = start(ctx, srv, "alice")
        b = start(ctx, srv, "bob")
        a.expect(r"^\*\*\* bob has logged in$")
        a.send("say hello   world  ")
        a.expect(r"^alice says hello   world$")
        b.expect(r"^alice says hello   world$")
        b.send("   tell alice   hi  there   ")
        a.expect(r"^bob tells you hi  there$")
        b.send("tell zed anyone?")
        # Our own tell failing: stderr in a pipe (PROTOCOL.md §5.4).
        b.expect_err(r"^\*\*\* No such user: zed$")
        b.send("")
        b.send("say café ☕")
        a.expect(r"^bob says café ☕$")
        b.expect(r"^bob says café ☕$")
        a.send("quit")
        assert a.wait() == 0
        b.expect(r"^\*\*\* alice has logged out$")
        srv.wait_log(r"\*\*\* alice has logged out$")
        assert listed(srv) == ["bob"]
        b.close_stdin()
        # The tell to zed failed: so does the session's status.
        assert b.wait() == 1
        srv.wait_log(r"\*\*\* bob has logged out$")
        assert listed(srv) == []
        # Exactly these chat lines, in this order, nothing twice.
        assert chat_lines(a) == [
            "*** bob has logged in",
            "alice says hello   world",
            "bob tells you hi  there",
            "bob says café ☕"], a.lines
        assert chat_lines(b) == [
            "alice says hello   world",
            "bob says café ☕",
            "*** alice has logged out"], b.lines


@lib.both_wires
def test_client_list(ctx):
    with lib.Server(ctx) as srv:
        ok(srv.call(REGISTER, "zoe"))
        a = start(ctx, srv, "alice")
        mark = len(a.lines)
        a.send("list")
        lib.wait_until(lambda: any("zoe" in l for l in a.lines[mark:]) and
                       any("alice" in l for l in a.lines[mark:]), 5,
                       "list to show alice and zoe")
        a.close_stdin()
        assert a.wait() == 0


def test_client_start_shows_users(ctx):
    """PROTOCOL.md §5.1: after Register, the users logged in are printed."""
    with lib.Server(ctx) as srv:
        ok(srv.call(REGISTER, "zoe"))
        a = start(ctx, srv, "alice")
        lib.wait_until(lambda: any("zoe" in l for l in a.lines), 5,
                       "zoe in the list printed at start")
        a.close_stdin()
        assert a.wait() == 0


def test_client_eof_logs_out(ctx):
    with lib.Server(ctx) as srv:
        a = start(ctx, srv, "alice")
        a.close_stdin()
        assert a.wait() == 0
        srv.wait_log(r"\*\*\* alice has logged out$")
        assert listed(srv) == []


def test_client_signals_log_out(ctx):
    with lib.Server(ctx) as srv:
        for sig, user in [(signal.SIGTERM, "t"), (signal.SIGINT, "i"),
                          (signal.SIGHUP, "h")]:
            c = start(ctx, srv, user)
            c.signal(sig)
            c.wait()
            srv.wait_log(r"\*\*\* %s has logged out$" % user)
            assert user not in listed(srv), signal.Signals(sig).name


def test_client_quit_says_so(ctx):
    with lib.Server(ctx) as srv:
        a = start(ctx, srv, "alice")
        a.send("quit")
        a.expect(r"(?i)quit")
        assert a.wait() == 0
        assert listed(srv) == []


def test_client_unknown_command(ctx):
    with lib.Server(ctx) as srv:
        a = start(ctx, srv, "alice")
        for word in ["frobnicate", "TELL", "Say", "tel"]:
            a.send(word + " bob hi")
            a.expect_any(r"^unknown command: %s$" % re.escape(word))
            # then the help: a line for each command
            a.expect_err(r"^\s*tell\b")
        a.close_stdin()
        # An unknown command is a failed command (PROTOCOL.md §5.4).
        assert a.wait() == 1


def test_client_help(ctx):
    with lib.Server(ctx) as srv:
        a = start(ctx, srv, "alice")
        a.send("help")
        for cmd in ["tell", "say", "list", "quit", "shutdown", "help"]:
            a.expect(r"^\s*%s\b" % cmd)
        a.close_stdin()
        assert a.wait() == 0


def test_client_usage_errors(ctx):
    with lib.Server(ctx) as srv:
        a = start(ctx, srv, "alice")
        for line, usage in [("tell", "tell"), ("tell bob", "tell"),
                            ("tell bob    ", "tell"), ("say", "say"),
                            ("say    ", "say")]:
            a.send(line)
            a.expect_any(r"(?i)usage: %s\b" % usage)
        # Nothing was sent.
        a.send("list")
        a.close_stdin()
        assert a.wait() == 1
        assert not srv.has_log(r"rejected")


def test_client_message_too_long(ctx):
    """PROTOCOL.md §4.1: the client checks the size itself, before sending."""
    with lib.Server(ctx) as srv:
        a = start(ctx, srv, "alice")
        a.send("say " + "x" * (lib.TEXT_MAX - len("alice says ") + 1))
        a.expect_any(r"(?i)too long")
        a.send("say " + "y" * (lib.TEXT_MAX - len("alice says ")))
        a.expect(r"^alice says y+$", 10)
        a.close_stdin()
        assert a.wait() == 1
        assert not srv.has_log(r"rejected Say")


def test_client_invalid_user(ctx):
    """PROTOCOL.md §5.1: the name is checked locally; exit 1 with the reason."""
    with lib.Server(ctx) as srv:
        for user in ["bad name", "x" * 21, "½"]:
            c = lib.Client(ctx, srv.port, user)
            assert c.wait() == 1, user
            assert c.lines or c.err_lines, "no reason printed for %r" % user
        assert not srv.has_log(r"rejected")
        assert listed(srv) == []


def test_client_server_unreachable_at_start(ctx):
    with lib.Server(ctx) as srv:
        port = srv.port
        assert srv.stop() == 0
    c = lib.Client(ctx, port, "alice")
    assert c.wait(15) == 1
    assert c.lines or c.err_lines


def test_client_shutdown(ctx):
    with lib.Server(ctx) as srv:
        a = start(ctx, srv, "alice")
        a.send("shutdown")
        assert srv.wait(5) == 0
        assert a.wait() == 0


@lib.timeout(90)
def test_client_registers_again(ctx):
    """PROTOCOL.md §5.3: told it is not logged in, the client registers again by
    itself and says so once."""
    with lib.Server(ctx) as srv:
        a = start(ctx, srv, "alice")
        mark = srv.log_mark()
        ok(srv.call(QUIT, "alice"))
        srv.wait_log(r"\*\*\* alice has logged in$", 10, since=mark)
        lib.wait_until(lambda: listed(srv) == ["alice"], 5,
                       "alice back in the List")
        # It works again: a message reaches it.
        ok(srv.call(REGISTER, "bob"))
        ok(lib.call(srv.port, lib.SAY, "bob", "welcome back",
                    wire=ctx.wire))
        a.expect(r"^bob says welcome back$", 10)
        a.close_stdin()
        assert a.wait() == 0


@lib.timeout(120)
def test_client_server_restart(ctx):
    """PROTOCOL.md §5.3: unreachable said once, not every second; back said when
    it is back, and the session goes on."""
    with lib.Server(ctx) as srv:
        port = srv.port
        a = start(ctx, srv, "alice")
        assert srv.stop() == 0
    before = len(a.lines) + len(a.err_lines)
    lib.wait_until(lambda: len(a.lines) + len(a.err_lines) > before, 10,
                   "the client to notice the server is gone")
    # Five polls later, still only the one line.
    time.sleep(5)
    said = a.lines[before:] + a.err_lines
    assert len(a.lines) + len(a.err_lines) - before <= 2, said
    with lib.Server(ctx, port=port) as srv2:
        lib.wait_until(lambda: listed(srv2) == ["alice"], 30,
                       "alice registered again on the new server")
        ok(srv2.call(REGISTER, "bob"))
        ok(srv2.call(lib.SAY, "bob", "hello again"))
        a.expect(r"^bob says hello again$", 10)
        a.close_stdin()
        assert a.wait() == 0


# Wires that do not match: tests/e2e/test_peers.py.


def test_client_ipv6(ctx):
    if not lib.has_ipv6_loopback():
        lib.skip("no IPv6 loopback")
    with lib.Server(ctx) as srv:
        c = lib.Client(ctx, srv.port, "alice", host="[::1]")
        c.expect(r"^Welcome, alice, contacting server at \[::1\]:%d$"
                 % srv.port)
        lib.wait_until(lambda: listed(srv) == ["alice"], 5, "alice in List")
        ok(srv.call(lib.SAY, "alice", "v6", host="::1"))
        c.expect(r"^alice says v6$")
        c.close_stdin()
        assert c.wait() == 0
        assert listed(srv) == []
