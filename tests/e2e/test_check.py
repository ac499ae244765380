"""
rpcchat-check (PROTOCOL.md §8) against our own server and client, which
must pass; against the suite's 2023-generation server and client, which
must pass every assignment check; and against tests/check/broken_server.py
and broken_client.py, whose every switch plants one bug: exactly the checks
named below for it must fail, and only the checks that need the broken
fact may be skipped (a fresh process would break it again) — so every
check can fail, fails alone, and one fault is reported once.

Each checker run is a process of its own with ports of its own, so the
tests that make many runs make them side by side.  All are marked slow:
they do not run our binaries under the valgrind wrapper (the checker starts
them itself), so make valgrind-check skips them.
"""

import concurrent.futures
import json
import os
import shlex
import socket
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

import lib

ROOT = lib.ROOT
CHECKER = os.path.join(ROOT, "check", "rpcchat-check")
BROKEN_SERVER = os.path.join(ROOT, "tests", "check", "broken_server.py")
BROKEN_CLIENT = os.path.join(ROOT, "tests", "check", "broken_client.py")

# Check names, as rpcchat-check prints them.
ONE_CALL = "serving: one call per connection, closed after the response"
REG_BYTES = "register: response bytes"
SAY_BYTES = "say: response bytes"
TELL_BYTES = "tell: response bytes"
QUIT_BYTES = "quit: response bytes"
CHECK_BYTES = "checkmessages: response bytes"
LIST_BYTES = "list: response bytes"
REG_UNICODE = "register: Unicode letters and digits accepted, 20 bytes"
REG_LENGTH = "register: length 1-20 bytes, and its error text"
REG_LETTERS = "register: only letters and digits, and its error text"
REG_REFUSED = "register: a refused Register changes nothing"
LOGIN_NOTICE = ("register: login notice to every other user at every "
                "Register, not the user")
REREGISTER = "register: registering again resets the queue"
REG_AFTER_QUIT = "register: Register after Quit starts with an empty queue"
SORTED = "list: sorted"
ORDER = "checkmessages: the queue in order, then emptied"
NOT_IN = "checkmessages: not logged in text"
TELL_TEXT = "tell: the text to the target only"
TELL_UNKNOWN = "tell: unknown target notifies the sender"
SAY = "say: to everyone, the sender included"
QUIT_NOTICE = "quit: notice to the others"
QUIT_LIST = "quit: the user gone from List"
QUIT_DISCARDS = "quit: the user's queue is discarded"
MANY = "serving: many clients at once"
NOT_LOGGED = "not logged in: Say, Tell, Quit refused"
CHECK_INVALID = "checkmessages: invalid name error"
NUL = "strings: NUL and any byte survive"
TOO_LONG = "limits: message too long"
SPLIT = "limits: CheckMessages larger than one frame"
QUEUE = "limits: queue of 10000 messages, then a drop notice"
TOO_MANY = "limits: Register refused when List would not fit"
SILENT = "serving: a silent connection does not block others"
IDLE = "limits: idle timeout"
EMPTY_CONN = "robustness: connection without a request"
MAL_SURVIVE = "robustness: malformed requests do not kill the server"
MAL_ANSWERED = "robustness: malformed request answered with an error"
LEFT_OVER = "malformed: bytes left over after the arguments"
MAL_SHAPE = "malformed: a request cut short answered in its call's shape"
UNKNOWN = "malformed: unknown type and short frame"
SHUT_ANSWERED = "shutdown: answered"
SHUT_GONE = "shutdown: server gone within about a second"
SHUT_EXIT0 = "shutdown: exit status 0"

# The checks that make thousands of calls are slow against a Python
# server: left out unless the bug is about them.
SLOW = {TOO_MANY, QUEUE}
# Recommended and always skipped: the idle timeout cannot be set short.
ALWAYS_SKIPPED = {IDLE}
FRAMED_ONLY = {TOO_LONG, SPLIT, TOO_MANY, LEFT_OVER}

