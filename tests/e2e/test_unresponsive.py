"""
A client that never stops listening to its user (PROTOCOL.md §5.3, §5.4):
against servers that never answer, answer a byte a second, reset, or
flood every CheckMessages with 60 KB, a client given `quit` is gone within
the 3 s of PROTOCOL.md §5.4 (saying when the logout was not confirmed), and a
client at a terminal echoes what is typed and logs out on Ctrl-C.  And the
quit sequence against a good server: the last `say` is shown.

The bounds are generous (the machine is shared): they tell "acts at once"
from "waits for the server's deadlines" (5 s and more before), nothing
finer.  Speed itself is measured by make bench, not here.
"""

import re
import time

import lib
from fakeserver import FakeServer, FLOOD
from lib import CHECK_MESSAGES, QUIT, ok
from test_tty import Tty

# Gone within 3 s (PROTOCOL.md §5.4); the rest is the machine's slack.
GONE_WITHIN = 4.5
# Typed text shows at once; the old client froze for a poll's 3 s.
ECHO_WITHIN = 1.5

NOT_CONFIRMED = r"quit: .*the logout could not be confirmed$"


def pipe_client_quits(ctx, behaviour):
    with FakeServer(behaviour) as fake:
        c = lib.Client(ctx, fake.port, "victim", host="127.0.0.1")
        with c:
            c.expect(r"^1 user logged in: victim$")
            # A background poll has reached the server (and is stuck
            # there, for the servers that never answer in time).
            fake.wait_call(CHECK_MESSAGES)
            before = fake.count(QUIT)
            t0 = time.monotonic()
            c.send("quit")
            rc = c.wait(timeout=15)
            took = time.monotonic() - t0
        assert took < lib.scaled(GONE_WITHIN), \
            "the client took %.1fs to leave; stdout %r stderr %r" % (
                took, c.lines, c.err_lines)
        assert fake.count(QUIT) > before, "the client never tried to log out"
        return rc, c


def test_quit_with_a_server_that_never_answers(ctx):
    rc, c = pipe_client_quits(ctx, "silent")
    assert rc == 1, (c.lines, c.err_lines)
    assert any(re.search(NOT_CONFIRMED, l) for l in c.err_lines), \
        c.err_lines
    assert any(l.startswith("Quitting: logging out victim")
               for l in c.lines), c.lines


def test_quit_with_a_server_that_answers_a_byte_a_second(ctx):
    rc, c = pipe_client_quits(ctx, "trickle")
    assert rc == 1, (c.lines, c.err_lines)
    assert any(re.search(NOT_CONFIRMED, l) for l in c.err_lines), \
        c.err_lines


def test_quit_with_a_server_that_resets(ctx):
    rc, c = pipe_client_quits(ctx, "reset")
    assert rc == 1, (c.lines, c.err_lines)
    assert any(re.search(NOT_CONFIRMED, l) for l in c.err_lines), \
        c.err_lines


def test_quit_while_every_poll_brings_60_kb(ctx):
    rc, c = pipe_client_quits(ctx, "flood")
    # The flood is shown as it comes, and the logout goes through.
    assert rc == 0, (c.lines[-5:], c.err_lines)
    assert FLOOD[0] in c.lines
    assert not any("could not be confirmed" in l for l in c.err_lines)


def tty_echoes_and_ctrl_c_logs_out(ctx, behaviour):
    with FakeServer(behaviour) as fake:
        with Tty(ctx, fake.port, "victim") as t:
            t.wait_text(r"^Welcome, victim, contacting server at ")
            t.wait_input("")
            fake.wait_call(CHECK_MESSAGES)
            for word in ("say typed while", "the server misbehaves"):
                t.type(word if word.startswith("say") else " " + word)
            t.wait_input("say typed while the server misbehaves",
                         timeout=ECHO_WITHIN)
            t.keys("C-u")
            t.wait_input("", timeout=ECHO_WITHIN)
            t0 = time.monotonic()
            t.keys("C-c")
            fake.wait_call(QUIT, timeout=ECHO_WITHIN)
            status = t.wait_exit(timeout=10)
            took = time.monotonic() - t0
            assert took < lib.scaled(GONE_WITHIN), (took, t.show())
            return status


def test_tty_with_a_server_that_never_answers(ctx):
    # The logout could not be confirmed: exit 1 (PROTOCOL.md §5.4).
    assert tty_echoes_and_ctrl_c_logs_out(ctx, "silent") == 1


def test_tty_with_a_server_that_answers_a_byte_a_second(ctx):
    assert tty_echoes_and_ctrl_c_logs_out(ctx, "trickle") == 1


def test_tty_with_a_server_that_resets(ctx):
    assert tty_echoes_and_ctrl_c_logs_out(ctx, "reset") == 1


def test_tty_while_every_poll_brings_60_kb(ctx):
    assert tty_echoes_and_ctrl_c_logs_out(ctx, "flood") == 0


def test_empty_messages_and_names(ctx):
    # Empty strings have no bytes at all: nothing may pass NULL on (run
    # under make check-sanitize, this is UBSan's test too).
    with FakeServer("empty") as fake:
        with lib.Client(ctx, fake.port, "victim", host="127.0.0.1") as c:
            c.expect(r"^3 users logged in: , bob, victim$")
            c.expect(r"^after the empty ones$")
            c.send("list")
            c.expect(r"^3 users logged in: , bob, victim$")
            c.send("quit")
            assert c.wait() == 0, c.err_lines
        assert "" in c.lines


def test_pipe_shows_own_last_say(ctx):
    # printf 'say hi\nlist\nquit\n' | rpcchat :PORT dave
    with lib.Server(ctx) as srv:
        rc, out, err = lib.run_cli(ctx, "--wire", ctx.wire,
                                   ":%d" % srv.port, "dave",
                                   stdin_data=b"say hi\nlist\nquit\n")
        assert rc == 0, (out, err)
        lines = out.splitlines()
        assert "dave says hi" in lines, lines
        assert lines[-1] == "Quitting: logging out dave", lines
        srv.wait_log(r"\*\*\* dave has logged out$")


def test_commands_run_in_the_order_typed(ctx):
    with lib.Server(ctx) as srv:
        ok(srv.call(lib.REGISTER, "bob"))
        words = ["say m%02d" % i for i in range(20)]
        rc, out, err = lib.run_cli(
            ctx, "--wire", ctx.wire, ":%d" % srv.port, "eve",
            stdin_data=("\n".join(words) + "\n").encode())
        assert rc == 0, (out, err)
        got = [m for m in srv.drain("bob") if m.startswith("eve says")]
        assert got == ["eve says m%02d" % i for i in range(20)], got
