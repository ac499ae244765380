"""
The client as a script uses it (PROTOCOL.md §5.4): what goes to stdout
and what to stderr, exit statuses a script can trust, -c, the command
line's conventions, user names explained and normalised, timestamps, and
the same outcome however soon the input ends.
"""

import re

import lib
from fakeserver import FakeServer
from lib import LIST, REGISTER, SAY, ok

# The texts of the help, one line per command (PROTOCOL.md §5.2).
HELP_LINE = re.compile(r"^\s*(tell|say|list|quit|shutdown|help)\b")


def listed(srv):
    return ok(srv.call(LIST))


def script(ctx, srv, user, lines, *args):
    """rpcchat ARGS :PORT USER with lines on a pipe: (status, out, err)."""
    data = "".join(l + "\n" for l in lines).encode()
    return lib.run_cli(ctx, "--wire", ctx.wire, *args,
                       ":%d" % srv.port, user, stdin_data=data, timeout=20)


def test_streams_failures_to_stderr(ctx):
    """Failures, the help after an unknown command and usage errors on
    stderr; the welcome, the lists and the messages on stdout."""
    with lib.Server(ctx) as srv:
        ok(srv.call(REGISTER, "bob"))
        ok(srv.call(SAY, "bob", "before dave"))
        rc, out, err = script(ctx, srv, "dave",
                              ["frobnicate", "say", "tell bob", "list"])
        assert rc == 1, (rc, out, err)
        assert "unknown command: frobnicate" in err
        assert "usage: say" in err and "usage: tell" in err
        assert any(HELP_LINE.match(l) for l in err.splitlines()), err
        for l in out.splitlines():
            assert not HELP_LINE.match(l), out
            assert "unknown" not in l and "usage" not in l, out
        assert "Welcome, dave" in out
        assert re.search(r"^2 users logged in: bob, dave$", out, re.M), out


def test_exit_0_only_when_every_command_succeeded(ctx):
    with lib.Server(ctx) as srv:
        rc, out, err = script(ctx, srv, "dave", ["say hi", "list", "help"])
        assert rc == 0, (rc, out, err)
        assert err == "", err
        # help asked for goes to stdout
        assert sum(1 for l in out.splitlines() if HELP_LINE.match(l)) == 6
        rc, out, err = script(ctx, srv, "dave", ["say hi", "say"])
        assert rc == 1, (rc, out, err)
        rc, out, err = script(ctx, srv, "dave", ["nope", "say hi"])
        assert rc == 1, (rc, out, err)
        assert listed(srv) == []


def test_server_dies_mid_script(ctx):
    """The man page's CI example must not report success when nothing
    was sent."""
    with lib.Server(ctx) as srv:
        port = srv.port
        ok(srv.call(REGISTER, "bob"))
        c = lib.Client(ctx, port, "ci")
        c.expect(r"^Welcome, ci")
        c.send("say first")
        lib.wait_until(lambda: "ci says first" in srv.drain("bob"), 10,
                       "the first say to arrive")
        assert srv.stop() == 0
    c.send("say second")
    c.expect_err(r"^say: ", 15)
    c.close_stdin()
    assert c.wait(20) == 1
    assert not any(l.startswith("say:") for l in c.lines), c.lines


def test_dash_c_runs_commands_then_logs_out(ctx):
    with lib.Server(ctx) as srv:
        ok(srv.call(REGISTER, "bob"))
        # Options after the arguments too (GNU order).
        rc, out, err = lib.run_cli(ctx, "--wire", ctx.wire,
                                   "-c", "say deploy done",
                                   ":%d" % srv.port, "ci", "-c", "list",
                                   timeout=20)
        assert rc == 0, (rc, out, err)
        assert re.search(r"^2 users logged in: bob, ci$", out, re.M), out
        assert "ci says deploy done" in srv.drain("bob")
        assert listed(srv) == ["bob"]
        srv.wait_log(r"\*\*\* ci has logged out")


def test_dash_c_does_not_read_stdin(ctx):
    with lib.Server(ctx) as srv:
        ok(srv.call(REGISTER, "bob"))
        rc, out, err = lib.run_cli(ctx, "--wire", ctx.wire, "-c", "list",
                                   ":%d" % srv.port, "ci",
                                   stdin_data=b"say from stdin\n",
                                   timeout=20)
        assert rc == 0, (rc, out, err)
        assert srv.drain("bob") == ["*** ci has logged in",
                                    "*** ci has logged out"]