# What needs a working Register, a working List (the facts of the byte
# checks): skipped, never failed again, when it is broken.
NEEDS_REGISTER = {
    SAY_BYTES, TELL_BYTES, QUIT_BYTES, CHECK_BYTES, LIST_BYTES, REG_UNICODE,
    REG_LENGTH, REG_LETTERS, REG_REFUSED, LOGIN_NOTICE, REREGISTER,
    REG_AFTER_QUIT, SORTED, ORDER, NOT_IN, TELL_TEXT, TELL_UNKNOWN, SAY,
    QUIT_NOTICE, QUIT_LIST, QUIT_DISCARDS, MANY, NOT_LOGGED, CHECK_INVALID,
    NUL, TOO_LONG, SPLIT, SILENT, MAL_ANSWERED, LEFT_OVER, MAL_SHAPE,
    UNKNOWN, SHUT_ANSWERED} | SLOW
NEEDS_LIST = {REG_REFUSED, SORTED, QUIT_LIST, TOO_MANY}
MALFORMED_AFTER_CRASH = {MAL_ANSWERED, LEFT_OVER, MAL_SHAPE, UNKNOWN}

# (switches, wire, the checks that must fail, those that may be skipped).
# wire None: the checker finds it (PROTOCOL.md §6).  Each switch runs on
# one wire unless the wire matters; both are covered across the list.
SERVER_RUNS = [
    ([], "framed", set(), set()),
    ([], None, set(), set()),           # unframed, found by the probe
    (["--wire", "unframed"], None, set(), set()),
    # The 2023 reference: every assignment check passes; the recommended
    # ones of PROTOCOL.md §3.3 fail, as they must.
    (["--like-2023"], None, {NOT_LOGGED, CHECK_INVALID, MAL_SHAPE}, set()),
    (["--no-error-string-on-list"], "unframed", {LIST_BYTES}, set()),
    # The frame of a 65529-byte message plus two stray bytes overflows.
    (["--check-four-zero-bytes"], "framed", {CHECK_BYTES, TOO_LONG}, set()),
    (["--register-error-length-twice"], "unframed", {REG_LENGTH}, set()),
    (["--double-error-on-tell"], "framed", {TELL_BYTES}, set()),
    (["--list-no-count"], "framed", {LIST_BYTES}, NEEDS_LIST),
    (["--nul-strings"], "framed", {REG_BYTES}, NEEDS_REGISTER),
    (["--doubled-length"], None, {REG_BYTES}, NEEDS_REGISTER),
    (["--unsorted-list"], "unframed", {SORTED}, set()),
    (["--notice-to-sender"], "framed", {LOGIN_NOTICE}, set()),
    (["--reregister-no-notice"], "unframed", {LOGIN_NOTICE}, set()),
    (["--reregister-keeps-queue"], "framed", {REREGISTER}, set()),
    (["--refused-register-adds-user"], "unframed", {REG_REFUSED}, set()),
    (["--quit-register-old-queue"], "framed", {REG_AFTER_QUIT}, set()),
    (["--length-in-characters"], "unframed", {REG_LENGTH}, set()),
    (["--ascii-names-only"], "framed", {REG_UNICODE}, set()),
    (["--any-name"], "unframed", {REG_LETTERS}, set()),
    (["--reversed-queue"], "framed", {ORDER}, set()),
    (["--not-logged-in-text"], "unframed", {NOT_IN}, set()),
    (["--tell-unknown-silent"], "framed", {TELL_UNKNOWN}, set()),
    (["--tell-text"], "unframed", {TELL_TEXT}, set()),
    (["--say-not-to-sender"], "framed", {SAY}, set()),
    (["--no-logout-notice"], "unframed", {QUIT_NOTICE}, set()),
    # Still logged in, it still has its queue: that is List's to say.
    (["--quit-keeps-user"], "framed", {QUIT_LIST}, {QUIT_DISCARDS}),
    (["--quit-keeps-queue"], "unframed", {QUIT_DISCARDS}, set()),
    (["--serial"], "framed", {SILENT}, set()),
    (["--keep-open"], "unframed", {ONE_CALL}, set()),
    (["--several-calls"], "framed", {ONE_CALL}, set()),
    (["--answer-at-eof"], "unframed", {ONE_CALL}, set()),
    (["--drip"], "framed", {ONE_CALL}, set()),
    (["--crash-on-empty-connection"], "unframed", {EMPTY_CONN}, set()),
    # Every malformed request kills it: blamed once, the rest skipped.
    (["--crash-on-malformed"], "framed", {MAL_SURVIVE},
     MALFORMED_AFTER_CRASH),
    # Unframed, the framed probe of §6 kills it too: the checker starts
    # it again and finds the generation all the same.  (An unknown type
    # it closes, as the 2023 reference does: no crash.)
    (["--wire", "unframed", "--crash-on-malformed"], None, {MAL_SURVIVE},
     MALFORMED_AFTER_CRASH - {UNKNOWN}),
    (["--malformed-no-error"], "unframed", {MAL_ANSWERED}, set()),
    (["--left-over-ignored"], "framed", {LEFT_OVER}, set()),
    # Unframed, closing is what the 2023 reference does: framed only.
    (["--unknown-type-close"], "framed", {UNKNOWN}, set()),
    (["--shutdown-never-stops"], "unframed", {SHUT_GONE}, {SHUT_EXIT0}),
    (["--shutdown-never-closes"], "framed", {SHUT_GONE}, {SHUT_EXIT0}),
    (["--shutdown-unanswered"], "unframed", {SHUT_ANSWERED}, set()),
    (["--shutdown-exit-1"], "framed", {SHUT_EXIT0}, set()),
    (["--no-not-logged-in-errors"], "unframed", {NOT_LOGGED}, set()),
    (["--no-message-limit"], "framed", {TOO_LONG}, set()),
    (["--no-split"], "framed", {SPLIT}, set()),
    (["--no-user-limit"], "framed", {TOO_MANY}, set()),
    (["--no-queue-limit"], "unframed", {QUEUE}, set()),
    (["--hostile-errors"], "framed", {REG_LENGTH, REG_LETTERS, NOT_LOGGED,
                                      CHECK_INVALID, TOO_LONG}, set()),
    (["--hostile-log", "--crash-on-empty-connection"], "framed",
     {EMPTY_CONN}, set()),
]

