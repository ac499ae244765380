"""
Start and stop: Shutdown, SIGTERM and SIGINT; IPv6; the command line.
"""

import re
import signal
import time

import lib
from lib import REGISTER, LIST, SAY, SHUTDOWN, ok


@lib.both_wires
def test_sigterm(ctx):
    with lib.Server(ctx) as srv:
        ok(srv.call(REGISTER, "alice"))
        assert srv.stop(signal.SIGTERM) == 0
        srv.wait_log(r"^\d\d:\d\d:\d\d shutting down( \(.*\))?$", 1)


@lib.both_wires
def test_sigint(ctx):
    with lib.Server(ctx) as srv:
        ok(srv.call(REGISTER, "alice"))
        assert srv.stop(signal.SIGINT) == 0
        srv.wait_log(r"^\d\d:\d\d:\d\d shutting down( \(.*\))?$", 1)


def test_sigterm_idle_server(ctx):
    """A server that never served anyone stops too."""
    with lib.Server(ctx) as srv:
        assert srv.stop(signal.SIGTERM) == 0


def test_shutdown_is_prompt(ctx):
    """PROTOCOL.md §3.2: stops within about 100 ms.  The bound checked here is
    loose (the machine is shared); the time is printed."""
    with lib.Server(ctx) as srv:
        t0 = time.monotonic()
        assert srv.call(SHUTDOWN) == (None, "")
        assert srv.wait(5) == 0
        secs = time.monotonic() - t0
        print("Shutdown to exit: %.3fs" % secs)
        assert secs < lib.scaled(2.0), "took %.2fs to exit" % secs


def test_shutdown_with_a_connection_in_flight(ctx):
    """A half-sent request does not keep the server alive past a bound."""
    with lib.Server(ctx) as srv:
        s = lib.connect(srv.port)
        try:
            s.sendall(lib.frame(lib.request(REGISTER, "alice"))[:4])
            assert srv.call(SHUTDOWN) == (None, "")
            assert srv.wait(5) == 0
        finally:
            s.close()


def test_after_shutdown_refuses(ctx):
    with lib.Server(ctx) as srv:
        port = srv.port
        assert srv.call(SHUTDOWN) == (None, "")
        assert srv.wait(5) == 0
    try:
        lib.call(port, LIST, timeout=2)
    except (ConnectionRefusedError, lib.ProtocolError, OSError):
        pass
    else:
        raise AssertionError("a call succeeded after Shutdown")


@lib.both_wires
def test_ipv6(ctx):
    if not lib.has_ipv6_loopback():
        lib.skip("no IPv6 loopback")
    with lib.Server(ctx) as srv:
        ok(srv.call(REGISTER, "alice", host="::1"))
        ok(srv.call(REGISTER, "bob"))
        ok(srv.call(SAY, "bob", "over v4", host="127.0.0.1"))
        assert srv.call(LIST, host="::1") == (["alice", "bob"], "")
        assert srv.drain("alice")[-1] == "bob says over v4"


def test_log_lines(ctx):
    """PROTOCOL.md §3.3: every line prefixed HH:MM:SS; the rejected request names
    the peer."""
    with lib.Server(ctx) as srv:
        ok(srv.call(REGISTER, "alice"))
        ok(srv.call(lib.QUIT, "alice"))
        srv.raw(lib.frame(b"\x00\x09"))
        srv.wait_log(r"rejected request from \S*127\.0\.0\.1\S*: unknown "
                     r"message type 9$")
        srv.wait_log(r"^\d\d:\d\d:\d\d \*\*\* alice has logged out$")
        assert srv.stop() == 0
        for line in srv.log:
            assert re.match(r"^\d\d:\d\d:\d\d ", line), line


# -- the command line ------------------------------------------------------

def test_cli_usage(ctx):
    for args in [[], ["1", "2", "3"], ["a", "b", "c", "d"]]:
        code, out, err = lib.run_cli(ctx, *args)
        assert code == 2, (args, code, err)
        assert re.search(r"usage", err, re.I), (args, err)