def test_dash_c_failure_exits_1(ctx):
    with lib.Server(ctx) as srv:
        rc, out, err = lib.run_cli(ctx, "--wire", ctx.wire, "-c", "list",
                                   "-c", "sya hi", ":%d" % srv.port, "ci",
                                   timeout=20)
        assert rc == 1, (rc, out, err)
        assert "unknown command: sya" in err
        assert listed(srv) == []


def test_dash_c_is_a_client_option(ctx):
    rc, out, err = lib.run_cli(ctx, "-c", "list", "0")
    assert rc == 2 and "-c is a client option" in err, (rc, err)


# -- the command line (PROTOCOL.md §1, §3.5) ---------------------------------------

def test_user_forgotten(ctx):
    rc, out, err = lib.run_cli(ctx, ":3410")
    assert rc == 2, (rc, out, err)
    assert "a client needs HOST:PORT USER" in err, err
    assert "not a port number" not in err, err


def test_too_many_arguments_say_why(ctx):
    rc, out, err = lib.run_cli(ctx, "3410", "extra", "extra")
    assert rc == 2, (rc, out, err)
    assert re.search(r"^rpcchat: too many arguments: a server takes only "
                     r"PORT", err, re.M), err
    rc, out, err = lib.run_cli(ctx, "-c", "say", "hi", ":3410", "ci")
    assert rc == 2 and "too many arguments: a client" in err, err


def test_help_short_and_long(ctx):
    for opt in ["-h", "--help"]:
        rc, out, err = lib.run_cli(ctx, opt)
        assert rc == 0 and "Client options:" in out, (opt, rc, out, err)
        # Every client option, the client's own --wire value included.
        for want in ["-c COMMAND", "--no-history", "--no-color",
                     "--timestamps", "--no-timestamps", "--strict",
                     "--wire auto", "--wire framed|unframed"]:
            assert want in out, (want, out)
    rc, out, err = lib.run_cli(ctx)
    assert rc == 2 and "--help" in err, err


def test_one_program_name_in_errors(ctx):
    """ctx.rpcchat is a path; the error lines still say rpcchat:."""
    assert "/" in ctx.rpcchat
    for args in [["--bogus"], ["--max-users"], ["-x"], ["--max-users", "x"]]:
        rc, out, err = lib.run_cli(ctx, *args)
        assert rc == 2, (args, rc)
        first = err.splitlines()[0]
        assert first.startswith("rpcchat: "), (args, err)


def test_options_anywhere_and_double_dash(ctx):
    with lib.Server(ctx) as srv:
        rc, out, err = lib.run_cli(ctx, ":%d" % srv.port, "alice",
                                   "--no-color", "--wire", ctx.wire,
                                   "-c", "list", timeout=20)
        assert rc == 0, (rc, out, err)
        # After --, "-c" is an argument: here the user, refused locally.
        rc, out, err = lib.run_cli(ctx, "--wire", ctx.wire, "--",
                                   ":%d" % srv.port, "-c", timeout=20)
        assert rc == 1, (rc, out, err)
        assert "cannot log in as '-c'" in err, err
        assert not srv.has_log("rejected")


# -- user names (PROTOCOL.md §3.2, §5.1, §5.4) -------------------------------------

def test_name_checked_before_greeting_and_explained(ctx):
    with lib.Server(ctx) as srv:
        name = "\u540d\u524d\u540d\u524d\u540d\u524d\u540d"  # 7 CJK, 21 B
        rc, out, err = script(ctx, srv, name, [])
        assert rc == 1, (rc, out, err)
        assert "Welcome" not in out, out
        assert "counted in bytes" in err and "21 bytes" in err, err
        assert "7 characters" in err, err
        rc, out, err = script(ctx, srv, "bad name", [])
        assert rc == 1 and "Welcome" not in out, (rc, out)
        assert "' ' (U+0020) is neither a letter nor a digit" in err, err
        rc, out, err = script(ctx, srv, "\u00bd", [])
        assert rc == 1 and "U+00BD" in err, err
        assert not srv.has_log(r"rejected|logged in")


