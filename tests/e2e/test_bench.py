"""
rpcchat-bench against the real server and against its own responder: a
short bounded run must make every call without an error.  Nothing about
speed is asserted here; that is what `make bench` is for.
"""

import json
import os
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


def test_redis_floor_keeps_the_store_contract(ctx):
    """make bench's yardstick for the Redis store, bench/redis_floor.lua,
    loaded over a front end's functions: every call of the steady mix is
    answered as the front end expects, CheckMessages with broadcasts."""
    floor = os.path.join(lib.ROOT, "bench", "redis_floor.lua")
    with lib.Redis() as redis, \
            lib.Server(ctx, "--store", redis.url) as srv:
        run_bench(ctx, srv.port, "--register-only")
        with open(floor, "rb") as f:
            assert redis.call("FUNCTION", "LOAD", "REPLACE", f.read()) == \
                b"rpcchat"
        got = run_bench(ctx, srv.port, "--no-register", "--mix",
                        "check=90,say=5,tell=4,list=1")
        assert got["run"]["errors"] == 0, got["run"]
        assert got["run"]["messages_received"] > 0, got["run"]
        assert redis.call("FCALL", "rpcchat_floor", "0") == 1