C_REGISTER = "client: Register with the user's name first"
C_POLL = "client: CheckMessages about once a second"
C_TELL = "client: tell sends Tell(user, target, message)"
C_SAY = "client: say sends Say(user, message)"
C_LIST = "client: list sends List and shows the users"
C_EMPTY = "client: an empty line sends nothing"
C_UNKNOWN = "client: an unknown command prints something, sends nothing"
C_ERROR = "client: a server error string is shown"
C_QUIT = "client: quit sends Quit, then the process ends"
C_SHUTDOWN = "client: shutdown sends Shutdown, then the process ends"
C_SHOWS = "client: messages are shown"
C_SPACES = "client: inner spaces of a message kept byte for byte"
C_HELP = "client: help lists the commands"
C_FAILPOLL = "client: a failed poll does not end the client"
C_EOF = "client: end of input logs out"
C_PROBE = "client: nothing but List before Register"
CLIENT_ALL = {C_REGISTER, C_POLL, C_TELL, C_SAY, C_LIST, C_EMPTY, C_UNKNOWN,
              C_ERROR, C_QUIT, C_SHUTDOWN, C_SHOWS, C_SPACES, C_HELP,
              C_FAILPOLL, C_EOF, C_PROBE}

CLIENT_RUNS = [
    ([], "framed", set(), set()),
    ([], "unframed", set(), set()),
    # The 2023 reference client exits when a poll fails: recommended only,
    # and the checks after it run on a fresh client.
    (["--like-2023"], "unframed", {C_FAILPOLL}, set()),
    (["--no-quit-at-eof"], "framed", {C_EOF}, set()),
    (["--collapse-spaces"], "unframed", {C_SPACES}, set()),
    # Without polls nothing can be shown and no poll can fail.
    (["--no-polling"], "framed", {C_POLL}, {C_SHOWS, C_FAILPOLL}),
    (["--poll-too-fast"], "unframed", {C_POLL}, set()),
    # A CheckMessages made as the user before Register is that rule's.
    (["--poll-before-register"], "framed", {C_REGISTER}, set()),
    (["--probe-with-checkmessages"], "unframed", {C_PROBE}, set()),
    # The inner-spaces check types a tell too; the order of its
    # arguments is the tell check's.
    (["--tell-swapped"], "framed", {C_TELL}, set()),
    (["--list-not-shown"], "unframed", {C_LIST}, set()),
    (["--empty-line-sends"], "framed", {C_EMPTY}, set()),
    (["--unknown-silent"], "unframed", {C_UNKNOWN}, set()),
    (["--unknown-sends-say"], "framed", {C_UNKNOWN}, set()),
    (["--error-hidden"], "unframed", {C_ERROR}, set()),
    (["--exit-on-failed-poll"], "framed", {C_FAILPOLL}, set()),
    # It exits right after it printed the error: that step's fault, and
    # the next checks run on a fresh client.
    (["--exit-on-error"], "unframed", {C_ERROR}, set()),
    (["--quit-without-quit"], "framed", {C_QUIT}, set()),
    (["--quit-hangs"], "unframed", {C_QUIT}, set()),
    (["--shutdown-no-exit"], "framed", {C_SHUTDOWN}, set()),
    (["--no-help"], "unframed", {C_HELP}, set()),
    (["--messages-hidden"], "framed", {C_SHOWS}, set()),
    # It dies of its first poll, and so does a fresh one: one failure.
    (["--no-list-count"], "unframed", {C_POLL},
     CLIENT_ALL - {C_REGISTER, C_PROBE, C_POLL}),
    (["--hostile-output"], "framed", {C_HELP}, set()),
]