def test_cli_bad_options(ctx):
    for args in [["--max-users", "x", "0"], ["--max-users", "-1", "0"],
                 ["--queue-limit", "abc", "0"],
                 ["--idle-timeout", "-5", "0"], ["--idle-timeout", "1x", "0"],
                 ["--read-timeout", "", "0"], ["--max-connections", "x", "0"],
                 ["--allow-shutdown", "maybe", "0"],
                 ["--wire", "carrier-pigeon", "0"],
                 ["--wire", "auto", "0"], ["--strict", "0"],
                 ["--frobnicate", "0"], ["--max-users"],
                 ["--wire", "carrier-pigeon", ":1", "alice"]]:
        code, out, err = lib.run_cli(ctx, *args)
        assert code == 2, (args, code, out, err)
        assert err.strip(), (args, "nothing on stderr")
        assert re.search(r"usage", err, re.I), (args, err)


def test_cli_bad_port(ctx):
    for port in ["abc", "99999", "-1", "65536"]:
        code, out, err = lib.run_cli(ctx, port)
        assert code == 2, (port, code, err)


def test_cli_help(ctx):
    code, out, err = lib.run_cli(ctx, "--help")
    assert code == 0, (code, err)
    # Both command lines are shown.
    assert re.search(r"rpcchat \[options\] PORT", out), out
    assert re.search(r"rpcchat \[options\] HOST:PORT USER", out), out
    for opt in ["--max-users", "--queue-limit", "--idle-timeout",
                "--read-timeout", "--max-connections", "--allow-shutdown",
                "--wire", "--no-history", "--no-color", "--version"]:
        assert opt in out, "--help does not mention " + opt


def test_cli_version(ctx):
    code, out, err = lib.run_cli(ctx, "--version")
    assert code == 0, (code, err)
    assert re.search(r"rpcchat.*\d+\.\d+", out), out


def test_shutdown_local_over_ipv6(ctx):
    """--allow-shutdown local: ::1 is loopback too."""
    if not lib.has_ipv6_loopback():
        lib.skip("no IPv6 loopback")
    with lib.Server(ctx, "--allow-shutdown", "local") as srv:
        assert srv.call(SHUTDOWN, host="::1") == (None, "")
        assert srv.wait() == 0


@lib.both_wires
def test_shutdown_under_load(ctx):
    """Calls racing a Shutdown: each gets its whole answer or none (refused
    or reset before a byte), never a cut-off one."""
    import threading
    results = {"whole": 0, "none": 0}
    bad = []
    stop = threading.Event()
    shutting = threading.Event()
    with lib.Server(ctx) as srv:
        ok(srv.call(REGISTER, "alice"))
        req = lib.wire_request(LIST, wire=ctx.wire)

        def hammer():
            while not stop.is_set():
                data = b""
                try:
                    with lib.connect(srv.port, timeout=5) as s:
                        s.sendall(req)
                        data = lib.read_to_eof(s, 5)
                except (ConnectionRefusedError, ConnectionResetError,
                        BrokenPipeError):
                    pass
                if not data:
                    if not shutting.is_set():
                        bad.append("no answer before the Shutdown")
                    results["none"] += 1
                    if not srv.running():
                        return
                    continue
                try:
                    msg = lib.unframe(data) if ctx.wire == "framed" else data
                    assert lib.parse_response(LIST, msg) == (["alice"], "")
                    results["whole"] += 1
                except AssertionError as e:
                    bad.append("%r: %s" % (data[:40], e))

        threads = [threading.Thread(target=hammer, daemon=True)
                   for _ in range(4)]
        for t in threads:
            t.start()
        lib.wait_until(lambda: results["whole"] >= 50, 10, "50 answers")
        shutting.set()
        assert lib.call(srv.port, SHUTDOWN, wire=ctx.wire) == (None, "")
        assert srv.wait(5) == 0
        stop.set()
        for t in threads:
            t.join(lib.scaled(10))
        assert not bad, bad[:5]
        print("answered %(whole)d, refused %(none)d" % results)
