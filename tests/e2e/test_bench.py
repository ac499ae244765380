"""
rpcchat-bench against the real server and against its own responder: a
short bounded run must make every call without an error.  Nothing about
speed is asserted here; that is what `make bench` is for.
"""

import json
import re
import signal
import subprocess

import lib
from lib import LIST, REGISTER


def run_bench(ctx, port, *args):
    out = subprocess.run(
        [ctx.bench, "--wire", ctx.wire, "--json", "-q", "-n", "300", "-c",
         "8", "-u", "20", *args, ":%d" % port],
        capture_output=True, text=True, timeout=lib.scaled(30))
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@lib.both_wires
def test_bench_against_server(ctx):
    with lib.Server(ctx) as srv:
        run_bench(ctx, srv.port)
        # The server is still answering, and the bench users are there.
        users, err = srv.call(LIST)
        assert err == "" and len(users) == 20


@lib.both_wires
def test_responder_answers_every_shape(ctx):
    proc = subprocess.Popen(
        [ctx.bench, "--wire", ctx.wire, "--responder", "0"],
        stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        m = re.match(r"^\d\d:\d\d:\d\d Listening on :(\d+)$", line.strip())
        assert m, line
        port = int(m.group(1))
        run_bench(ctx, port)
        assert lib.call(port, REGISTER, "alice", wire=ctx.wire) == \
            (None, "")
        assert lib.call(port, LIST, wire=ctx.wire) == ([], "")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=lib.scaled(5)) == 0