def run_checker(*args, timeout=300, junit=None):
    """(exit status, report) of rpcchat-check --json ARGS."""
    cmd = [sys.executable, CHECKER, "--json"] + list(args)
    if junit:
        cmd += ["--junit", junit]
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True,
                           timeout=lib.scaled(timeout))
    except subprocess.TimeoutExpired:
        raise AssertionError("%s did not finish within %ds"
                             % (" ".join(cmd), lib.scaled(timeout)))
    try:
        report = json.loads(p.stdout)
    except ValueError:
        raise AssertionError("no JSON report from %s (exit %d):\n%s\n%s"
                             % (" ".join(cmd), p.returncode, p.stdout[-3000:],
                                p.stderr[-3000:]))
    return p.returncode, report


def with_status(report, status, group=None):
    return {c["name"] for c in report["checks"] if c["status"] == status
            and (group is None or c["group"] == group)}


def failed(report, group=None):
    return with_status(report, "FAIL", group)


def skipped(report):
    return with_status(report, "SKIP") - ALWAYS_SKIPPED


def details(report):
    return "\n".join("%s %s: %s" % (c["status"], c["name"],
                                    c.get("why") or c.get("note") or "")
                     for c in report["checks"] if c["status"] != "PASS") \
        or report.get("error") or ""


def expected_status(report):
    if failed(report, "assignment"):
        return 1
    return 3 if with_status(report, "SKIP", "assignment") else 0


def leave_out(names):
    return [a for n in sorted(names) for a in ("-x", n)]


def py(path, *args):
    return " ".join(shlex.quote(a) for a in [sys.executable, path] +
                    list(args))


def rpcchat(ctx, *args):
    return " ".join(shlex.quote(a) for a in [ctx.rpcchat] + list(args))


def side_by_side(fn, items, workers):
    """fn(item) for every item, a few at a time; the problems found."""
    problems = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as ex:
        for problem in ex.map(fn, items):
            if problem:
                problems.append(problem)
    return problems


# -- our own server and client pass -------------------------------------------