def test_decomposed_name_is_sent_in_nfc(ctx):
    """e + U+0301 fails as typed (a combining mark is no letter) but its
    NFC form passes: used, and said."""
    with lib.Server(ctx) as srv:
        typed = "Jose\u0301"
        rc, out, err = script(ctx, srv, typed, ["list"])
        assert rc == 0, (rc, out, err)
        assert "NFC" in err, err
        # The two names look alike: the code points that changed are named.
        assert "U+0065 U+0301 became U+00E9" in err, err
        assert "Welcome, Jos\u00e9," in out, out
        assert re.search(r"^1 user logged in: Jos\u00e9$", out, re.M), out
        srv.wait_log(r"\*\*\* Jos\u00e9 has logged in")


def test_valid_name_is_sent_as_typed(ctx):
    """U+212A KELVIN SIGN is a letter; NFC would make it K."""
    with lib.Server(ctx) as srv:
        c = lib.Client(ctx, srv.port, "\u212a")
        c.expect(r"^Welcome, \u212a,")
        lib.wait_until(lambda: listed(srv) == ["\u212a"], 10,
                       "KELVIN SIGN logged in as typed")
        c.close_stdin()
        c.wait()
        assert not any("NFC" in l for l in c.err_lines), c.err_lines


def test_server_log_names_peer_of_replacing_login(ctx):
    with lib.Server(ctx) as srv:
        ok(srv.call(REGISTER, "alice"))
        srv.wait_log(r"\*\*\* alice has logged in$")
        mark = srv.log_mark()
        ok(srv.call(REGISTER, "alice"))
        srv.wait_log(r"\*\*\* alice has logged in from 127\.0\.0\.1:\d+, "
                     r"replacing", since=mark)


# -- timestamps (PROTOCOL.md §5.4; the terminal default is in test_tty) ------------

def test_timestamps_in_pipe_mode_on_request(ctx):
    with lib.Server(ctx) as srv:
        c = lib.Client(ctx, srv.port, "alice", "--timestamps")
        c.expect(r"^Welcome, alice,")
        c.expect(r"^1 user logged in: alice$")
        lib.wait_until(lambda: listed(srv) == ["alice"], 10, "alice in")
        ok(srv.call(REGISTER, "bob"))
        ok(srv.call(SAY, "bob", "hi"))
        c.expect(r"^\d\d:\d\d bob says hi$", 10)
        c.close_stdin()
        assert c.wait() == 0
        # Not by default on a pipe.
        d = lib.Client(ctx, srv.port, "dave")
        d.expect(r"^Welcome, dave,")
        lib.wait_until(lambda: "dave" in listed(srv), 10, "dave in")
        ok(srv.call(SAY, "bob", "plain"))
        d.expect(r"^bob says plain$", 10)
        d.close_stdin()
        assert d.wait() == 0


@lib.timeout(60)
def test_connection_notices_stamped_like_messages(ctx):
    """The client's own notices about the server carry the same HH:MM as
    the messages, under the same rule."""
    srv = lib.Server(ctx)
    port = srv.port
    try:
        c = lib.Client(ctx, port, "alice", "--timestamps")
        c.expect(r"^1 user logged in: alice$", 10)
        srv.stop()
        c.expect(r"^\d\d:\d\d \*\*\* cannot reach the server: .*; "
                 r"retrying$", 10)
        srv = lib.Server(ctx, port=port)
        c.expect(r"^\d\d:\d\d \*\*\* the server at localhost:%d is back; "
                 r"logged in again as alice$" % port, 20)
        c.close_stdin()
        assert c.wait() == 0
        # The client's own lines that are not notices have none.
        assert c.lines[0].startswith("Welcome, alice"), c.lines
    finally:
        if srv.running():
            srv.stop()


# -- the same at any speed of input (PROTOCOL.md §5.4, §6) -------------------------

STAMP = re.compile(r"^\d\d:\d\d ")
STARTED = r"^(\d+ users? logged in: |No users logged in)"


def unstamped(lines):
    return [STAMP.sub("", l) for l in lines]