@lib.slow
@lib.both_wires
def test_our_server_passes(ctx):
    """Without --wire: the checker finds the generation, runs everything
    and all of it passes; the JUnit report says the same."""
    with tempfile.TemporaryDirectory(prefix="i21-check-") as d:
        junit = os.path.join(d, "report.xml")
        rc, rep = run_checker("--server-cmd", rpcchat(ctx, "--wire", ctx.wire,
                                                      "{port}"), junit=junit)
        assert failed(rep) == set(), details(rep)
        assert rc == 0, rep["summary"]
        assert rep["wire"] == ctx.wire, rep["wire_found_by"]
        assert skipped(rep) == set(), details(rep)
        suite = ET.parse(junit).getroot().find("testsuite")
        cases = suite.findall("testcase")
        assert len(cases) == len(rep["checks"])
        assert [c.get("name") for c in cases if c.find("skipped")
                is not None] == [IDLE]
        assert suite.get("failures") == "0"


@lib.slow
@lib.both_wires
def test_our_server_at_an_address(ctx):
    """A shared, live server: only harmless checks, the rest said skipped
    (exit status 3, and the last line says why), and the server left
    running and tidy."""
    with lib.Server(ctx) as srv:
        lib.ok(srv.call(lib.REGISTER, "bystander"))
        rc, rep = run_checker("--wire", ctx.wire, "127.0.0.1:%d" % srv.port)
        assert failed(rep) == set(), details(rep)
        skips = with_status(rep, "SKIP")
        for name in (SHUT_ANSWERED, SHUT_GONE, EMPTY_CONN, MAL_ANSWERED):
            assert name in skips, (name, skips)
        assert rc == 3, rep["summary"]
        n = len(with_status(rep, "SKIP", "assignment"))
        assert "; %d assignment checks were skipped: " % n in rep["summary"]
        assert "--server-cmd" in rep["summary"], rep["summary"]
        assert srv.running()
        # It logged out every user it logged in.
        assert srv.call(lib.LIST) == (["bystander"], "")


@lib.slow
@lib.both_wires
def test_our_client_passes(ctx):
    """Our client with the wire given: every check, both groups."""
    rc, rep = run_checker("--wire", ctx.wire, "--client-cmd",
                          rpcchat(ctx, "--wire", ctx.wire, ":{port}",
                                  "{user}"))
    assert failed(rep) == set(), details(rep)
    assert skipped(rep) == set(), details(rep)
    assert rc == 0


@lib.slow
def test_our_client_finds_an_unframed_server(ctx):
    """PROTOCOL.md §6: the client's default wire (auto) probes, sees the 2023
    answer 00 00 and speaks unframed."""
    rc, rep = run_checker("--wire", "unframed", "--client-cmd",
                          rpcchat(ctx, ":{port}", "{user}"))
    assert failed(rep) == set(), details(rep)
    assert rc == 0


# -- every check can fail, alone ----------------------------------------------

def judge(what, flags, rc, rep, want, want_skips):
    """What is wrong with one run's report, or None."""
    if rep.get("error"):
        return "%s: could not run: %s" % (what, rep["error"])
    got, skips = failed(rep), skipped(rep)
    if got != want or skips != want_skips:
        return "%s: failed %s and skipped %s, not %s and %s\n%s" % (
            what, sorted(got), sorted(skips), sorted(want),
            sorted(want_skips), details(rep))
    if rc != expected_status(rep):
        return "%s: exit status %d" % (what, rc)
    if "--like-2023" in flags and rc != 0:
        return "%s: not every assignment check ran and passed" % what
    return None


def server_run(run):
    flags, wire, want, may_skip = run
    args = leave_out(SLOW - want)
    if wire:
        args = ["--wire", wire] + args
        flags = ["--wire", wire] + flags
    rc, rep = run_checker(*args, "--server-cmd", py(BROKEN_SERVER, *flags,
                                                    "{port}"))
    want_skips = may_skip - want - (SLOW - want)
    if rep.get("wire") != "framed":
        want_skips -= FRAMED_ONLY
    return judge("%s (%s)" % (" ".join(flags) or "no bug", wire or "found"),
                 flags, rc, rep, want, want_skips)


def client_run(run):
    flags, wire, want, may_skip = run
    rc, rep = run_checker("--wire", wire, "--client-cmd", py(
        BROKEN_CLIENT, "--wire", wire, *flags, ":{port}", "{user}"))
    return judge("%s (%s)" % (" ".join(flags) or "no bug", wire), flags, rc,
                 rep, want, may_skip)


def runs_test(name, what, run, runs, workers):
    """A test of several runs side by side."""
    def test(ctx):
        problems = side_by_side(run, runs, workers)
        assert problems == [], "\n".join(problems)
    test.__name__ = name
    test.__doc__ = "The broken %s's switches: %s." % (what, ", ".join(
        " ".join(r[0]) or "none" for r in runs))
    test.timeout = 420
    test.slow = True
    globals()[name] = test


# Six tests of runs taken in turn from the list, so that the slow ones
# (the connections kept open, the serial server) spread over them.  The
# client runs mostly wait for the client: many at once.
for _i in range(6):
    runs_test("test_broken_servers_%d" % (_i + 1), "server", server_run,
              SERVER_RUNS[_i::6], workers=3)
for _i in range(2):
    runs_test("test_broken_clients_%d" % (_i + 1), "client", client_run,
              CLIENT_RUNS[_i::2], workers=7)


# -- what cannot run says so once, at once ------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@lib.slow
def test_what_cannot_run_is_one_error(ctx):
    """A server command that does not exist, exits or never listens, a
    client command that does not exist or exits at once, an address where
    nobody listens: one error, exit status 2, at once (the start timeout
    given), not a failure per check; the JUnit report holds the error."""
    exits = py(os.path.join(ROOT, "tests", "check", "switches.py"))
    cases = [
        (["--server-cmd", "./no-such-server {port}"], "cannot run the server"),
        (["--server-cmd", py(BROKEN_SERVER, "--cannot-start", "{port}")],
         "exited with status 1 before it listened"),
        (["--start-timeout", "2", "--server-cmd",
          py(BROKEN_SERVER, "--never-listens", "{port}")],
         "did not listen on port"),
        (["--client-cmd", "./no-such-client :{port} {user}"],
         "cannot run the client"),
        (["--client-cmd", exits + " :{port} {user}"],
         "exited with status 0 before it sent any request"),
        (["127.0.0.1:%d" % free_port()], "cannot connect"),
    ]

    def one(case):
        args, words = case
        with tempfile.TemporaryDirectory(prefix="i21-check-") as d:
            junit = os.path.join(d, "r.xml")
            start = time.monotonic()
            p = subprocess.run([sys.executable, CHECKER, "--junit", junit] +
                               args, stdin=subprocess.DEVNULL,
                               capture_output=True, text=True,
                               timeout=lib.scaled(60))
            took = time.monotonic() - start
            lines = p.stdout.splitlines()
            said = [l for l in lines
                    if l.startswith("rpcchat-check: could not run: ")]
            if p.returncode != 2 or len(said) != 1 or \
                    words not in p.stdout or any(
                        l.split(" ")[0] in ("PASS", "FAIL", "SKIP")
                        for l in lines):
                return "%s: exit %d\n%s%s" % (args, p.returncode, p.stdout,
                                              p.stderr)
            if took > lib.scaled(30):
                return "%s: %.0f s" % (args, took)
            errors = ET.parse(junit).getroot().iter("error")
            if [e.get("type") for e in errors] != ["could not run"]:
                return "%s: JUnit without the error" % args
        return None
    problems = side_by_side(one, cases, workers=3)
    assert problems == [], "\n".join(problems)


# -- the report ---------------------------------------------------------------

HOSTILE_BYTES = [b"\x1b", b"\x00", b"\x9b", b"\xff", b"\xe2\x80\xae"]