def three_ways(ctx, port, wire, commands, user="ci"):
    """
    The client run with -c, with its input all there at once, and with its
    input sent only once the session has started (or the client is gone):
    {way: (status, stdout lines, stderr lines)}, times of day left out.
    """
    target = ":%d" % port
    runs = {}
    dash_c = [a for cmd in commands for a in ("-c", cmd)]
    rc, out, err = lib.run_cli(ctx, "--wire", wire, *dash_c, target, user,
                               timeout=20)
    runs["-c"] = (rc, out.splitlines(), err.splitlines())
    data = "".join(cmd + "\n" for cmd in commands).encode()
    rc, out, err = lib.run_cli(ctx, "--wire", wire, target, user,
                               stdin_data=data, timeout=20)
    runs["pipe"] = (rc, out.splitlines(), err.splitlines())
    c = lib.Client(ctx, port, user, wire=wire)
    lib.wait_until(lambda: c.proc.poll() is not None or
                   any(re.search(STARTED, l) for l in c.lines), 10,
                   "the session to start, or the client to leave")
    try:
        for cmd in commands:
            c.send(cmd)
    except OSError:
        pass            # it left before reading them, as the others did
    c.close_stdin()
    rc = c.wait(20)
    runs["late pipe"] = (rc, c.lines, c.err_lines)
    return {k: (rc, unstamped(out), unstamped(err))
            for k, (rc, out, err) in runs.items()}


def assert_same(runs):
    first = runs["-c"]
    for way, got in runs.items():
        assert got == first, "%s differs from -c:\n  %r\n  %r" % (
            way, got, first)
    return first


def test_same_at_any_speed_framed(ctx):
    with lib.Server(ctx, wire="framed") as srv:
        for commands, status in [(["say hi"], 0),
                                 (["say hi", "tell nobody hi"], 1)]:
            rc, out, err = assert_same(three_ways(ctx, srv.port, "auto",
                                                  commands))
            assert rc == status, (rc, out, err)
            assert out == ["Welcome, ci, contacting server at "
                           "localhost:%d" % srv.port,
                           "1 user logged in: ci", "ci says hi",
                           "Quitting: logging out ci"], out
            assert err == ["*** No such user: nobody"] * status, err


def test_same_at_any_speed_2023_server(ctx):
    """The framed probe gets 00 00; the unframed one must still be made."""
    with FakeServer(wire="unframed", gen2023=True, users=()) as fake:
        rc, out, err = assert_same(three_ways(ctx, fake.port, "auto",
                                              ["say hi"]))
        assert rc == 0, (rc, out, err)
        assert out[1:] == ["1 user logged in: ci", "ci says hi",
                           "Quitting: logging out ci"], out
        assert err == ["*** note: the server at localhost:%d speaks the "
                       "older, unframed generation of the protocol (2023); "
                       "using it" % fake.port], err
        assert fake.users == []


def test_same_at_any_speed_wire_mismatch(ctx):
    """--wire framed at a 2023 server: explained, naming --wire, each way."""
    with FakeServer(wire="unframed", gen2023=True, users=()) as fake:
        rc, out, err = assert_same(three_ways(ctx, fake.port, "framed",
                                              ["say hi"]))
        assert rc == 1, (rc, out, err)
        assert out == ["Welcome, ci, contacting server at localhost:%d"
                       % fake.port], out
        assert err == ["the server at localhost:%d speaks the unframed "
                       "generation of the protocol, not the framed one: use "
                       "--wire unframed, or leave --wire out to detect it"
                       % fake.port], err
        assert fake.users == []


def test_tell_to_nobody_fails(ctx):
    """The notice answering our own tell is that tell failing (PROTOCOL.md
    §5.4); the same notice for someone else's tell is a message."""
    with lib.Server(ctx) as srv:
        ok(srv.call(REGISTER, "bob"))
        rc, out, err = lib.run_cli(ctx, "--wire", ctx.wire,
                                   "-c", "tell nobody hi", "-c", "tell bob hi",
                                   ":%d" % srv.port, "ci", timeout=20)
        assert rc == 1, (rc, out, err)
        assert err.splitlines() == ["*** No such user: nobody"], err
        assert "No such user" not in out, out
        assert "ci tells you hi" in srv.drain("bob")
        # Tells that reach someone: status 0, nothing on stderr.
        rc, out, err = lib.run_cli(ctx, "--wire", ctx.wire,
                                   "-c", "tell bob one", "-c", "tell bob two",
                                   ":%d" % srv.port, "ci", timeout=20)
        assert (rc, err) == (0, ""), (rc, out, err)
        # A notice that answers none of ours: a message like any other.
        c = lib.Client(ctx, srv.port, "dave")
        c.expect(STARTED)
        lib.wait_until(lambda: "dave" in listed(srv), 10, "dave in")
        ok(srv.call(lib.TELL, "dave", "nobody", "x"))
        c.expect(r"^\*\*\* No such user: nobody$", 10)
        c.close_stdin()
        assert c.wait() == 0
        assert c.err_lines == [], c.err_lines