@lib.slow
def test_what_the_program_prints_is_escaped(ctx):
    """A server whose log and error strings, and a client whose output,
    hold escape sequences, NUL, C1 controls, bytes that are not UTF-8 and a
    bidi override: the report shows them escaped (PROTOCOL.md §5.4), and
    the JUnit XML is valid XML 1.0 all the same."""
    runs = [
        ["-x", "limits", "--server-cmd", py(
            BROKEN_SERVER, "--hostile-log", "--hostile-errors",
            "--crash-on-empty-connection", "{port}")],
        ["-k", "help", "--client-cmd", py(BROKEN_CLIENT, "--hostile-output",
                                          ":{port}", "{user}")],
    ]

    def one(args):
        with tempfile.TemporaryDirectory(prefix="i21-check-") as d:
            junit = os.path.join(d, "r.xml")
            p = subprocess.run([sys.executable, CHECKER, "--junit", junit] +
                               args, stdin=subprocess.DEVNULL,
                               capture_output=True, timeout=lib.scaled(300))
            out = p.stdout
            if p.returncode not in (0, 1):
                return "%s: exit %d\n%r" % (args, p.returncode, out[-2000:])
            for bad in HOSTILE_BYTES:
                if bad in out:
                    return "%s: %r in the report:\n%r" % (args, bad, out)
            try:
                out.decode("utf-8")
            except UnicodeDecodeError as e:
                return "%s: the report is not UTF-8: %s" % (args, e)
            if b"^[[2J" not in out or b"<U+202E>" not in out or \
                    b"\\x9B" not in out:
                return "%s: the escaped bytes are not shown:\n%s" % (
                    args, out.decode())
            # Valid XML 1.0 whatever was printed: it parses.
            root = ET.parse(junit).getroot()
            text = "".join(f.text or "" for f in root.iter("failure"))
            if "^[[2J" not in text:
                return "%s: the failure text is not in the JUnit report" % (
                    args)
        return None
    problems = side_by_side(one, runs, workers=2)
    assert problems == [], "\n".join(problems)


@lib.slow
def test_text_report(ctx):
    """The report people read: what was used, a line per check, the rule
    with its section of PROTOCOL.md, the assignment's words, the cause in
    the protocol's words, then sent, received and expected decoded and in
    hex, the closing count, the exit status."""
    cmd = [sys.executable, CHECKER, "-k", TELL_BYTES, "-k", SAY,
           "--server-cmd", py(BROKEN_SERVER, "--double-error-on-tell",
                              "{port}")]
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=lib.scaled(120))
    lines = p.stdout.splitlines()
    assert p.returncode == 1, p.stdout
    assert lines[0].startswith("rpcchat-check "), lines
    assert "framed generation (it answered the framed List probe" in lines[0]
    assert lines[1].startswith("references: PROTOCOL.md §N.M is a section "
                               "of docs/PROTOCOL.md"), lines[1]
    assert lines[2] == "FAIL assignment  " + TELL_BYTES, lines
    assert lines[3].startswith("     rule: A successful Tell is answered")
    assert lines[3].endswith("(PROTOCOL.md §2.3)"), lines[3]
    assert lines[4].startswith('     assignment: "The server stub always')
    assert lines[5].startswith("     what happened: Tell("), lines[5]
    assert lines[5].endswith("the Tell response has its error string twice"), \
        lines[5]
    assert lines[6].startswith('     sent:     Tell("'), lines[6]
    assert lines[7].startswith("               00 "), lines[7]
    assert lines[8] == '     received: error "", then 2 more bytes', lines[8]
    assert lines[9] == "               00 04 00 00 00 00", lines[9]
    assert lines[10] == '     expected: error ""', lines[10]
    assert lines[11] == "               00 02 00 00", lines[11]
    assert lines[12] == "PASS assignment  " + SAY, lines
    assert lines[-1] == "1 passed, 1 failed", lines
    assert "SPEC" not in p.stdout


@lib.slow
def test_the_whole_run_has_a_deadline(ctx):
    """--timeout bounds the run: what did not run is skipped, saying why,
    and the run ends soon after the deadline."""
    start = time.monotonic()
    rc, rep = run_checker("--timeout", "3", "--server-cmd",
                          py(BROKEN_SERVER, "--serial", "{port}"))
    took = time.monotonic() - start
    notes = [c.get("note") or c.get("why") or "" for c in rep["checks"]
             if c["status"] != "PASS"]
    assert any("deadline" in n for n in notes), details(rep)
    assert rc in (1, 3), rc
    assert took < lib.scaled(30), took
